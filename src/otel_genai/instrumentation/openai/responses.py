"""OpenAI Responses API (``responses.create`` / ``parse`` / ``stream``): request, response and stream mapping.

Entry points (openai 3.x, ``openai/resources/responses/responses.py`` and ``lib/_response_resources.py``):

* ``Responses.create`` / ``AsyncResponses.create``: one ``chat {model}`` span per call.
* ``Responses.parse`` / ``AsyncResponses.parse`` post ``/responses`` themselves (``resource._post``),
  not through ``create``, so they have rows of their own with the same :class:`ResponsesOperation`.
* ``responses.stream()`` is not wrapped: its manager calls ``create(stream=True)`` when entered, so the
  ``create`` row traces it and the helper's ``ResponseStream`` iterates our stream proxy. Its
  ``close()`` closes the HTTP response, not the raw stream, so ``CLOSE_HOOKS`` end the span there.
  ``stream(response_id=...)`` resumes an existing response through ``retrieve`` and is not traced.
* ``with_raw_response`` / ``with_streaming_response`` results are handled by ``_stainless.raw``.

Mapping decisions:

* One response is one generation, so ``gen_ai.output.messages`` holds ONE assistant message whose parts
  follow ``response.output`` in order: ``message`` -> ``text`` (``output_text`` and ``refusal``),
  ``reasoning`` -> ``reasoning`` (summary, then reasoning text), client-executed tool calls
  (``function_call``, ``custom_tool_call``, ``computer_call``, ``local_shell_call``, ``shell_call``,
  ``apply_patch_call``: the application runs them and answers with ``*_output`` items) -> ``tool_call``,
  provider-executed (hosted) tools (``web_search_call``, ``file_search_call``, ``code_interpreter_call``,
  ``image_generation_call``, ``mcp_call``, ...) -> ``server_tool_call`` (+ ``server_tool_call_response``
  when the item carries results; a generated image becomes a ``blob`` part under the blob policy).
* Finish reason (``gen_ai.response.finish_reasons`` and the message's ``finish_reason``): status
  ``completed`` -> ``tool_call`` when the output requests a client-executed tool call, else ``stop``;
  ``incomplete`` -> ``incomplete_details.reason`` with the semconv names where one exists
  (``max_output_tokens`` -> ``length``, ``content_filter``); ``failed`` -> ``error``; ``cancelled`` ->
  ``cancelled``; ``queued`` / ``in_progress`` (background mode) -> none.
* Usage: ``input_tokens`` already includes cached tokens; ``input_tokens_details.cached_tokens`` ->
  cache read, ``cache_write_tokens`` -> cache creation, ``output_tokens_details.reasoning_tokens`` ->
  reasoning.
* Input: ``input`` (a string, or a list of items) -> ``gen_ai.input.messages``: a message item is one
  message; assistant-side items (tool calls, reasoning, hosted tool calls) join the assistant message
  before them (or start one); each ``*_output`` item is one ``tool`` message with a
  ``tool_call_response`` part. ``instructions`` -> ``gen_ai.system_instructions``.
"""

from __future__ import annotations

from typing import Any

from ...semconv import attributes as A
from ...semconv import messages as P
from ...semconv.content import blob_content_enabled
from ...semconv.usage import TokenUsage
from .._core.instrumentor import Method
from .._stainless import helper_hooks
from .._core.operation import Operation, StreamAccumulator
from .._core.params import get, string_fields
from ._common import OUTPUT_TYPES
from ._common import usage_from as _usage_from  # noqa: I001

# kwarg -> attribute, copied when the value is a plain str/bool/int/float
_REQUEST_PARAMS = (
    ("temperature", A.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", A.GEN_AI_REQUEST_TOP_P),
    ("max_output_tokens", A.GEN_AI_REQUEST_MAX_TOKENS),
    ("previous_response_id", A.GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID),
)

_STATIC_ATTRIBUTES = {
    A.GEN_AI_OPERATION_NAME: A.GenAIOperationName.CHAT,
    A.OPENAI_API_TYPE: A.OpenAIApiType.RESPONSES,
}

# Response field -> attribute (plain non-empty strings only)
_RESPONSE_FIELDS = (
    ("id", A.GEN_AI_RESPONSE_ID),
    ("model", A.GEN_AI_RESPONSE_MODEL),
    ("service_tier", A.OPENAI_RESPONSE_SERVICE_TIER),
)

# Response.status -> finish reason ("completed" is "stop" or "tool_call", see _finish_reason)
_STATUS_FINISH_REASONS = {"failed": "error", "cancelled": "cancelled"}
# incomplete_details.reason -> finish reason, where semconv has a name for it (else the reason as is)
_INCOMPLETE_FINISH_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}
_STOP = "stop"
_TOOL_CALL = "tool_call"

# Tool calls the application executes (answered by ``<type>_output`` items): item type ->
# (tool name, ``None`` for the item's own ``name``; the fields holding the arguments, first present wins)
_CLIENT_TOOL_CALLS = {
    "function_call": (None, ("arguments",)),
    "custom_tool_call": (None, ("input",)),
    "computer_call": ("computer", ("action", "actions")),
    "local_shell_call": ("local_shell", ("action",)),
    "shell_call": ("shell", ("action",)),
    "apply_patch_call": ("apply_patch", ("operation",)),
}
_CLIENT_TOOL_OUTPUTS = frozenset(f"{kind}_output" for kind in _CLIENT_TOOL_CALLS)

# Tools the provider executes: item type -> (server_tool_call type, part name (``None``: the item's
# ``name``), call detail fields, result fields)
_SERVER_TOOL_CALLS = {
    "web_search_call": ("web_search", "web_search", ("action",), ()),
    "file_search_call": ("file_search", "file_search", ("queries",), ("results",)),
    "code_interpreter_call": ("code_interpreter", "code_interpreter", ("code", "container_id"), ("outputs",)),
    "image_generation_call": ("image_generation", "image_generation", ("revised_prompt", "size", "quality"), ()),
    "mcp_call": ("mcp", None, ("server_label", "arguments"), ("output", "error")),
    "mcp_list_tools": ("mcp_list_tools", "mcp_list_tools", ("server_label",), ("tools", "error")),
    "tool_search_call": ("tool_search", "tool_search", ("arguments",), ()),
}

# message content part type -> the field holding its text
_TEXT_CONTENT = {"input_text": "text", "output_text": "text", "text": "text", "refusal": "refusal"}


class ResponsesOperation(Operation):
    """``Responses.create`` / ``parse`` (sync and async) -> one ``chat {model}`` CLIENT span."""

    operation_name = A.GenAIOperationName.CHAT

    def request(self, instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        attrs = self.context.request_attributes(_STATIC_ATTRIBUTES, instance, kwargs, _REQUEST_PARAMS)
        output_type = _output_type(kwargs)
        if output_type:
            attrs[A.GEN_AI_OUTPUT_TYPE] = output_type
        conversation = _conversation_id(kwargs.get("conversation"))
        if conversation:
            attrs[A.GEN_AI_CONVERSATION_ID] = conversation
        return attrs

    def request_content(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        content: dict[str, Any] = {}
        keep_blobs = blob_content_enabled()
        messages = _input_messages(kwargs.get("input"), keep_blobs)
        if messages is not None:
            content[A.GEN_AI_INPUT_MESSAGES] = messages
        instructions = kwargs.get("instructions")
        if isinstance(instructions, str) and instructions:
            content[A.GEN_AI_SYSTEM_INSTRUCTIONS] = [P.text_part(instructions)]
        tools = kwargs.get("tools")
        if isinstance(tools, (list, tuple)) and tools:
            content[A.GEN_AI_TOOL_DEFINITIONS] = [_tool_definition(t) for t in tools]
        return content

    def response(self, result: Any, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        return _extract(result, capture_content, final=True)

    def new_accumulator(self, kwargs: dict[str, Any]) -> ResponsesStreamAccumulator:
        return ResponsesStreamAccumulator()


_MODULE = "openai.resources.responses.responses"

# (module, class, method, is_async, Operation factory taking the stream types)
METHODS = (
    Method(_MODULE, "Responses", "create", False, ResponsesOperation),
    Method(_MODULE, "AsyncResponses", "create", True, ResponsesOperation),
    Method(_MODULE, "Responses", "parse", False, ResponsesOperation),
    Method(_MODULE, "AsyncResponses", "parse", True, ResponsesOperation),
)

# The ``responses.stream()`` helper: its close() closes the HTTP response directly, bypassing our
# stream proxy (leaving the block early would otherwise end the span only at garbage collection),
# and its ``__exit__`` drops the exception that left the block (see ``_stainless.helpers``)
HELPER_HOOKS = helper_hooks("openai.lib.streaming.responses._responses", "ResponseStream", "ResponseStreamManager")


# --- request -------------------------------------------------------------------------------------
def _output_type(kwargs: dict[str, Any]) -> str | None:
    if isinstance(kwargs.get("text_format"), type):  # parse()/stream() with a pydantic model
        return A.GenAIOutputType.JSON
    kind = get(get(kwargs.get("text"), "format"), "type")
    return OUTPUT_TYPES.get(kind) if isinstance(kind, str) else None


def _conversation_id(conversation: Any) -> str | None:
    """``conversation`` as sent (an id or ``{"id": ...}``) or as returned (``Conversation`` model)."""
    if isinstance(conversation, str):
        return conversation or None
    if conversation is None:
        return None
    value = get(conversation, "id")
    return value if isinstance(value, str) and value else None


def _tool_definition(tool: Any) -> dict[str, Any]:
    """A Responses ``tools`` entry as a semconv tool definition; built-in tools as ``{type, name: type}``."""
    kind = get(tool, "type") or "function"
    if kind == "function":
        function = get(tool, "function")  # the Chat Completions shape parse()/stream() also accept
        source = tool if function is None else function
        definition: dict[str, Any] = {"type": "function", "name": get(source, "name") or ""}
        description = get(source, "description")
        if isinstance(description, str) and description:
            definition["description"] = description
        parameters = get(source, "parameters")
        if parameters is not None:
            definition["parameters"] = P.plain(parameters)
        return definition
    if kind == "custom":
        definition = {"type": "custom", "name": get(tool, "name") or "custom"}
        description = get(tool, "description")
        if isinstance(description, str) and description:
            definition["description"] = description
        return definition
    return {"type": kind, "name": kind}


def _input_messages(value: Any, keep_blobs: bool) -> list[dict[str, Any]] | None:
    """``input`` as semconv input messages; ``None`` for anything but a string, list or tuple (a
    generator the SDK has yet to read is never iterated)."""
    if isinstance(value, str):
        return [{"role": "user", "parts": [P.text_part(value)]}]
    if not isinstance(value, (list, tuple)):
        return None
    messages: list[dict[str, Any]] = []
    for item in value:
        kind = get(item, "type")
        if kind is None or kind == "message":  # an "easy" input message may omit its type
            parts: list[dict[str, Any]] = []
            _content_parts(get(item, "content"), parts, keep_blobs)
            messages.append({"role": get(item, "role") or "user", "parts": parts})
        elif kind in _CLIENT_TOOL_OUTPUTS:
            call_id = get(item, "call_id") or get(item, "id")
            response = _tool_output(get(item, "output"), keep_blobs)
            messages.append({"role": "tool", "parts": [P.tool_call_response_part(call_id, response)]})
        else:
            parts = _item_parts(item, kind, keep_blobs)
            if not parts:
                continue
            if messages and messages[-1]["role"] == "assistant":
                messages[-1]["parts"].extend(parts)
            else:
                messages.append({"role": "assistant", "parts": parts})
    return messages


def _content_parts(content: Any, parts: list[dict[str, Any]], keep_blobs: bool) -> None:
    """Message content (a string or a list of Responses content parts) appended to ``parts``."""
    P.content_parts(content, parts, keep_blobs, _content_item_parts)


def _content_item_parts(item: Any, kind: Any, parts: list[dict[str, Any]], keep_blobs: bool) -> None:
    field = _TEXT_CONTENT.get(kind)
    if field is not None:
        text = get(item, field)
        parts.append(P.text_part(text if isinstance(text, str) else ""))
    elif kind == "input_image":
        file_id = get(item, "file_id")
        url = get(item, "image_url")
        if isinstance(url, str) and url:
            parts.append(P.data_url_part(url, "image", keep_blobs))
        elif isinstance(file_id, str) and file_id:
            parts.append(P.file_part("image", file_id))
    elif kind == "input_file":
        file_id, url, data = get(item, "file_id"), get(item, "file_url"), get(item, "file_data")
        if isinstance(file_id, str) and file_id:
            parts.append(P.file_part("document", file_id))
        elif isinstance(url, str) and url:
            parts.append(P.uri_part("document", url))
        elif isinstance(data, str):
            if data.startswith("data:"):
                parts.append(P.data_url_part(data, "document", keep_blobs))
            else:
                parts.append(P.blob_part("document", None, data, keep_blobs))
    elif kind == "input_audio":
        audio = get(item, "input_audio")
        fmt = get(audio, "format")
        data = get(audio, "data")
        parts.append(P.blob_part("audio", f"audio/{fmt}" if fmt else None, data if isinstance(data, str) else "", keep_blobs))


def _tool_output(output: Any, keep_blobs: bool) -> Any:
    """A tool result as sent back: the text; the joined text of text-only content; converted parts
    otherwise; any other shape (e.g. a computer screenshot) as plain JSON with data URLs blanked."""
    if output is None or isinstance(output, str):
        return output
    if isinstance(output, (list, tuple)):
        if all(get(p, "type") in _TEXT_CONTENT for p in output):
            return "".join(get(p, "text") or "" for p in output)
        parts: list[dict[str, Any]] = []
        _content_parts(output, parts, keep_blobs)
        return parts
    return _scrub(P.plain(output), keep_blobs)


# --- response ------------------------------------------------------------------------------------
def _extract(response: Any, capture_content: bool, final: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
    """``(attributes, usage, content)`` of a ``Response``. ``final=False`` for an in-progress snapshot
    (streams cut short): its service tier is the request's echo and it has no usage yet."""
    attrs: dict[str, Any] = {}
    string_fields(response, _RESPONSE_FIELDS if final else _RESPONSE_FIELDS[:2], attrs)
    conversation = _conversation_id(getattr(response, "conversation", None))
    if conversation:
        attrs[A.GEN_AI_CONVERSATION_ID] = conversation
    if not final:
        return attrs, None, {}
    output = getattr(response, "output", None) or ()
    finish_reason = _finish_reason(response, output)
    if finish_reason:
        attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] = [finish_reason]
    content: dict[str, Any] = {}
    if capture_content:
        keep_blobs = blob_content_enabled()
        parts = [part for item in output for part in _item_parts(item, get(item, "type"), keep_blobs)]
        if parts or finish_reason:
            content[A.GEN_AI_OUTPUT_MESSAGES] = [{"role": "assistant", "parts": parts, "finish_reason": finish_reason or ""}]
    return attrs, usage_from(getattr(response, "usage", None)), content


def _finish_reason(response: Any, output: Any) -> str | None:
    status = getattr(response, "status", None)
    if status == "completed":
        return _TOOL_CALL if any(get(item, "type") in _CLIENT_TOOL_CALLS for item in output) else _STOP
    if status == "incomplete":
        reason = get(getattr(response, "incomplete_details", None), "reason")
        if isinstance(reason, str) and reason:
            return _INCOMPLETE_FINISH_REASONS.get(reason, reason)
        return "incomplete"
    return _STATUS_FINISH_REASONS.get(status) if isinstance(status, str) else None


def usage_from(usage: Any) -> TokenUsage | None:
    """This API's usage object -> normal form (:func:`._common.usage_from`)."""
    return _usage_from(usage, "input|output")


def _item_parts(item: Any, kind: Any, keep_blobs: bool) -> list[dict[str, Any]]:
    """The parts of one output item (also of an output item sent back as input); a message's role
    is dropped (the caller knows it)."""
    if kind == "message":
        parts: list[dict[str, Any]] = []
        _content_parts(get(item, "content"), parts, keep_blobs)
        return parts
    if kind == "reasoning":
        text = _reasoning_text(item)
        return [P.reasoning_part(text)] if text else []
    client = _CLIENT_TOOL_CALLS.get(kind)
    if client is not None:
        name, fields = client
        return [P.tool_call_part(get(item, "call_id") or get(item, "id"), name or get(item, "name"), _first(item, fields))]
    server = _SERVER_TOOL_CALLS.get(kind)
    if server is not None:
        return _server_tool_parts(item, server, keep_blobs)
    if isinstance(kind, str) and kind.endswith("_call"):  # a hosted tool this table does not know yet
        name = kind[:-5]
        return [{"type": "server_tool_call", "id": get(item, "id"), "name": name, "server_tool_call": {"type": name}}]
    return []


def _reasoning_text(item: Any) -> str:
    texts = [get(s, "text") for s in get(item, "summary") or ()]
    texts += [get(c, "text") for c in get(item, "content") or ()]
    return "\n\n".join(t for t in texts if isinstance(t, str) and t)


def _first(item: Any, fields: tuple[str, ...]) -> Any:
    for field in fields:
        value = get(item, field)
        if value is not None:
            return P.plain(value)
    return None


def _server_tool_parts(item: Any, spec: tuple[Any, ...], keep_blobs: bool) -> list[dict[str, Any]]:
    tool_type, name, call_fields, result_fields = spec
    item_id = get(item, "id")
    call: dict[str, Any] = {"type": tool_type}
    for field in call_fields:
        value = get(item, field)
        if value is not None:
            call[field] = P.decode_arguments(value) if field == "arguments" else P.plain(value)
    parts = [{
        "type": "server_tool_call",
        "id": item_id,
        "name": name or get(item, "name") or tool_type,
        "server_tool_call": _scrub(call, keep_blobs),
    }]
    result: dict[str, Any] = {}
    for field in result_fields:
        value = get(item, field)
        if value is not None:
            result[field] = P.plain(value)
    if result:
        parts.append({
            "type": "server_tool_call_response",
            "id": item_id,
            "server_tool_call_response": _scrub({"type": tool_type, **result}, keep_blobs),
        })
    if tool_type == "image_generation":
        image = get(item, "result")
        if isinstance(image, str) and image:
            fmt = get(item, "output_format")
            parts.append(P.blob_part("image", f"image/{fmt}" if isinstance(fmt, str) else None, image, keep_blobs))
    return parts


def _scrub(value: Any, keep_blobs: bool) -> Any:
    """Blank the payload of every ``data:`` URL in a plain JSON value (blob policy)."""
    if keep_blobs:
        return value
    if isinstance(value, str):
        return value.partition(",")[0] + "," if value.startswith("data:") else value
    if isinstance(value, dict):
        return {k: _scrub(v, keep_blobs) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, keep_blobs) for v in value]
    return value


# --- streaming -----------------------------------------------------------------------------------
class _ItemState:
    """One output item of a stream: its latest snapshot and the deltas that arrived for it."""

    __slots__ = ("item", "done", "texts", "arguments")

    def __init__(self) -> None:
        self.item: Any = None
        self.done = False
        self.texts: dict[tuple[int, int], list[str]] = {}  # (0 text|1 summary|2 reasoning, index) -> fragments
        self.arguments: list[str] = []

    def parts(self, keep_blobs: bool) -> list[dict[str, Any]]:
        item = self.item
        kind = get(item, "type")
        if self.done:
            return _item_parts(item, kind, keep_blobs)
        ordered = ["".join(self.texts[key]) for key in sorted(self.texts)]
        if kind == "reasoning":
            text = "\n\n".join(t for t in ordered if t)
            return [P.reasoning_part(text)] if text else []
        client = _CLIENT_TOOL_CALLS.get(kind)
        if client is not None:
            name, fields = client
            arguments = "".join(self.arguments) if self.arguments else _first(item, fields)
            return [P.tool_call_part(get(item, "call_id") or get(item, "id"), name or get(item, "name"), arguments)]
        if kind == "message" or item is None:  # deltas without an ``output_item.added`` are kept too
            parts = [P.text_part(t) for t in ordered]
            if self.arguments:
                parts.append(P.tool_call_part(None, None, "".join(self.arguments)))
            return parts
        return _item_parts(item, kind, keep_blobs)


class ResponsesStreamAccumulator(StreamAccumulator):
    """Folds ``ResponseStreamEvent`` s. The terminal event (``response.completed`` / ``incomplete`` /
    ``failed``) carries the whole response, which is read as a non-streamed one; a stream that ends
    before it records what arrived: id and model of ``response.created``, output text, refusal and
    reasoning deltas, function-call argument deltas (no finish reason, no usage)."""

    __slots__ = ("snapshot", "final", "items")

    def __init__(self) -> None:
        self.snapshot: Any = None  # response of created / in_progress / queued
        self.final: Any = None  # response of completed / incomplete / failed
        self.items: dict[int, _ItemState] = {}

    def on_chunk(self, chunk: Any) -> None:
        handler = _HANDLERS.get(chunk.type)
        if handler is not None:
            handler(self, chunk)

    def _state(self, index: int) -> _ItemState:
        state = self.items.get(index)
        if state is None:
            state = self.items[index] = _ItemState()
        return state

    def _text_delta(self, event: Any) -> None:
        self._state(event.output_index).texts.setdefault((0, event.content_index), []).append(event.delta)

    def _summary_delta(self, event: Any) -> None:
        self._state(event.output_index).texts.setdefault((1, event.summary_index), []).append(event.delta)

    def _reasoning_delta(self, event: Any) -> None:
        self._state(event.output_index).texts.setdefault((2, event.content_index), []).append(event.delta)

    def _arguments_delta(self, event: Any) -> None:
        delta = event.delta
        if delta:
            self._state(event.output_index).arguments.append(delta)

    def _item_added(self, event: Any) -> None:
        self._state(event.output_index).item = event.item

    def _item_done(self, event: Any) -> None:
        state = self._state(event.output_index)
        state.item = event.item
        state.done = True

    def _in_progress(self, event: Any) -> None:
        self.snapshot = event.response

    def _terminal(self, event: Any) -> None:
        self.final = event.response

    def result(self, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        if self.final is not None:
            return _extract(self.final, capture_content, final=True)
        attrs: dict[str, Any] = {}
        if self.snapshot is not None:
            attrs = _extract(self.snapshot, False, final=False)[0]
        content: dict[str, Any] = {}
        if capture_content and self.items:
            keep_blobs = blob_content_enabled()
            parts = [part for index in sorted(self.items) for part in self.items[index].parts(keep_blobs)]
            content[A.GEN_AI_OUTPUT_MESSAGES] = [{"role": "assistant", "parts": parts, "finish_reason": ""}]
        return attrs, None, content


_HANDLERS = {
    "response.output_text.delta": ResponsesStreamAccumulator._text_delta,
    "response.refusal.delta": ResponsesStreamAccumulator._text_delta,
    "response.function_call_arguments.delta": ResponsesStreamAccumulator._arguments_delta,
    "response.custom_tool_call_input.delta": ResponsesStreamAccumulator._arguments_delta,
    "response.reasoning_summary_text.delta": ResponsesStreamAccumulator._summary_delta,
    "response.reasoning_text.delta": ResponsesStreamAccumulator._reasoning_delta,
    "response.output_item.added": ResponsesStreamAccumulator._item_added,
    "response.output_item.done": ResponsesStreamAccumulator._item_done,
    "response.created": ResponsesStreamAccumulator._in_progress,
    "response.in_progress": ResponsesStreamAccumulator._in_progress,
    "response.queued": ResponsesStreamAccumulator._in_progress,
    "response.completed": ResponsesStreamAccumulator._terminal,
    "response.incomplete": ResponsesStreamAccumulator._terminal,
    "response.failed": ResponsesStreamAccumulator._terminal,
}
