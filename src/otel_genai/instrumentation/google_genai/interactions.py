"""The Interactions API (``client.interactions.create``, streamed or not, and ``client.aio``):
``POST /v1beta/interactions``.

One CLIENT span per call: ``chat {model}`` for a model interaction, ``invoke_agent {agent}`` (with
``gen_ai.agent.name``) for an agent one (``agent=``, e.g. Deep Research, usually ``background=True``:
the span then ends with the ``in_progress`` interaction the call returns).

Shapes (the SDK's ``google.genai.interactions`` types, and the older wire shapes still found in
recorded traffic, which the SDK passes through unparsed: ``outputs`` instead of ``steps``;
``interaction.start`` / ``content.*`` / ``interaction.complete`` stream events instead of
``interaction.created`` / ``step.*`` / ``interaction.completed``):

* request: ``model`` or ``agent``; ``input`` (a string, content items, or turns with ``role`` /
  ``content``) as ``gen_ai.input.messages``; ``system_instruction``; ``tools``;
  ``generation_config`` (temperature, top_p, max_output_tokens, seed, stop_sequences);
  ``stream=True`` -> ``gen_ai.request.stream``;
* response: ``id``, ``model``, ``status`` as finish reason (``completed`` -> ``stop``, or
  ``tool_call`` when the output asks for a function call; ``requires_action`` -> ``tool_call``;
  ``incomplete`` -> ``length``; ``failed`` / ``cancelled`` -> ``error``; ``in_progress`` none),
  ``steps`` / ``outputs`` as the output message (text, thought summaries as ``reasoning``, function
  calls and results);
* usage: input = ``total_input_tokens`` + ``total_tool_use_tokens``, output =
  ``total_output_tokens`` + ``total_thought_tokens`` (their sum is ``total_tokens``), cache read =
  ``total_cached_tokens``, reasoning = ``total_thought_tokens``. In a stream the latest usage wins
  (the events' ``metadata.usage`` and the final interaction's ``usage`` are running totals).
"""

from __future__ import annotations

import importlib
from typing import Any

from ...semconv import attributes as A
from ...semconv import messages as P
from ...semconv.usage import TokenUsage
from .._core.instrumentor import Method
from .._core.operation import Operation, StreamAccumulator, agent_span_name
from . import _common as C
from .models import ENTRY, api_client_of

MODULE = "google.genai._gaos.google_genai"
_STREAMING = "google.genai._gaos.utils.eventstreaming"

_GENERATION_PARAMS = (
    ("temperature", A.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", A.GEN_AI_REQUEST_TOP_P),
    ("max_output_tokens", A.GEN_AI_REQUEST_MAX_TOKENS),
    ("seed", A.GEN_AI_REQUEST_SEED),
)

_STATUS_REASONS = {
    "completed": A.GenAIFinishReason.STOP,
    "requires_action": A.GenAIFinishReason.TOOL_CALL,
    "incomplete": A.GenAIFinishReason.LENGTH,
    "failed": A.GenAIFinishReason.ERROR,
    "cancelled": A.GenAIFinishReason.ERROR,
}


def stream_types(method: Method) -> tuple[type, ...]:
    """The SDK's stream class for ``method`` (``eventstreaming.Stream`` / ``AsyncStream``)."""
    module = importlib.import_module(_STREAMING)  # loaded with the interactions resource
    return (module.AsyncStream,) if method.is_async else (module.Stream,)


def _data(obj: Any) -> Any:
    """An event or item as readable data: an unparsed (unknown) event's ``raw`` dict, else itself."""
    raw = getattr(obj, "raw", None)
    if isinstance(raw, dict) and getattr(obj, "is_unknown", False):
        return raw
    return obj


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


class CreateInteraction(Operation):
    """``interactions.create`` -> ``chat {model}`` (or ``invoke_agent {agent}``, see :meth:`select`)."""

    operation_name = A.GenAIOperationName.CHAT

    def select(self, kwargs: dict[str, Any]) -> Operation:
        """The operation of this call: an agent interaction is :class:`CreateAgentInteraction`."""
        if isinstance(kwargs.get("agent"), str) and self.agent_operation is not None:
            return self.agent_operation
        return self

    agent_operation: Operation | None = None

    def request(self, instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        attrs = {A.GEN_AI_OPERATION_NAME: self.operation_name, **self.context.client_attributes(getattr(instance, "_api_client", None) or api_client_of(instance))}
        model = kwargs.get("model")
        if isinstance(model, str) and model:
            attrs[A.GEN_AI_REQUEST_MODEL] = model
        agent = kwargs.get("agent")
        if isinstance(agent, str) and agent:
            attrs[A.GEN_AI_AGENT_NAME] = agent
        config = kwargs.get("generation_config")
        if config is not None:
            for name, attribute in _GENERATION_PARAMS:
                value = C.field(config, name)
                if type(value) in (int, float):
                    attrs[attribute] = value
            stop = C.P_stop(C.field(config, "stop_sequences"))
            if stop:
                attrs[A.GEN_AI_REQUEST_STOP_SEQUENCES] = stop
        if kwargs.get("stream") is True:
            attrs[A.GEN_AI_REQUEST_STREAM] = True
        return attrs

    def request_content(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        content: dict[str, Any] = {A.GEN_AI_INPUT_MESSAGES: _input_messages(kwargs.get("input"))}
        system = kwargs.get("system_instruction")
        if isinstance(system, str) and system:
            content[A.GEN_AI_SYSTEM_INSTRUCTIONS] = [P.text_part(system)]
        tools = kwargs.get("tools")
        if isinstance(tools, (list, tuple)) and tools:
            content[A.GEN_AI_TOOL_DEFINITIONS] = [_tool_definition(t) for t in tools]
        return content

    def response(self, result: Any, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        attrs = _ids(result, {})
        items = C.field(result, "steps")
        if items is None:
            items = getattr(result, "outputs", None) or (getattr(result, "__pydantic_extra__", None) or {}).get("outputs")
        parts = _output_parts(items or ())
        reason = _finish_reason(C.field(result, "status"), parts)
        if reason:
            attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] = [reason]
        content = {}
        if capture_content and (parts or reason):  # a background interaction just started has no output yet
            content[A.GEN_AI_OUTPUT_MESSAGES] = [{"role": "assistant", "parts": parts, "finish_reason": reason or ""}]
        return attrs, usage_from(C.field(result, "usage")), content

    def new_accumulator(self, kwargs: dict[str, Any]) -> InteractionStreamAccumulator:
        return InteractionStreamAccumulator()


class CreateAgentInteraction(CreateInteraction):
    """An agent interaction (``agent=``) -> ``invoke_agent {agent}``."""

    operation_name = A.GenAIOperationName.INVOKE_AGENT
    # a remote agent (the service runs it): CLIENT, as every Operation; named ``invoke_agent {agent}``
    span_name = agent_span_name


def _ids(interaction: Any, attrs: dict[str, Any]) -> dict[str, Any]:
    value = C.field(interaction, "id")
    if isinstance(value, str) and value:
        attrs[A.GEN_AI_RESPONSE_ID] = value
    model = C.field(interaction, "model")
    if isinstance(model, str) and model:
        attrs[A.GEN_AI_RESPONSE_MODEL] = model
    return attrs


def _finish_reason(status: Any, parts: list[dict[str, Any]]) -> str | None:
    status = getattr(status, "value", status)
    reason = _STATUS_REASONS.get(status) if isinstance(status, str) else None
    if reason == A.GenAIFinishReason.STOP and any(p.get("type") == "tool_call" for p in parts):
        return A.GenAIFinishReason.TOOL_CALL
    return reason


def usage_from(usage: Any) -> TokenUsage | None:
    """The Interactions ``Usage`` -> normal form (see the module docstring)."""
    usage = _data(usage)
    if usage is None:
        return None
    total_input = C.field(usage, "total_input_tokens")
    tool_use = C.field(usage, "total_tool_use_tokens")
    total_output = C.field(usage, "total_output_tokens")
    thoughts = C.field(usage, "total_thought_tokens")
    input_tokens = None
    if type(total_input) is int or type(tool_use) is int:
        input_tokens = (total_input if type(total_input) is int else 0) + (tool_use if type(tool_use) is int else 0)
    output_tokens = None
    if type(total_output) is int or type(thoughts) is int:
        output_tokens = (total_output if type(total_output) is int else 0) + (thoughts if type(thoughts) is int else 0)
    if input_tokens is None and output_tokens is None:
        return None
    return TokenUsage(
        input_tokens, output_tokens, cache_read_input_tokens=C.field(usage, "total_cached_tokens"), reasoning_output_tokens=thoughts
    )


# --- content --------------------------------------------------------------------------------------------
def _content_part(item: Any) -> dict[str, Any] | None:
    """One content item (``{"type": "text", "text": ...}``, ``image`` / ``audio`` / ``document`` /
    ``video`` with ``uri`` or base64 ``data``, ``function_call``, ``function_result``, ``thought``)."""
    if isinstance(item, str):
        return P.text_part(item)
    item = _data(item)
    kind = C.field(item, "type")
    kind = getattr(kind, "value", kind)
    if kind == "text":
        return P.text_part(_text(C.field(item, "text")))
    if kind in ("image", "audio", "video", "document"):
        mime = C.field(item, "mime_type")
        uri = C.field(item, "uri")
        if isinstance(uri, str) and uri:
            return P.uri_part(kind, uri, mime)
        return P.blob_part(kind, mime, "", False)  # the base64 data is never kept here
    if kind == "function_call":
        return P.tool_call_part(C.field(item, "id"), C.field(item, "name"), C._plain(C.field(item, "arguments")))
    if kind == "function_result":
        return P.tool_call_response_part(C.field(item, "call_id") or C.field(item, "id"), C._plain(C.field(item, "result")))
    if kind == "thought":
        summary = C.field(item, "summary")
        text = "".join(_text(C.field(s, "text")) for s in summary) if isinstance(summary, list) else ""
        return P.reasoning_part(text) if text else None
    if isinstance(kind, str):
        return {"type": kind}
    return None


def _output_parts(items: Any) -> list[dict[str, Any]]:
    """The parts of an interaction's ``steps`` (``model_output`` steps hold content items) or legacy ``outputs``."""
    parts: list[dict[str, Any]] = []
    for item in items:
        data = _data(item)
        kind = C.field(data, "type")
        if getattr(kind, "value", kind) == "model_output":
            for content in C.field(data, "content") or ():
                part = _content_part(content)
                if part is not None:
                    parts.append(part)
            continue
        part = _content_part(item)
        if part is not None:
            parts.append(part)
    return parts


def _input_messages(value: Any) -> list[dict[str, Any]]:
    """``input``: a string (the user's text), content items (one user message), or turns
    (``{"role", "content"}``; ``model`` is semconv's ``assistant``)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "parts": [P.text_part(value)]}]
    items = value if isinstance(value, (list, tuple)) else [value]
    messages: list[dict[str, Any]] = []
    loose: list[dict[str, Any]] = []
    for item in items:
        role = C.field(item, "role")
        if isinstance(role, str):
            content = C.field(item, "content")
            contents = [content] if isinstance(content, str) else (content or ())
            parts = [p for p in (_content_part(c) for c in contents) if p is not None]
            messages.append({"role": "assistant" if role == "model" else role, "parts": parts})
            continue
        part = _content_part(item)
        if part is not None:
            loose.append(part)
    if loose:
        messages.append({"role": "user", "parts": loose})
    return messages


def _tool_definition(tool: Any) -> dict[str, Any]:
    kind = C.field(tool, "type")
    kind = getattr(kind, "value", kind)
    if kind == "function":
        definition: dict[str, Any] = {"type": "function", "name": C.field(tool, "name") or ""}
        description = C.field(tool, "description")
        if isinstance(description, str) and description:
            definition["description"] = description
        parameters = C.field(tool, "parameters")
        if parameters is not None:
            definition["parameters"] = C._plain(parameters)
        return definition
    return {"type": kind if isinstance(kind, str) else "tool", "name": C.field(tool, "name") or (kind if isinstance(kind, str) else "")}


# --- streaming ------------------------------------------------------------------------------------------
class _Step:
    __slots__ = ("kind", "fragments", "part")

    def __init__(self, kind: Any) -> None:
        self.kind = kind
        self.fragments: list[str] = []
        self.part: dict[str, Any] | None = None


class InteractionStreamAccumulator(StreamAccumulator):
    """Folds Interactions SSE events (both event families, see the module docstring): ids and model
    from the created / completed interaction, steps and their text deltas (thought summaries as
    reasoning), the status, the latest usage."""

    __slots__ = ("attrs", "status", "usage", "steps")

    def __init__(self) -> None:
        self.attrs: dict[str, Any] = {}
        self.status: Any = None
        self.usage: Any = None
        self.steps: dict[int, _Step] = {}

    def on_chunk(self, event: Any) -> None:
        event = _data(event)
        kind = C.field(event, "event_type")
        metadata = C.field(event, "metadata")
        if metadata is not None:
            usage = C.field(_data(metadata), "usage")
            if usage is not None:
                self.usage = usage
        if kind in ("step.delta", "content.delta"):
            index = C.field(event, "index") or 0
            step = self.steps.get(index)
            if step is None:
                step = self.steps[index] = _Step(None)
            delta = _data(C.field(event, "delta"))
            delta_kind = C.field(delta, "type")
            if delta_kind == "text":
                step.fragments.append(_text(C.field(delta, "text")))
            elif delta_kind == "thought_summary":
                step.kind = "thought"
                step.fragments.append(_text(C.field(C.field(delta, "content"), "text")))
            elif delta_kind == "function_call":
                step.part = _content_part(delta)
        elif kind in ("step.start", "content.start"):
            index = C.field(event, "index") or 0
            start = _data(C.field(event, "step") or C.field(event, "content"))
            step_kind = C.field(start, "type")
            step = self.steps[index] = _Step(getattr(step_kind, "value", step_kind))
            if step.kind == "function_call":
                step.part = _content_part(start)
        elif kind in ("interaction.created", "interaction.start", "interaction.completed", "interaction.complete"):
            interaction = _data(C.field(event, "interaction"))
            _ids(interaction, self.attrs)
            status = C.field(interaction, "status")
            if status is not None:
                self.status = status
            usage = C.field(interaction, "usage")
            if usage is not None:
                self.usage = usage
        elif kind == "interaction.status_update":
            status = C.field(event, "status")
            if status is not None:
                self.status = status

    def _parts(self) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        for index in sorted(self.steps):
            step = self.steps[index]
            if step.part is not None:
                parts.append(step.part)
            elif step.fragments:
                text = "".join(step.fragments)
                parts.append(P.reasoning_part(text) if step.kind == "thought" else P.text_part(text))
        return parts

    def result(self, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        attrs = dict(self.attrs)
        parts = self._parts()
        reason = _finish_reason(self.status, parts)
        if reason:
            attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] = [reason]
        content = {}
        if capture_content and (parts or reason):
            content[A.GEN_AI_OUTPUT_MESSAGES] = [{"role": "assistant", "parts": parts, "finish_reason": reason or ""}]
        return attrs, usage_from(self.usage), content


METHODS = (
    Method(MODULE, "GeminiNextGenInteractions", "create", False, CreateInteraction, ENTRY),
    Method(MODULE, "AsyncGeminiNextGenInteractions", "create", True, CreateInteraction, ENTRY),
)
