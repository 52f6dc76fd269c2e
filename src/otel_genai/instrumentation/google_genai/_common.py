"""What every ``google-genai`` API family shares: the client's provider and server, the ``config``
reader, token usage, finish reasons, and the conversion of Gemini ``Content`` / ``Part`` shapes
(SDK models or the dicts the SDK accepts in their place) into semconv v1.41.1 message parts.

Sources: the ``google-genai`` SDK's types (``google.genai.types``: ``Content``, ``Part``,
``GenerateContentConfig``, ``GenerateContentResponseUsageMetadata``, ``FinishReason``) and the
semantic conventions v1.41.1 (GenAI spans; the input/output-message, system-instruction and
tool-definition JSON schemas vendored in ``tests/schemas/``).
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

from ...semconv import attributes as A
from ...semconv import messages as P
from ...semconv.usage import TokenUsage

# --- the client ---------------------------------------------------------------------------------------
_DEFAULT_PORTS = {"https": 443, "http": 80}


class GeminiClients:
    """Per-instrument state: the client attributes cached per ``(base_url, vertexai)``."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, bool], dict[str, Any]] = {}

    def client_attributes(self, api_client: Any) -> dict[str, Any]:
        """``gen_ai.provider.name`` (``gcp.vertex_ai`` for ``vertexai=True``, else ``gcp.gemini``),
        ``server.address`` / ``server.port`` of the base URL the client really uses
        (``http_options.base_url``: the SDK's default host, or the user's, e.g. an AI gateway).
        Shared (cached), do not mutate; ``{}`` for an object that is not an SDK ``BaseApiClient``."""
        if api_client is None:
            return {}
        vertexai = bool(getattr(api_client, "vertexai", False))
        options = getattr(api_client, "_http_options", None)
        base_url = getattr(options, "base_url", None)
        key = (base_url, vertexai)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        attrs: dict[str, Any] = {
            A.GEN_AI_PROVIDER_NAME: A.GenAIProviderName.GCP_VERTEX_AI if vertexai else A.GenAIProviderName.GCP_GEMINI
        }
        if isinstance(base_url, str) and base_url:
            parts = urlsplit(base_url)
            if parts.hostname:
                attrs[A.SERVER_ADDRESS] = parts.hostname
                port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
                if port:
                    attrs[A.SERVER_PORT] = port
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[key] = attrs
        return attrs


# --- reading ``config`` ---------------------------------------------------------------------------------
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


_CAMEL: dict[str, str] = {}


def field(obj: Any, name: str) -> Any:
    """``obj.name`` of an SDK model; for a dict (the SDK accepts dicts for every model, with snake or
    camel-case keys) ``obj[name]`` or ``obj[camelName]``; ``None`` if absent."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        value = obj.get(name)
        if value is None:
            camel = _CAMEL.get(name)
            if camel is None:
                camel = _CAMEL[name] = _camel(name)
            value = obj.get(camel)
        return value
    return getattr(obj, name, None)


# (config field, attribute): copied when the value is a plain int/float/str
_CONFIG_PARAMS = (
    ("temperature", A.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", A.GEN_AI_REQUEST_TOP_P),
    ("max_output_tokens", A.GEN_AI_REQUEST_MAX_TOKENS),
    ("seed", A.GEN_AI_REQUEST_SEED),
    ("presence_penalty", A.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("frequency_penalty", A.GEN_AI_REQUEST_FREQUENCY_PENALTY),
)

#: ``response_mime_type`` -> ``gen_ai.output.type``
OUTPUT_TYPES = {
    "application/json": A.GenAIOutputType.JSON,
    "text/plain": A.GenAIOutputType.TEXT,
    "text/x.enum": A.GenAIOutputType.TEXT,
}


def config_attributes(config: Any, attrs: dict[str, Any]) -> None:
    """The request parameters of a ``GenerateContentConfig`` (or its dict) into ``attrs``:
    temperature, top_p, top_k (a double, as semconv types it), max_output_tokens ->
    ``gen_ai.request.max_tokens``, stop_sequences, seed, candidate_count ->
    ``gen_ai.request.choice.count`` (only when != 1, as semconv asks), presence/frequency penalties,
    ``response_mime_type`` (or a ``response_schema``) -> ``gen_ai.output.type``."""
    if config is None:
        return
    for name, attribute in _CONFIG_PARAMS:
        value = field(config, name)
        if type(value) in (int, float) or (type(value) is str and attribute == A.GEN_AI_REQUEST_SEED):
            attrs[attribute] = value
    top_k = field(config, "top_k")
    if type(top_k) in (int, float):
        attrs[A.GEN_AI_REQUEST_TOP_K] = float(top_k)
    stop = P_stop(field(config, "stop_sequences"))
    if stop:
        attrs[A.GEN_AI_REQUEST_STOP_SEQUENCES] = stop
    count = field(config, "candidate_count")
    if type(count) is int and count != 1:
        attrs[A.GEN_AI_REQUEST_CHOICE_COUNT] = count
    mime = field(config, "response_mime_type")
    if isinstance(mime, str):
        output_type = OUTPUT_TYPES.get(mime)
        if output_type:
            attrs[A.GEN_AI_OUTPUT_TYPE] = output_type
    elif field(config, "response_schema") is not None or field(config, "response_json_schema") is not None:
        attrs[A.GEN_AI_OUTPUT_TYPE] = A.GenAIOutputType.JSON


def P_stop(stop: Any) -> list[str] | None:  # noqa: N802 - mirrors _core.params.stop_sequences
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, (list, tuple)) and stop and all(isinstance(s, str) for s in stop):
        return list(stop)
    return None


# --- usage ----------------------------------------------------------------------------------------------
def usage_from(usage: Any) -> TokenUsage | None:
    """``usage_metadata`` (``GenerateContentResponseUsageMetadata``) -> normal form.

    * input = ``prompt_token_count`` (it already counts the cached tokens) + ``tool_use_prompt_token_count``
      (the results of server-side tool use fed back as prompt; reported apart, so counted once here);
    * ``cached_content_token_count`` -> cache read (a part of the input);
    * output = ``candidates_token_count`` + ``thoughts_token_count`` (Gemini reports thinking apart from
      the candidates); ``thoughts_token_count`` -> reasoning output.

    So input + output = ``total_token_count``. ``None`` when the response carries no usage."""
    if usage is None:
        return None
    prompt = field(usage, "prompt_token_count")
    tool_use = field(usage, "tool_use_prompt_token_count")
    candidates = field(usage, "candidates_token_count")
    thoughts = field(usage, "thoughts_token_count")
    input_tokens = None
    if type(prompt) is int or type(tool_use) is int:
        input_tokens = (prompt if type(prompt) is int else 0) + (tool_use if type(tool_use) is int else 0)
    output_tokens = None
    if type(candidates) is int or type(thoughts) is int:
        output_tokens = (candidates if type(candidates) is int else 0) + (thoughts if type(thoughts) is int else 0)
    if input_tokens is None and output_tokens is None:
        return None
    return TokenUsage(
        input_tokens,
        output_tokens,
        cache_read_input_tokens=field(usage, "cached_content_token_count"),
        reasoning_output_tokens=thoughts,
    )


# --- finish reasons -------------------------------------------------------------------------------------
_FINISH_REASONS = {
    "STOP": A.GenAIFinishReason.STOP,
    "MAX_TOKENS": A.GenAIFinishReason.LENGTH,
    "SAFETY": A.GenAIFinishReason.CONTENT_FILTER,
    "RECITATION": A.GenAIFinishReason.CONTENT_FILTER,
    "BLOCKLIST": A.GenAIFinishReason.CONTENT_FILTER,
    "PROHIBITED_CONTENT": A.GenAIFinishReason.CONTENT_FILTER,
    "SPII": A.GenAIFinishReason.CONTENT_FILTER,
    "IMAGE_SAFETY": A.GenAIFinishReason.CONTENT_FILTER,
    "IMAGE_PROHIBITED_CONTENT": A.GenAIFinishReason.CONTENT_FILTER,
    "IMAGE_RECITATION": A.GenAIFinishReason.CONTENT_FILTER,
    "MALFORMED_FUNCTION_CALL": A.GenAIFinishReason.ERROR,
    "UNEXPECTED_TOOL_CALL": A.GenAIFinishReason.ERROR,
}


def finish_reason(reason: Any, has_tool_call: bool = False) -> str | None:
    """A candidate's ``FinishReason`` as a semconv finish reason: ``STOP`` -> ``stop`` (``tool_call``
    when the candidate asks for function calls: Gemini says ``STOP`` for those too), ``MAX_TOKENS`` ->
    ``length``, the safety / recitation / blocklist family -> ``content_filter``, a malformed or
    unexpected tool call -> ``error``; any other value is kept as the API sent it (``OTHER``,
    ``LANGUAGE``, ...). ``None`` when there is none."""
    if reason is None:
        return None
    raw = getattr(reason, "value", reason)
    if not isinstance(raw, str) or not raw:
        return None
    mapped = _FINISH_REASONS.get(raw, raw)
    if mapped == A.GenAIFinishReason.STOP and has_tool_call:
        return A.GenAIFinishReason.TOOL_CALL
    return mapped


# --- content --------------------------------------------------------------------------------------------
def _modality(mime_type: Any) -> str:
    """The semconv modality of a MIME type: image, video, audio; anything else: the MIME type's top level
    (``application``, ``text``), or ``document`` when unknown."""
    if isinstance(mime_type, str) and "/" in mime_type:
        top = mime_type.split("/", 1)[0]
        return top
    return "document"


def _is_file_api_uri(uri: str) -> bool:
    """A Gemini Files API resource (``files/abc`` or ``https://generativelanguage.googleapis.com/.../files/abc``):
    a provider-side file id, not a URL anyone can fetch."""
    return uri.startswith("files/") or ("googleapis.com/" in uri and "/files/" in uri)


def part_to_semconv(part: Any, keep_blobs: bool) -> dict[str, Any] | None:
    """One Gemini ``Part`` (model or dict) as a semconv part: ``text`` (``reasoning`` when ``thought``),
    ``inline_data`` -> ``blob`` (base64; blanked unless ``keep_blobs``), ``file_data`` -> ``file``
    (a Files API resource) or ``uri``, ``function_call`` -> ``tool_call``, ``function_response`` ->
    ``tool_call_response``, executable code / its result -> generic parts of those types, an
    uploaded ``types.File`` (``files/...``) -> ``file``. A ``str`` is a text part. ``None`` for a part that carries nothing (a bare thought signature)."""
    if isinstance(part, str):
        return P.text_part(part)
    text = field(part, "text")
    if isinstance(text, str):
        if field(part, "thought"):
            return P.reasoning_part(text)
        return P.text_part(text)
    call = field(part, "function_call")
    if call is not None:
        return P.tool_call_part(field(call, "id"), field(call, "name"), _plain(field(call, "args")))
    response = field(part, "function_response")
    if response is not None:
        return P.tool_call_response_part(field(response, "id"), _plain(field(response, "response")))
    blob = field(part, "inline_data")
    if blob is not None:
        mime = field(blob, "mime_type")
        data = field(blob, "data")
        content = ""
        if keep_blobs:
            if isinstance(data, (bytes, bytearray)):
                content = base64.b64encode(bytes(data)).decode("ascii")
            elif isinstance(data, str):
                content = data
        return P.blob_part(_modality(mime), mime, content, True)
    file_data = field(part, "file_data")
    if file_data is not None:
        uri = field(file_data, "file_uri") or ""
        mime = field(file_data, "mime_type")
        if _is_file_api_uri(uri):
            return P.file_part(_modality(mime), uri, mime)
        return P.uri_part(_modality(mime), uri, mime)
    code = field(part, "executable_code")
    if code is not None:
        return {"type": "executable_code", "code": field(code, "code"), "language": _plain(field(code, "language"))}
    result = field(part, "code_execution_result")
    if result is not None:
        return {"type": "code_execution_result", "output": field(result, "output"), "outcome": _plain(field(result, "outcome"))}
    name = field(part, "name")
    uri = field(part, "uri")
    if isinstance(name, str) and name.startswith("files/") and isinstance(uri, str):  # an uploaded ``types.File``
        mime = field(part, "mime_type")
        return P.file_part(_modality(mime), uri, mime)
    return None


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    enum_value = getattr(value, "value", None)
    if isinstance(enum_value, str):
        return enum_value
    return P.plain(value, exclude_none=True)


def parts_of(content: Any, keep_blobs: bool) -> list[dict[str, Any]]:
    """The semconv parts of a ``Content``'s ``parts`` (or of a list of parts)."""
    parts = field(content, "parts") if not isinstance(content, (list, tuple)) else content
    out: list[dict[str, Any]] = []
    for part in parts or ():
        converted = part_to_semconv(part, keep_blobs)
        if converted is not None:
            out.append(converted)
    return out


def _is_content(item: Any) -> bool:
    """A ``Content`` (model, or dict with ``parts`` / ``role``) rather than a part."""
    if isinstance(item, dict):
        return "parts" in item or "role" in item
    return hasattr(item, "parts") and hasattr(item, "role")


def _role(role: Any) -> str:
    """Gemini's ``model`` role is semconv's ``assistant``; ``user`` (also the function-response role) stays."""
    if role == "model":
        return "assistant"
    return role if isinstance(role, str) and role else "user"


def input_messages(contents: Any, keep_blobs: bool) -> list[dict[str, Any]]:
    """``contents`` (``ContentListUnion``: a string, a part, a ``Content``, or a list of either) as
    semconv input messages, grouped as the SDK groups them (``google.genai._transformers.t_contents``):
    each ``Content`` is one message; consecutive bare parts form one ``user`` message, except function
    calls, which are the model's. Never iterates anything but a list or tuple."""
    if contents is None:
        return []
    items = contents if isinstance(contents, (list, tuple)) else [contents]
    messages: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    pending_role = "user"

    def flush() -> None:
        nonlocal pending
        if pending:
            messages.append({"role": pending_role, "parts": pending})
            pending = []

    for item in items:
        if _is_content(item):
            flush()
            messages.append({"role": _role(field(item, "role")), "parts": parts_of(item, keep_blobs)})
            continue
        part = part_to_semconv(item, keep_blobs)
        if part is None:
            continue
        role = "assistant" if part["type"] == "tool_call" else "user"
        if role != pending_role:
            flush()
            pending_role = role
        pending.append(part)
    flush()
    return messages


def system_instructions(instruction: Any, keep_blobs: bool) -> list[dict[str, Any]]:
    """``config.system_instruction`` (a string, a part, a ``Content`` or a list of parts) as the
    semconv system-instruction parts."""
    if instruction is None:
        return []
    if isinstance(instruction, (list, tuple)):
        return parts_of(instruction, keep_blobs)
    if _is_content(instruction):
        return parts_of(instruction, keep_blobs)
    part = part_to_semconv(instruction, keep_blobs)
    return [part] if part is not None else []


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    """``config.tools`` as semconv tool definitions: each function declaration of a ``Tool`` (name,
    description, ``parameters``: its ``parameters_json_schema`` or its Gemini ``Schema`` as plain
    data) and each Python function the SDK declares for automatic function calling (its
    ``__name__`` and ``__doc__``) as ``function``; built-in tools (``google_search``,
    ``code_execution``, ...) as ``{type, name}``."""
    definitions: list[dict[str, Any]] = []
    if not isinstance(tools, (list, tuple)):
        return definitions
    for tool in tools:
        if callable(tool) and not isinstance(tool, dict) and not hasattr(tool, "function_declarations"):
            definition: dict[str, Any] = {"type": "function", "name": getattr(tool, "__name__", str(tool))}
            doc = getattr(tool, "__doc__", None)
            if isinstance(doc, str) and doc.strip():
                definition["description"] = doc.strip()
            definitions.append(definition)
            continue
        declarations = field(tool, "function_declarations")
        if declarations:
            for declaration in declarations:
                definitions.append(_function_definition(declaration))
            continue
        for name in _BUILTIN_TOOLS:
            if field(tool, name) is not None:
                definitions.append({"type": name, "name": name})
    return definitions


_BUILTIN_TOOLS = (
    "google_search", "google_search_retrieval", "code_execution", "url_context", "retrieval",
    "enterprise_web_search", "google_maps", "computer_use", "file_search", "mcp_servers",
)


def _function_definition(declaration: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {"type": "function", "name": field(declaration, "name") or ""}
    description = field(declaration, "description")
    if isinstance(description, str) and description:
        definition["description"] = description
    schema = field(declaration, "parameters_json_schema")
    if schema is not None:
        definition["parameters"] = _plain(schema)
    else:
        schema = field(declaration, "parameters")
        if schema is not None:
            definition["parameters"] = _json_schema(_plain(schema))
    return definition


def _json_schema(schema: Any) -> Any:
    """A Gemini ``Schema`` (as plain data) as JSON Schema: its ``type`` values are the API's
    upper-case ``Type`` enum (``OBJECT``, ``STRING``), JSON Schema's are lower-case; the rest of the
    OpenAPI-subset keywords (``properties``, ``items``, ``required``, ``enum``, ``any_of``...) are
    JSON Schema's own or extra keywords it ignores. ``any_of`` is renamed ``anyOf``."""
    if isinstance(schema, dict):
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "type" and isinstance(value, str):
                out[key] = value.lower()
            elif key in ("properties", "defs", "$defs") and isinstance(value, dict):
                out[key] = {name: _json_schema(sub) for name, sub in value.items()}
            elif key in ("items", "any_of", "anyOf", "additional_properties"):
                out["anyOf" if key == "any_of" else key] = _json_schema(value)
            else:
                out[key] = value
        return out
    if isinstance(schema, list):
        return [_json_schema(item) for item in schema]
    return schema


def has_tool_call(parts: Any) -> bool:
    """Whether a candidate's parts (SDK models) ask for a function call."""
    for part in parts or ():
        if getattr(part, "function_call", None) is not None:
            return True
    return False
