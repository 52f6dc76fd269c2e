"""Anthropic Messages (``messages.create`` / ``parse`` / ``stream``, stable and beta): request,
response and stream mapping onto the span contract (semconv v1.41.1 "GenAI spans", "Anthropic").

Declared as tables where the mapping is one-to-one (``_REQUEST_PARAMS``, ``METHODS``); the content
conversion turns the SDK's block shapes (request dicts or response models) into semconv v1.41.1
parts:

=========================================  ===========================================================
Anthropic block                            semconv part
=========================================  ===========================================================
``text``                                   ``text``
``thinking``                               ``reasoning``
``redacted_thinking``                      ``reasoning`` with empty ``content`` and ``redacted: true``
``tool_use``                               ``tool_call`` (``arguments`` = ``input``)
``tool_result``                            ``tool_call_response`` (``response`` = its text, or parts)
``server_tool_use`` / ``mcp_tool_use``     ``server_tool_call`` (``server_tool_call.type`` = tool name)
``*_tool_result`` (web search, code, ...)  ``server_tool_call_response`` (``encrypted_*`` fields dropped)
``image`` / ``document`` base64 source     ``blob`` (content blanked unless ``OTEL_GENAI_CAPTURE_BLOB_CONTENT``)
``image`` / ``document`` url / file        ``uri`` / ``file``
=========================================  ===========================================================

Token rule: Anthropic's ``input_tokens`` excludes cached tokens, so ``gen_ai.usage.input_tokens`` is
``input_tokens + cache_read_input_tokens + cache_creation_input_tokens`` (``TokenUsage.from_uncached_input``).
A stream's ``message_start`` carries the input counts and ``message_delta`` the cumulative output
count (and possibly cumulative input/cache counts): later values replace earlier ones, never add.
"""

from __future__ import annotations

from typing import Any, Callable

from ...semconv import attributes as A
from ...semconv import messages as P
from ...semconv.content import blob_content_enabled
from ...semconv.usage import TokenUsage
from .._core import async_wrapper, sync_wrapper
from .._core.faults import log_fault
from .._core.instrumentor import CALL, Method
from .._core.invocation import GenAITelemetry
from .._core.operation import Operation, StreamAccumulator
from .._core.params import get, scalar_params, stop_sequences, string_fields
from .._stainless import helper_hooks, request_attributes

# kwarg -> attribute, copied when the value is a plain str/bool/int/float
_REQUEST_PARAMS = (
    ("max_tokens", A.GEN_AI_REQUEST_MAX_TOKENS),
    ("temperature", A.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", A.GEN_AI_REQUEST_TOP_P),
)

# field of a Message (or of the Message in ``message_start``) -> attribute, copied when a non-empty string
_RESPONSE_FIELDS = (("id", A.GEN_AI_RESPONSE_ID), ("model", A.GEN_AI_RESPONSE_MODEL))

_STATIC_ATTRIBUTES = {
    A.GEN_AI_OPERATION_NAME: A.GenAIOperationName.CHAT,
}

_STABLE = "anthropic.resources.messages.messages"
_BETA = "anthropic.resources.beta.messages.messages"
# Bedrock and Vertex beta resources copy the first-party functions into their own classes
_BEDROCK_BETA = "anthropic.lib.bedrock._beta_messages"
_VERTEX_BETA = "anthropic.lib.vertex._beta_messages"

#: ``Method.kind`` of ``messages.stream()``: it returns a stream manager that posts by itself (not
#: through ``create``) when entered
STREAM_HELPER = "stream_helper"


class Messages(Operation):
    """``messages.create`` / ``parse`` (stable and beta) -> one ``chat {model}`` CLIENT span. The
    ``context`` is the instrumentor's :class:`~._common.AnthropicClients`."""

    operation_name = A.GenAIOperationName.CHAT
    streaming = False  # the request streams when its kwargs say ``stream=True``

    def request(self, instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        attrs = request_attributes(_STATIC_ATTRIBUTES, self.context.client_attributes(instance), kwargs)
        _sampling_params(kwargs, attrs)
        extra_body = kwargs.get("extra_body")
        if isinstance(extra_body, dict) and extra_body:  # sent as body fields, over the kwargs
            _sampling_params(extra_body, attrs)
        if self.streaming:  # semconv: set if and only if the request streams
            attrs[A.GEN_AI_REQUEST_STREAM] = True
        if _json_output(kwargs) or _json_output(kwargs.get("extra_body")):
            attrs[A.GEN_AI_OUTPUT_TYPE] = A.GenAIOutputType.JSON
        return attrs
    def request_content(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        content: dict[str, Any] = {}
        keep_blobs = blob_content_enabled()
        messages = kwargs.get("messages")
        if isinstance(messages, (list, tuple)):  # never iterate an iterable the SDK has yet to read
            content[A.GEN_AI_INPUT_MESSAGES] = [_input_message(m, keep_blobs) for m in messages]
        system = kwargs.get("system")
        if isinstance(system, str):
            content[A.GEN_AI_SYSTEM_INSTRUCTIONS] = [P.text_part(system)]
        elif isinstance(system, (list, tuple)) and system:
            parts: list[dict[str, Any]] = []
            for block in system:
                _block_parts(block, parts, keep_blobs)
            content[A.GEN_AI_SYSTEM_INSTRUCTIONS] = parts
        tools = kwargs.get("tools")
        if isinstance(tools, (list, tuple)) and tools:
            content[A.GEN_AI_TOOL_DEFINITIONS] = [_tool_definition(t) for t in tools]
        return content

    def response(self, result: Any, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        if result is None:  # the body was never read (e.g. a raw response closed unread)
            return {}, None, {}
        attrs: dict[str, Any] = {}
        string_fields(result, _RESPONSE_FIELDS, attrs)
        request_id = getattr(result, "_request_id", None)
        if isinstance(request_id, str) and request_id:
            attrs[A.ANTHROPIC_REQUEST_ID] = request_id
        stop_reason = getattr(result, "stop_reason", None)
        if isinstance(stop_reason, str) and stop_reason:
            attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] = [stop_reason]
        content = {}
        if capture_content:
            parts: list[dict[str, Any]] = []
            keep_blobs = blob_content_enabled()
            for block in getattr(result, "content", None) or ():
                _block_parts(block, parts, keep_blobs)
            role = getattr(result, "role", None) or "assistant"
            content[A.GEN_AI_OUTPUT_MESSAGES] = [{"role": role, "parts": parts, "finish_reason": stop_reason or ""}]
        return attrs, usage_from(getattr(result, "usage", None)), content

    def new_accumulator(self, kwargs: dict[str, Any]) -> MessagesStreamAccumulator:
        return MessagesStreamAccumulator(self.context.capture_content)


class StreamedMessages(Messages):
    """``messages.stream()`` (stable and beta): the request always streams."""

    streaming = True


# Every instrumented method. ``create`` returns the Message (or a stream for ``stream=True``, or a raw
# response); ``parse`` posts by itself (it does not call ``create``); ``stream()`` returns a stream
# manager that posts by itself when entered (see ``stream_helper_wrapper``). Rows whose module or
# method this SDK version lacks are skipped.
METHODS = tuple(
    Method(module, cls, method, is_async, operation, kind)
    for module in (_STABLE, _BETA, _BEDROCK_BETA, _VERTEX_BETA)
    for cls, is_async in (("Messages", False), ("AsyncMessages", True))
    for method, operation, kind in (
        ("create", Messages, CALL),
        ("parse", Messages, CALL),
        ("stream", StreamedMessages, STREAM_HELPER),
    )
)

# The ``messages.stream()`` helpers (``MessageStream`` and its manager, stable and beta): close()
# closes the HTTP response without our proxy, and ``__exit__`` drops the exception that left the
# ``with`` block, so both are hooked (see ``_stainless.helpers``)
HELPER_HOOKS = helper_hooks("anthropic.lib.streaming._messages", "MessageStream", "MessageStreamManager") + helper_hooks(
    "anthropic.lib.streaming._beta_messages", "MessageStream", "MessageStreamManager", prefix="Beta"
)


# --- the stream helper (``messages.stream()``) ------------------------------------------------------
class _TracedRequest:
    """Awaitable stand-in for an async stream manager's request: our traced call is only created
    when the manager awaits it (an unentered manager leaves no extra un-awaited coroutine)."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make

    def __await__(self) -> Any:
        return self._make().__await__()


def stream_helper_wrapper(telemetry: GenAITelemetry, operation: Messages, is_async: bool) -> Callable[..., Any]:
    """A ``wrapt`` wrapper for ``messages.stream()``: the SDK returns a ``MessageStreamManager`` that
    posts on ``__enter__`` / ``__aenter__`` through a request callable (sync) or coroutine (async) of
    its own, not through ``create``. We swap that request for the same request traced by the core
    wrapper, so the span starts when the request is sent and the raw stream the ``MessageStream``
    reads is our stream proxy: its ``close()`` and every consumption helper (``text_stream``,
    ``get_final_message()``, ``get_final_text()``, ``until_done()``) go through the proxy."""
    core = (async_wrapper if is_async else sync_wrapper)(telemetry, operation)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        try:
            _trace_manager_request(manager, core, instance, kwargs, is_async)
        except Exception:
            log_fault("anthropic.messages.stream")
        return manager

    return wrapper


def _trace_manager_request(manager: Any, core: Callable[..., Any], instance: Any, kwargs: dict[str, Any], is_async: bool) -> None:
    state = getattr(manager, "__dict__", None) or {}
    # ``self.__api_request`` of (Beta)(Async)MessageStreamManager, name-mangled per class
    name = next((key for key in state if key.endswith("__api_request")), None)
    if name is None:
        return
    request = state[name]
    if is_async:

        async def send(**_: Any) -> Any:
            return await request

        setattr(manager, name, _TracedRequest(lambda: core(send, instance, (), kwargs)))
    else:

        def send(**_: Any) -> Any:
            return request()

        setattr(manager, name, lambda: core(send, instance, (), kwargs))


# --- request / response helpers ----------------------------------------------------------------------
def _sampling_params(source: dict[str, Any], attrs: dict[str, Any]) -> None:
    """max_tokens, temperature, top_p, top_k, stop_sequences of ``source`` (the kwargs, or the
    ``extra_body`` through which SDKs without a parameter of their own send it)."""
    scalar_params(source, _REQUEST_PARAMS, attrs)
    top_k = source.get("top_k")
    if type(top_k) in (int, float):  # semconv: a double
        attrs[A.GEN_AI_REQUEST_TOP_K] = float(top_k)
    stop = stop_sequences(source.get("stop_sequences"))
    if stop:
        attrs[A.GEN_AI_REQUEST_STOP_SEQUENCES] = stop


def _json_output(source: Any) -> bool:
    """Whether the request asks for JSON output: ``output_format`` (a type or a ``json_schema``
    format, incl. the older beta parameter) or ``output_config.format``."""
    if not isinstance(source, dict):
        return False
    output_format = source.get("output_format")
    if isinstance(output_format, type) or get(output_format, "type") == "json_schema":
        return True
    output_config = source.get("output_config")
    return isinstance(output_config, dict) and get(output_config.get("format"), "type") == "json_schema"


def usage_from(usage: Any) -> TokenUsage | None:
    """Anthropic ``Usage`` -> normal form: input includes cache read + cache creation, exactly once."""
    if usage is None:
        return None
    normal = TokenUsage.from_uncached_input(
        getattr(usage, "input_tokens", None),
        getattr(usage, "output_tokens", None),
        getattr(usage, "cache_read_input_tokens", None),
        getattr(usage, "cache_creation_input_tokens", None),
    )
    thinking = getattr(getattr(usage, "output_tokens_details", None), "thinking_tokens", None)
    if type(thinking) is int:
        normal.reasoning_output_tokens = thinking
    return normal


# --- content conversion (SDK shapes -> semconv parts) ---------------------------------------------------
_CLIENT_TOOL_CALLS = ("tool_use",)
_SERVER_TOOL_CALLS = ("server_tool_use", "mcp_tool_use")


def _input_message(message: Any, keep_blobs: bool) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    content = get(message, "content")
    if isinstance(content, str):
        parts.append(P.text_part(content))
    elif isinstance(content, (list, tuple)):
        for block in content:
            _block_parts(block, parts, keep_blobs)
    return {"role": get(message, "role") or "user", "parts": parts}


def _block_parts(block: Any, parts: list[dict[str, Any]], keep_blobs: bool) -> None:
    """Append the semconv part(s) of one content block (request dict or response model)."""
    if isinstance(block, str):
        parts.append(P.text_part(block))
        return
    kind = get(block, "type")
    if kind == "text":
        parts.append(P.text_part(get(block, "text") or ""))
    elif kind == "thinking":
        parts.append(P.reasoning_part(get(block, "thinking") or ""))
    elif kind == "redacted_thinking":  # encrypted: its data is not content anyone can read
        parts.append(_redacted_reasoning())
    elif kind == "tool_use":
        parts.append(P.tool_call_part(get(block, "id"), get(block, "name"), get(block, "input")))
    elif kind == "tool_result":
        parts.append(P.tool_call_response_part(get(block, "tool_use_id"), _tool_result(get(block, "content"), keep_blobs)))
    elif kind in _SERVER_TOOL_CALLS:
        parts.append(_server_tool_call(get(block, "id"), get(block, "name"), get(block, "input")))
    elif kind == "image" or kind == "document":
        _source_parts(kind, get(block, "source"), parts, keep_blobs)
    elif isinstance(kind, str) and kind.endswith("_tool_result"):
        parts.append(_server_tool_result(kind, get(block, "tool_use_id"), get(block, "content")))
    elif kind == "search_result":
        for item in get(block, "content") or ():
            _block_parts(item, parts, keep_blobs)
    elif isinstance(kind, str):  # a block type this mapping does not know: its type only
        parts.append({"type": kind})


def _redacted_reasoning() -> dict[str, Any]:
    return {"type": "reasoning", "content": "", "redacted": True}


def _source_parts(kind: str, source: Any, parts: list[dict[str, Any]], keep_blobs: bool) -> None:
    """An image/document source: base64 -> blob (blanked by policy), url -> uri, file -> file,
    a document's text or content source -> text parts."""
    modality = "image" if kind == "image" else "document"
    source_type = get(source, "type")
    if source_type == "base64":
        data = get(source, "data")
        # ``data`` may also be a file object or path the SDK reads itself: never read it here
        parts.append(P.blob_part(modality, get(source, "media_type"), data if isinstance(data, str) else "", keep_blobs))
    elif source_type == "url":
        parts.append(P.uri_part(modality, get(source, "url") or ""))
    elif source_type == "file":
        parts.append(P.file_part(modality, get(source, "file_id") or ""))
    elif source_type == "text":
        parts.append(P.text_part(get(source, "data") or ""))
    elif source_type == "content":
        content = get(source, "content")
        if isinstance(content, str):
            parts.append(P.text_part(content))
        elif isinstance(content, (list, tuple)):
            for block in content:
                _block_parts(block, parts, keep_blobs)


def _tool_result(content: Any, keep_blobs: bool) -> Any:
    """A ``tool_result``'s content: its text, or its parts when it holds more than text."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        parts: list[dict[str, Any]] = []
        for block in content:
            _block_parts(block, parts, keep_blobs)
        if all(p.get("type") == "text" for p in parts):
            return "".join(p["content"] for p in parts)
        return parts
    return str(content)


def _server_tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"type": name or ""}
    arguments = P.decode_arguments(arguments)
    if isinstance(arguments, dict) and "type" not in arguments:
        details.update(arguments)
    elif arguments is not None:
        details["input"] = arguments
    return {"type": "server_tool_call", "id": call_id, "name": name or "", "server_tool_call": details}


def _server_tool_result(kind: str, call_id: Any, content: Any) -> dict[str, Any]:
    return {
        "type": "server_tool_call_response",
        "id": call_id,
        "server_tool_call_response": {"type": kind, "content": P.plain(content, exclude_none=True, skip_prefix="encrypted_")},
    }


def _tool_definition(tool: Any) -> dict[str, Any]:
    """A ``tools`` entry as a semconv tool definition: custom tools as ``function`` (name,
    description, ``parameters`` = ``input_schema``); server tools as ``{type, name}``."""
    if not isinstance(tool, dict):
        to_dict = getattr(tool, "to_dict", None)  # beta runnable tools (``@beta_tool``)
        if callable(to_dict):
            tool = to_dict()
    kind = get(tool, "type")
    name = get(tool, "name") or get(tool, "mcp_server_name") or ""
    if kind in (None, "custom"):
        definition: dict[str, Any] = {"type": "function", "name": name}
        description = get(tool, "description")
        if isinstance(description, str) and description:
            definition["description"] = description
        schema = get(tool, "input_schema")
        if schema is not None:
            definition["parameters"] = schema
        return definition
    return {"type": kind if isinstance(kind, str) else str(kind), "name": name}


# --- streaming ------------------------------------------------------------------------------------------
class _Block:
    """One content block of a streamed Message: text/JSON fragments, or the whole block when its
    start event carries everything (server tool results)."""

    __slots__ = ("kind", "id", "name", "input", "fragments", "block")

    def __init__(self, kind: str, block: Any = None) -> None:
        self.kind = kind
        self.block = block
        self.id = getattr(block, "id", None)
        self.name = getattr(block, "name", None)
        self.input = getattr(block, "input", None)
        self.fragments: list[str] = []
        if kind == "text":
            text = getattr(block, "text", None)
            if text:
                self.fragments.append(text)
        elif kind == "thinking":
            thinking = getattr(block, "thinking", None)
            if thinking:
                self.fragments.append(thinking)


# an orphan delta (no ``content_block_start`` seen for its index) implies its block's type
_DELTA_KINDS = {"text_delta": "text", "input_json_delta": "tool_use", "thinking_delta": "thinking"}


class MessagesStreamAccumulator(StreamAccumulator):
    """Folds ``RawMessageStreamEvent`` s (stable or beta): ``message_start`` (id, model, input and
    cache counts), content blocks and their deltas (text, ``input_json_delta`` assembled into tool
    arguments, even without a block start, thinking), ``message_delta`` (stop reason, cumulative
    output count, cumulative input/cache counts when present: they replace, never add)."""

    __slots__ = (
        "capture",
        "metadata",
        "role",
        "stop_reason",
        "input_tokens",
        "output_tokens",
        "cache_read",
        "cache_creation",
        "thinking_tokens",
        "blocks",
    )

    def __init__(self, capture_content: bool) -> None:
        self.capture = capture_content
        self.metadata: dict[str, Any] = {}
        self.role: str | None = None
        self.stop_reason: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None  # only from message_delta: message_start's is a placeholder
        self.cache_read: int | None = None
        self.cache_creation: int | None = None
        self.thinking_tokens: int | None = None
        self.blocks: dict[int, _Block] = {}

    def on_stream(self, stream: Any) -> None:
        headers = getattr(getattr(stream, "response", None), "headers", None)
        request_id = headers.get("request-id") if headers is not None else None
        if isinstance(request_id, str) and request_id:
            self.metadata[A.ANTHROPIC_REQUEST_ID] = request_id

    def on_chunk(self, event: Any) -> None:
        kind = event.type
        if kind == "content_block_delta":
            if self.capture:
                delta = event.delta
                delta_kind = delta.type
                block = self.blocks.get(event.index)
                if block is None:
                    implied = _DELTA_KINDS.get(delta_kind)
                    if implied is None:
                        return
                    block = self.blocks[event.index] = _Block(implied)
                if delta_kind == "text_delta":
                    block.fragments.append(delta.text)
                elif delta_kind == "input_json_delta":
                    block.fragments.append(delta.partial_json)
                elif delta_kind == "thinking_delta":
                    block.fragments.append(delta.thinking)
        elif kind == "content_block_start":
            if self.capture:
                block = event.content_block
                self.blocks[event.index] = _Block(block.type, block)
        elif kind == "message_delta":
            stop_reason = getattr(event.delta, "stop_reason", None)
            if stop_reason:
                self.stop_reason = stop_reason
            usage = event.usage
            if usage is not None:
                self._usage(usage, True)
        elif kind == "message_start":
            message = event.message
            string_fields(message, _RESPONSE_FIELDS, self.metadata)
            self.role = getattr(message, "role", None)
            usage = getattr(message, "usage", None)
            if usage is not None:
                self._usage(usage, False)
            if self.capture:
                for index, block in enumerate(getattr(message, "content", None) or ()):
                    self.blocks[index] = _Block(block.type, block)

    def _usage(self, usage: Any, final: bool) -> None:
        """Counts on an event are cumulative totals: each known one replaces the previous value."""
        value = getattr(usage, "input_tokens", None)
        if value is not None:
            self.input_tokens = value
        value = getattr(usage, "cache_read_input_tokens", None)
        if value is not None:
            self.cache_read = value
        value = getattr(usage, "cache_creation_input_tokens", None)
        if value is not None:
            self.cache_creation = value
        if final:
            value = getattr(usage, "output_tokens", None)
            if value is not None:
                self.output_tokens = value
            value = getattr(getattr(usage, "output_tokens_details", None), "thinking_tokens", None)
            if value is not None:
                self.thinking_tokens = value

    def result(self, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        attrs = dict(self.metadata)
        if self.stop_reason:
            attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] = [self.stop_reason]
        usage = None
        if self.input_tokens is not None or self.output_tokens is not None:
            usage = TokenUsage.from_uncached_input(self.input_tokens, self.output_tokens, self.cache_read, self.cache_creation)
            if type(self.thinking_tokens) is int:
                usage.reasoning_output_tokens = self.thinking_tokens
        content = {}
        if capture_content and self.capture:
            parts: list[dict[str, Any]] = []
            keep_blobs = blob_content_enabled()
            for index in sorted(self.blocks):
                _streamed_block_parts(self.blocks[index], parts, keep_blobs)
            message = {"role": self.role or "assistant", "parts": parts, "finish_reason": self.stop_reason or ""}
            content[A.GEN_AI_OUTPUT_MESSAGES] = [message]
        return attrs, usage, content


def _streamed_block_parts(block: _Block, parts: list[dict[str, Any]], keep_blobs: bool) -> None:
    kind = block.kind
    if kind == "text":
        parts.append(P.text_part("".join(block.fragments)))
    elif kind == "thinking":
        parts.append(P.reasoning_part("".join(block.fragments)))
    elif kind in _CLIENT_TOOL_CALLS or kind in _SERVER_TOOL_CALLS:
        # the arguments are the streamed JSON text; without deltas, the block start's input
        arguments = "".join(block.fragments) or block.input
        if kind in _CLIENT_TOOL_CALLS:
            parts.append(P.tool_call_part(block.id, block.name, arguments))
        else:
            parts.append(_server_tool_call(block.id, block.name, arguments))
    elif block.block is not None:  # complete in its start event (server tool results, redacted thinking, ...)
        _block_parts(block.block, parts, keep_blobs)
    else:
        parts.append({"type": kind})
