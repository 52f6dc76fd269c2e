"""OpenAI Chat Completions (``chat.completions.create``): request, response and stream mapping.

Declared as tables where the mapping is one-to-one (``REQUEST_PARAMS``); the message conversion
turns the SDK's message shapes (dicts or SDK models) into semconv v1.41.1 parts.
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
from .._core.params import extra_field, get, stop_sequences, string_fields
from ._common import OUTPUT_TYPES
from ._common import usage_from as _usage_from  # noqa: I001

# kwarg -> attribute, copied when the value is a plain str/bool/int/float
REQUEST_PARAMS = (
    ("temperature", A.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", A.GEN_AI_REQUEST_TOP_P),
    ("max_tokens", A.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_completion_tokens", A.GEN_AI_REQUEST_MAX_TOKENS),
    ("seed", A.GEN_AI_REQUEST_SEED),
    ("frequency_penalty", A.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", A.GEN_AI_REQUEST_PRESENCE_PENALTY),
)

# field of a completion (or a chunk) -> attribute, copied when a non-empty string
RESPONSE_FIELDS = (
    ("id", A.GEN_AI_RESPONSE_ID),
    ("model", A.GEN_AI_RESPONSE_MODEL),
    ("service_tier", A.OPENAI_RESPONSE_SERVICE_TIER),
    ("system_fingerprint", A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
)

_STATIC_ATTRIBUTES = {
    A.GEN_AI_OPERATION_NAME: A.GenAIOperationName.CHAT,
    A.OPENAI_API_TYPE: A.OpenAIApiType.CHAT_COMPLETIONS,
}


_MODULE = "openai.resources.chat.completions.completions"


class ChatCompletions(Operation):
    """``Completions.create`` / ``AsyncCompletions.create`` -> one ``chat {model}`` CLIENT span."""

    operation_name = A.GenAIOperationName.CHAT

    def request(self, instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        attrs = self.context.request_attributes(_STATIC_ATTRIBUTES, instance, kwargs, REQUEST_PARAMS)
        stop = stop_sequences(kwargs.get("stop"))
        if stop:
            attrs[A.GEN_AI_REQUEST_STOP_SEQUENCES] = stop
        output_type = _output_type(kwargs.get("response_format"))
        if output_type:
            attrs[A.GEN_AI_OUTPUT_TYPE] = output_type
        return attrs

    def request_content(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        content: dict[str, Any] = {}
        messages = kwargs.get("messages")
        if isinstance(messages, (list, tuple)):  # never iterate a generator the SDK has yet to read
            keep_blobs = blob_content_enabled()
            content[A.GEN_AI_INPUT_MESSAGES] = [_input_message(m, keep_blobs) for m in messages]
        tools = kwargs.get("tools")
        if isinstance(tools, (list, tuple)) and tools:
            content[A.GEN_AI_TOOL_DEFINITIONS] = [_tool_definition(t) for t in tools]
        return content

    def response(self, result: Any, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        attrs: dict[str, Any] = {}
        string_fields(result, RESPONSE_FIELDS, attrs)
        choices = result.choices or ()
        reasons = [c.finish_reason for c in choices if c.finish_reason]
        if reasons:
            attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        content = {}
        if capture_content:
            content[A.GEN_AI_OUTPUT_MESSAGES] = [
                _output_message(c.message, c.finish_reason) for c in choices
            ]
        return attrs, usage_from(result.usage), content

    def new_accumulator(self, kwargs: dict[str, Any]) -> ChatStreamAccumulator:
        return ChatStreamAccumulator()


METHODS = (
    Method(_MODULE, "Completions", "create", False, ChatCompletions),
    Method(_MODULE, "AsyncCompletions", "create", True, ChatCompletions),
    # parse() posts by itself (it does not call create); stream() calls create(stream=True)
    Method(_MODULE, "Completions", "parse", False, ChatCompletions),
    Method(_MODULE, "AsyncCompletions", "parse", True, ChatCompletions),
)

# The ``chat.completions.stream()`` helper (``ChatCompletionStream`` and its manager): its close()
# closes the HTTP response without our proxy, and its ``__exit__`` drops the exception that left the
# ``with`` block, so both are hooked (see ``_stainless.helpers``)
HELPER_HOOKS = helper_hooks("openai.lib.streaming.chat._completions", "ChatCompletionStream", "ChatCompletionStreamManager")


def _output_type(response_format: Any) -> str | None:
    if isinstance(response_format, dict):
        return OUTPUT_TYPES.get(response_format.get("type"))
    if isinstance(response_format, type):  # a pydantic model class (structured outputs)
        return A.GenAIOutputType.JSON
    return None


def usage_from(usage: Any) -> TokenUsage | None:
    """This API's usage object -> normal form (:func:`._common.usage_from`)."""
    return _usage_from(usage, "prompt|completion")


# --- message conversion (SDK shapes -> semconv parts) ---------------------------------------------
def _input_message(message: Any, keep_blobs: bool) -> dict[str, Any]:
    role = get(message, "role") or "user"
    parts: list[dict[str, Any]] = []
    if role == "tool":
        parts.append(P.tool_call_response_part(get(message, "tool_call_id"), _content_value(get(message, "content"))))
    else:
        _content_parts(get(message, "content"), parts, keep_blobs)
        for call in get(message, "tool_calls") or ():
            function = get(call, "function")
            parts.append(P.tool_call_part(get(call, "id"), get(function, "name"), get(function, "arguments")))
        function_call = get(message, "function_call")
        if function_call:
            parts.append(P.tool_call_part(None, get(function_call, "name"), get(function_call, "arguments")))
    out: dict[str, Any] = {"role": role, "parts": parts}
    name = get(message, "name")
    if isinstance(name, str):
        out["name"] = name
    return out


def _content_value(content: Any) -> Any:
    """A tool message's content as one value: the text, or the joined text of its text parts."""
    if isinstance(content, str) or content is None:
        return content
    if isinstance(content, (list, tuple)):
        return "".join(get(p, "text") or "" for p in content)
    return str(content)


def _content_parts(content: Any, parts: list[dict[str, Any]], keep_blobs: bool) -> None:
    """Message content (a string or a list of Chat Completions content parts) appended to ``parts``."""
    P.content_parts(content, parts, keep_blobs, _content_item_parts)


def _content_item_parts(item: Any, kind: Any, parts: list[dict[str, Any]], keep_blobs: bool) -> None:
    if kind == "text":
        parts.append(P.text_part(get(item, "text") or ""))
    elif kind == "image_url":
        url = get(get(item, "image_url"), "url")
        if isinstance(url, str):
            parts.append(P.data_url_part(url, "image", keep_blobs))
    elif kind == "input_audio":
        audio = get(item, "input_audio")
        fmt = get(audio, "format")
        parts.append(P.blob_part("audio", f"audio/{fmt}" if fmt else None, get(audio, "data") or "", keep_blobs))
    elif kind == "file":
        file = get(item, "file")
        file_id = get(file, "file_id")
        if file_id:
            parts.append(P.file_part("document", file_id))
        else:
            data = get(file, "file_data") or ""
            parts.append(P.data_url_part(data, "document", keep_blobs) if data.startswith("data:") else P.blob_part("document", None, data, keep_blobs))
    elif kind == "refusal":
        parts.append(P.text_part(get(item, "refusal") or ""))


def _output_message(message: Any, finish_reason: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if message is not None:
        reasoning = extra_field(message, "reasoning_content")  # OpenAI-compatible servers (vLLM, DeepSeek)
        if isinstance(reasoning, str) and reasoning:
            parts.append(P.reasoning_part(reasoning))
        if message.content:
            parts.append(P.text_part(message.content))
        if message.refusal:
            parts.append(P.text_part(message.refusal))
        for call in message.tool_calls or ():
            function = getattr(call, "function", None)
            parts.append(P.tool_call_part(call.id, getattr(function, "name", None), getattr(function, "arguments", None)))
        if message.function_call:
            parts.append(P.tool_call_part(None, message.function_call.name, message.function_call.arguments))
        audio = message.audio
        if audio is not None and audio.transcript:
            parts.append(P.text_part(audio.transcript))
    role = getattr(message, "role", None) or "assistant"
    return {"role": role, "parts": parts, "finish_reason": finish_reason or ""}


def _tool_definition(tool: Any) -> dict[str, Any]:
    """An OpenAI ``tools`` entry as a semconv tool definition (``type``, ``name``, ...)."""
    kind = get(tool, "type") or "function"
    function = get(tool, "function")
    if function is None:
        return {"type": kind, **({"name": get(tool, "name")} if get(tool, "name") else {})}
    definition: dict[str, Any] = {"type": kind, "name": get(function, "name")}
    description = get(function, "description")
    if description:
        definition["description"] = description
    parameters = get(function, "parameters")
    if parameters is not None:
        definition["parameters"] = parameters
    return definition


# --- streaming -----------------------------------------------------------------------------------
class _ChoiceState:
    __slots__ = ("role", "text", "reasoning", "tool_calls", "finish_reason")

    def __init__(self) -> None:
        self.role: str | None = None
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: dict[int, list[Any]] = {}  # index -> [id, name, [argument fragments]]
        self.finish_reason: str | None = None


class ChatStreamAccumulator(StreamAccumulator):
    """Folds ``ChatCompletionChunk`` s: text, reasoning, tool-call deltas (``arguments`` may be
    ``None``), finish reasons per choice, and the usage chunk of ``include_usage`` streams."""

    __slots__ = ("metadata", "choices", "usage")

    def __init__(self) -> None:
        self.metadata: dict[str, Any] = {}
        self.choices: dict[int, _ChoiceState] = {}
        self.usage: Any = None

    def on_chunk(self, chunk: Any) -> None:
        if not self.metadata:
            string_fields(chunk, RESPONSE_FIELDS, self.metadata)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
        for choice in chunk.choices or ():
            index = choice.index or 0  # some OpenAI-compatible servers omit it
            state = self.choices.get(index)
            if state is None:
                state = self.choices[index] = _ChoiceState()
            if choice.finish_reason:
                state.finish_reason = choice.finish_reason
            delta = choice.delta
            if delta is None:
                continue
            if delta.role:
                state.role = delta.role
            if delta.content:
                state.text.append(delta.content)
            reasoning = extra_field(delta, "reasoning_content")
            if isinstance(reasoning, str) and reasoning:
                state.reasoning.append(reasoning)
            if delta.tool_calls:
                for call in delta.tool_calls:
                    entry = state.tool_calls.get(call.index)
                    if entry is None:
                        entry = state.tool_calls[call.index] = [None, None, []]
                    if call.id:
                        entry[0] = call.id
                    function = call.function
                    if function is not None:
                        if function.name:
                            entry[1] = function.name
                        if function.arguments:
                            entry[2].append(function.arguments)

    def result(self, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        attrs = dict(self.metadata)
        ordered = [self.choices[i] for i in sorted(self.choices)]
        reasons = [s.finish_reason for s in ordered if s.finish_reason]
        if reasons:
            attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        content = {}
        if capture_content:
            messages = []
            for state in ordered:
                parts = []
                if state.reasoning:
                    parts.append(P.reasoning_part("".join(state.reasoning)))
                if state.text:
                    parts.append(P.text_part("".join(state.text)))
                for index in sorted(state.tool_calls):
                    call_id, name, fragments = state.tool_calls[index]
                    parts.append(P.tool_call_part(call_id, name, "".join(fragments)))
                messages.append({"role": state.role or "assistant", "parts": parts, "finish_reason": state.finish_reason or ""})
            content[A.GEN_AI_OUTPUT_MESSAGES] = messages
        return attrs, usage_from(self.usage), content
