"""A LangChain model run as the GenAI inference span's attributes, from the callback's data alone
(used when no SDK instrumentor claimed the run, see ``_core/frameworks.py``).

Sources, as ``langchain_core`` 1.x passes them to a callback handler:

* ``on_chat_model_start`` / ``on_llm_start``: ``serialized`` (the model class, ``id`` its import path),
  ``metadata`` with LangChain's standard ``ls_*`` keys (``BaseChatModel._get_ls_params``:
  ``ls_provider``, ``ls_model_name``, ``ls_temperature``, ``ls_max_tokens``, ``ls_stop``) and
  ``invocation_params`` (the model's request parameters, ``model`` / ``model_name``);
* ``on_llm_end``: an ``LLMResult`` whose ``ChatGeneration`` messages carry ``usage_metadata``
  (``langchain_core.messages.ai.UsageMetadata``: ``input_tokens`` including cached ones,
  ``input_token_details.cache_read`` / ``cache_creation``, ``output_token_details.reasoning``) and
  ``response_metadata`` (``id``, ``model_name`` / ``model``, ``finish_reason`` / ``stop_reason``,
  ``system_fingerprint``, ``service_tier``), and whose ``llm_output`` may hold ``token_usage``.

Attribute names: OpenTelemetry semantic conventions v1.41.1, GenAI spans (``semconv/attributes.py``);
content in the v1.41.1 message schema (``semconv/messages.py``).
"""

from __future__ import annotations

from typing import Any

from ...semconv import attributes as A
from ...semconv.messages import plain, text_part, tool_call_part, tool_call_response_part, uri_part
from ...semconv.usage import TokenUsage
from .._core.params import SCALAR_TYPES, stop_sequences

#: LangChain's ``ls_provider`` (or the model class's package) -> ``gen_ai.provider.name`` (semconv
#: v1.41.1 well-known values); an unknown one is used as it is
PROVIDERS = {
    "openai": A.GenAIProviderName.OPENAI,
    "azure": A.GenAIProviderName.AZURE_AI_OPENAI,
    "azure_openai": A.GenAIProviderName.AZURE_AI_OPENAI,
    "anthropic": A.GenAIProviderName.ANTHROPIC,
    "google_genai": "gcp.gemini",  # the Gemini Developer API, as the google-genai instrumentor names it
    "google_vertexai": A.GenAIProviderName.GCP_VERTEX_AI,
    "google_anthropic_vertex": A.GenAIProviderName.GCP_VERTEX_AI,
    "amazon_bedrock": A.GenAIProviderName.AWS_BEDROCK,
    "bedrock": A.GenAIProviderName.AWS_BEDROCK,
    "bedrock_converse": A.GenAIProviderName.AWS_BEDROCK,
    "aws": A.GenAIProviderName.AWS_BEDROCK,
    "cohere": "cohere",
    "mistralai": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "ibm": "ibm.watsonx.ai",
    # semconv v1.41.1 has no well-known Hugging Face value (custom values are allowed): the one
    # ``ChatHuggingFace`` reports as ``ls_provider`` stands for every Hugging Face class, whose LLM
    # classes report their class name (``BaseLLM._get_ls_params``: ``HuggingFaceEndpoint`` ->
    # ``huggingfaceendpoint``)
    "huggingface": "huggingface",
    "huggingfaceendpoint": "huggingface",
    "huggingfacepipeline": "huggingface",
    "huggingfacetextgeninference": "huggingface",
    "huggingfacehub": "huggingface",
}

#: invocation parameter -> request attribute (scalars only; the first present of synonyms wins)
REQUEST_PARAMS = (
    ("temperature", A.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", A.GEN_AI_REQUEST_TOP_P),
    ("top_k", A.GEN_AI_REQUEST_TOP_K),
    ("max_tokens", A.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_completion_tokens", A.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_tokens_to_sample", A.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_output_tokens", A.GEN_AI_REQUEST_MAX_TOKENS),
    ("seed", A.GEN_AI_REQUEST_SEED),
    ("frequency_penalty", A.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", A.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("n", A.GEN_AI_REQUEST_CHOICE_COUNT),
)
#: the ``ls_*`` metadata keys that stand for a parameter the invocation parameters lack
LS_PARAMS = (("ls_temperature", A.GEN_AI_REQUEST_TEMPERATURE), ("ls_max_tokens", A.GEN_AI_REQUEST_MAX_TOKENS))

#: response metadata field -> response attribute (non-empty strings)
RESPONSE_FIELDS = (
    ("id", A.GEN_AI_RESPONSE_ID),
    ("model_name", A.GEN_AI_RESPONSE_MODEL),
    ("model", A.GEN_AI_RESPONSE_MODEL),
    ("system_fingerprint", A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
    ("service_tier", A.OPENAI_RESPONSE_SERVICE_TIER),
)

#: ``LLMResult.llm_output`` field -> response attribute (the legacy completions models report there)
LLM_OUTPUT_FIELDS = (("id", A.GEN_AI_RESPONSE_ID), ("model_name", A.GEN_AI_RESPONSE_MODEL), ("model", A.GEN_AI_RESPONSE_MODEL))

#: LangChain message ``type`` -> semconv role
ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool", "developer": "system"}


def provider(serialized: dict[str, Any] | None, metadata: dict[str, Any] | None, params: dict[str, Any]) -> str | None:
    """``gen_ai.provider.name`` of the model class: ``ls_provider``, else the package in the class's
    import path (``["langchain", "chat_models", "openai", "ChatOpenAI"]``), else ``_type``."""
    name = (metadata or {}).get("ls_provider")
    if not isinstance(name, str) or not name:
        path = (serialized or {}).get("id")
        name = path[-2] if isinstance(path, list) and len(path) >= 2 and isinstance(path[-2], str) else None
    if not name:
        kind = params.get("_type")
        name = kind.split("-", 1)[0] if isinstance(kind, str) and kind else None
    if not name:
        return None
    return PROVIDERS.get(name.lower(), name.lower())


def request_attributes(
    operation: str, serialized: dict[str, Any] | None, metadata: dict[str, Any] | None, params: dict[str, Any]
) -> dict[str, Any]:
    """The span's start attributes: operation, provider, model, request parameters, ``stream``."""
    attrs: dict[str, Any] = {A.GEN_AI_OPERATION_NAME: operation}
    name = provider(serialized, metadata, params)
    if name:
        attrs[A.GEN_AI_PROVIDER_NAME] = name
    model = params.get("model") or params.get("model_name") or params.get("model_id") or (metadata or {}).get("ls_model_name")
    # a URL is where the model is served, not its name (``HuggingFaceEndpoint(endpoint_url=...)``
    # reports its endpoint as ``ls_model_name``): the model is then unknown
    if isinstance(model, str) and model and "://" not in model:
        attrs[A.GEN_AI_REQUEST_MODEL] = model
    for param, attribute in REQUEST_PARAMS:
        value = params.get(param)
        if attribute not in attrs and type(value) in SCALAR_TYPES and type(value) is not bool:
            attrs[attribute] = value
    for key, attribute in LS_PARAMS:
        value = (metadata or {}).get(key)
        if attribute not in attrs and type(value) in (int, float):
            attrs[attribute] = value
    stop = stop_sequences(params.get("stop") or params.get("stop_sequences") or (metadata or {}).get("ls_stop"))
    if stop:
        attrs[A.GEN_AI_REQUEST_STOP_SEQUENCES] = stop
    if params.get("stream") is True or params.get("streaming") is True:
        attrs[A.GEN_AI_REQUEST_STREAM] = True
    return attrs


# --- content ---------------------------------------------------------------------------------------
def _block_parts(block: Any) -> list[dict[str, Any]]:
    """The parts of one content block (a string, or a provider / LangChain standard block dict)."""
    if isinstance(block, str):
        return [text_part(block)] if block else []
    if not isinstance(block, dict):
        return [text_part(str(block))]
    kind = block.get("type")
    if kind == "text":
        return [text_part(block.get("text") or "")]
    if kind in ("thinking", "reasoning"):
        text = block.get("thinking") or block.get("reasoning") or ""
        return [{"type": "reasoning", "content": text}] if text else []
    if kind == "image_url":
        url = block.get("image_url")
        url = url.get("url") if isinstance(url, dict) else url
        if isinstance(url, str):
            if url.startswith("data:"):
                mime = url[5:].split(";", 1)[0] or None
                part: dict[str, Any] = {"type": "blob", "modality": "image", "content": ""}
                if mime:
                    part["mime_type"] = mime
                return [part]
            return [uri_part("image", url)]
    if kind in ("tool_use", "tool_call"):
        return [tool_call_part(block.get("id"), block.get("name"), block.get("input", block.get("args")))]
    if kind == "tool_result":
        return [tool_call_response_part(block.get("tool_use_id"), plain(block.get("content")))]
    return [{**plain(block), "type": kind or "unknown"}]


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return [part for block in content for part in _block_parts(block)]
    return _block_parts(content)


def input_message(message: Any) -> dict[str, Any]:
    """A LangChain ``BaseMessage`` as a semconv input message."""
    kind = getattr(message, "type", None)
    role = ROLES.get(kind) or getattr(message, "role", None) or kind or "user"
    if kind == "tool":
        parts: list[dict[str, Any]] = [tool_call_response_part(getattr(message, "tool_call_id", None), plain(message.content))]
    else:
        parts = _content_parts(getattr(message, "content", message))
    if kind == "ai":
        known = {p.get("id") for p in parts if p.get("type") == "tool_call"}
        for call in getattr(message, "tool_calls", None) or ():
            if call.get("id") not in known or call.get("id") is None:
                parts.append(tool_call_part(call.get("id"), call.get("name"), call.get("args")))
    result: dict[str, Any] = {"role": role, "parts": parts}
    name = getattr(message, "name", None)
    if isinstance(name, str) and name and kind != "tool":
        result["name"] = name
    return result


def input_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """One prompt's messages (``on_chat_model_start``'s ``messages[i]``)."""
    return [input_message(m) for m in messages]


def prompt_messages(prompt: str) -> list[dict[str, Any]]:
    """A text-completion prompt (``on_llm_start``'s ``prompts[i]``) as one user message."""
    return [{"role": "user", "parts": [text_part(prompt)]}]


def _finish_reason(generation: Any) -> str | None:
    info = getattr(generation, "generation_info", None) or {}
    reason = info.get("finish_reason") or info.get("stop_reason")
    if not reason:
        metadata = getattr(getattr(generation, "message", None), "response_metadata", None) or {}
        reason = metadata.get("finish_reason") or metadata.get("stop_reason") or metadata.get("done_reason")
    return reason if isinstance(reason, str) and reason else None


def output_message(generation: Any) -> dict[str, Any]:
    """A ``ChatGeneration`` (its ``AIMessage``) or ``Generation`` (its text) as a semconv output message."""
    message = getattr(generation, "message", None)
    if message is not None:
        result = input_message(message)
        result["role"] = "assistant"
    else:
        text = getattr(generation, "text", "")
        result = {"role": "assistant", "parts": [text_part(text)] if text else []}
    result["finish_reason"] = _finish_reason(generation) or ""
    return result


# --- the response -----------------------------------------------------------------------------------
def _count(value: Any) -> int | None:
    """A token count as an int: Cohere's SDK parses its counts as floats (``12.0``)."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer() and value >= 0:
        return int(value)
    return None


def _token_count(generations: list[Any]) -> TokenUsage | None:
    """``ChatCohere``'s streamed usage (langchain-cohere 0.6): no ``usage_metadata``; the last chunk's
    ``generation_info`` (and ``response_metadata``) hold ``token_count`` = ``{"input_tokens",
    "output_tokens", "total_tokens"}``, Cohere's billed units (Cohere API v2 ``usage.billed_units``),
    summed over the generations."""
    totals, found = [0, 0], False
    for generation in generations:
        info = getattr(generation, "generation_info", None) or {}
        counts = info.get("token_count") if isinstance(info, dict) else None
        if not isinstance(counts, dict):
            metadata = getattr(getattr(generation, "message", None), "response_metadata", None) or {}
            counts = metadata.get("token_count") if isinstance(metadata, dict) else None
        if not isinstance(counts, dict):
            continue
        read = _count(counts.get("input_tokens")), _count(counts.get("output_tokens"))
        if read[0] is None and read[1] is None:
            continue
        found = True
        totals[0] += read[0] or 0
        totals[1] += read[1] or 0
    return TokenUsage(totals[0], totals[1]) if found else None


def _usage(generations: list[Any], llm_output: Any) -> TokenUsage | None:
    """The usage of one model call: the messages' ``usage_metadata`` summed (one per generation),
    else Cohere's ``token_count`` (``_token_count``), else ``llm_output["token_usage"]`` /
    ``["usage"]`` (OpenAI's field names)."""
    totals = [0, 0, None, None, None]  # input, output, cache read, cache creation, reasoning
    found = False
    for generation in generations:
        metadata = getattr(getattr(generation, "message", None), "usage_metadata", None)
        if not metadata:
            continue
        found = True
        totals[0] += metadata.get("input_tokens") or 0
        totals[1] += metadata.get("output_tokens") or 0
        details = metadata.get("input_token_details") or {}
        for index, key in ((2, "cache_read"), (3, "cache_creation")):
            value = details.get(key)
            if type(value) is int:
                totals[index] = (totals[index] or 0) + value
        reasoning = (metadata.get("output_token_details") or {}).get("reasoning")
        if type(reasoning) is int:
            totals[4] = (totals[4] or 0) + reasoning
    if found:
        return TokenUsage(*totals)
    counted = _token_count(generations)
    if counted is not None:
        return counted
    usage = (llm_output or {}).get("token_usage") or (llm_output or {}).get("usage") if isinstance(llm_output, dict) else None
    if isinstance(usage, dict):
        prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
        completion = usage.get("completion_tokens", usage.get("output_tokens"))
        if type(prompt) is int or type(completion) is int:
            return TokenUsage(prompt, completion)
    return None


def response(result: Any, capture: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
    """``(response attributes, usage, content)`` of one model run's ``LLMResult`` (its one prompt's
    generations). ``content`` holds ``gen_ai.output.messages`` when ``capture``."""
    generations = (getattr(result, "generations", None) or [[]])[0]
    attrs: dict[str, Any] = {}
    first = getattr(generations[0], "message", None) if generations else None
    metadata = getattr(first, "response_metadata", None) or {}
    for field, attribute in RESPONSE_FIELDS:
        value = metadata.get(field)
        if attribute not in attrs and isinstance(value, str) and value:
            attrs[attribute] = value
    llm_output = getattr(result, "llm_output", None)
    if isinstance(llm_output, dict):
        for field, attribute in LLM_OUTPUT_FIELDS:
            value = llm_output.get(field)
            if attribute not in attrs and isinstance(value, str) and value:
                attrs[attribute] = value
    if A.GEN_AI_RESPONSE_ID not in attrs:
        message_id = getattr(first, "id", None)
        if isinstance(message_id, str) and message_id and not message_id.startswith(("run-", "lc_run-")):
            attrs[A.GEN_AI_RESPONSE_ID] = message_id
    reasons = [reason for reason in map(_finish_reason, generations) if reason]
    if reasons:
        attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
    content = {A.GEN_AI_OUTPUT_MESSAGES: [output_message(g) for g in generations]} if capture else {}
    return attrs, _usage(generations, llm_output), content


def tool_definitions(params: dict[str, Any]) -> list[dict[str, Any]] | None:
    """``gen_ai.tool.definitions`` from the invocation parameters' ``tools`` (OpenAI's function form or
    Anthropic's ``name`` / ``input_schema``), JSON-ready."""
    tools = params.get("tools")
    if not isinstance(tools, list) or not tools:
        return None
    definitions = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        function = tool.get("function") if isinstance(tool.get("function"), dict) else tool
        definition: dict[str, Any] = {"type": "function", "name": function.get("name") or ""}
        if function.get("description"):
            definition["description"] = function["description"]
        schema = function.get("parameters", function.get("input_schema"))
        if schema is not None:
            definition["parameters"] = plain(schema)
        definitions.append(definition)
    return definitions or None
