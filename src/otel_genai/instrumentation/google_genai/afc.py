"""Automatic function calling (AFC): when the SDK itself runs the Python functions given in
``config.tools`` between model turns (``models.generate_content[_stream]`` and
``Chat.send_message[_stream]``, sync and async; ``google.genai._extra_utils``), the user's one call
becomes a small agent loop. It is traced as the seeds' agent example reads::

    invoke_agent                      (INTERNAL; the user's call: input, final output, no usage)
    ├── chat gemini-2.0-flash         (CLIENT; one per model turn, with its own usage)
    ├── execute_tool get_weather      (INTERNAL; one per function the SDK runs)
    └── chat gemini-2.0-flash

Span names and attributes follow semconv v1.41.1: the "Invoke agent" span (``invoke_agent``; no
``gen_ai.agent.name``: the SDK's loop has none, so the name is the operation alone) and the "Execute
tool" span (``execute_tool {gen_ai.tool.name}``, ``gen_ai.tool.type`` ``function``,
``gen_ai.tool.call.id`` when the model's ``function_call`` has an id, ``gen_ai.tool.call.arguments``
/ ``gen_ai.tool.call.result`` only when content is captured on spans). Usage stays on the ``chat``
spans only, so a trace's token totals count every turn once.

Decisions:

* AFC is in play when ``config.tools`` holds a Python callable and the SDK's own checks
  (``_extra_utils.should_disable_afc``, ``find_afc_incompatible_tool_indexes``) leave it on: the
  same decision the SDK takes, asked of the SDK.
* A tool the SDK runs gets its span from ``_extra_utils.invoke_function_from_dict_args[_async]``
  (the one place the SDK calls the user's function); the id is the one of the ``function_call`` part
  it answers (taken from the response ``get_function_response_parts`` reads). A tool that raises
  (the SDK wraps it in ``FunctionInvocationError`` and sends the error to the model) ends its span
  as ERROR with that exception's type.
* Inside a tool, our GenAI-call guard is cleared: a model call the tool makes is traced as its own
  call, a child of the tool span.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind

from ... import _last_trace
from ...semconv import attributes as A
from ...semconv.messages import to_json
from .._core.errors import record_error
from .._core.faults import log_fault
from .._core.instrumentor import Method
from .._core.invocation import GENAI_CALL_KEY, GenAITelemetry
from .._core.operation import StreamAccumulator, agent_span_name
from ...semconv.usage import TokenUsage
from . import _common as C
from .models import GenerateContent, GenerateContentAccumulator

#: context key: the ``Invocation`` of the AFC loop the current code runs in (``None`` inside a turn)
AFC_KEY = otel_context.create_key("otel_genai.google_genai.afc")
#: context key: ``[(name, id)]`` of the function calls of the response the SDK is answering
PENDING_KEY = otel_context.create_key("otel_genai.google_genai.pending_calls")

#: ``Method.kind`` of the hooks on ``_extra_utils``
TOOL_RUN, TOOL_BATCH = "tool_run", "tool_batch"

_UTILS = "google.genai._extra_utils"

_AGENT = {A.GEN_AI_OPERATION_NAME: A.GenAIOperationName.INVOKE_AGENT}


def afc_active(config: Any) -> bool:
    """Whether the SDK will run the functions of ``config`` itself (see the module docstring)."""
    tools = C.field(config, "tools")
    if not isinstance(tools, (list, tuple)) or not any(callable(t) and not isinstance(t, dict) for t in tools):
        return False
    from google.genai import _extra_utils  # imported by the SDK already: its models module needs it

    try:
        if _extra_utils.should_disable_afc(config):
            return False
        return not _extra_utils.find_afc_incompatible_tool_indexes(config)
    except Exception:  # a config the SDK itself will refuse (it raises its own error): no loop to trace
        return False


class AutomaticFunctionCalling(GenerateContent):
    """The user's call that runs an AFC loop -> one ``invoke_agent`` span: provider, server, the
    call's input / system instruction / tools as content, and the final response's id, model,
    finish reasons and output; no usage (each turn's ``chat`` span has its own). ``INTERNAL``: the
    agent runs in the user's process (semconv v1.41.1 "Invoke agent" span); named ``invoke_agent``
    alone (the loop has no agent name), whatever its ``gen_ai.request.model``."""

    operation_name = A.GenAIOperationName.INVOKE_AGENT
    span_kind = SpanKind.INTERNAL
    span_name = agent_span_name

    def request(self, instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        from .models import api_client_of

        attrs = {**_AGENT, **self.context.client_attributes(api_client_of(instance))}
        model = kwargs.get("model")
        if isinstance(model, str) and model:
            attrs[A.GEN_AI_REQUEST_MODEL] = model
        C.config_attributes(kwargs.get("config"), attrs)
        return attrs

    def response(self, result: Any, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        attrs, _, content = super().response(result, capture_content)
        return attrs, None, content

    def new_accumulator(self, kwargs: dict[str, Any]) -> StreamAccumulator:
        return AgentStreamAccumulator()


class StreamedAutomaticFunctionCalling(AutomaticFunctionCalling):
    """The same loop run by a streaming call (``generate_content_stream``, ``send_message_stream``):
    ``gen_ai.request.stream`` too."""

    def request(self, instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().request(instance, kwargs)
        attrs[A.GEN_AI_REQUEST_STREAM] = True
        return attrs


class AgentStreamAccumulator(GenerateContentAccumulator):
    """A streamed AFC loop: what its turns delivered, without usage (the turns' spans have it)."""

    __slots__ = ()

    def result(self, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        attrs, _, content = super().result(capture_content)
        return attrs, None, content


# --- the tool hooks -------------------------------------------------------------------------------------
def pending_calls(response: Any) -> list[list[Any]]:
    """``[[name, id], ...]`` of the first candidate's function calls (the ones the SDK answers)."""
    calls: list[list[Any]] = []
    candidates = getattr(response, "candidates", None)
    if candidates:
        for part in getattr(getattr(candidates[0], "content", None), "parts", None) or ():
            call = getattr(part, "function_call", None)
            if call is not None:
                calls.append([call.name, call.id])
    return calls


def batch_hook(is_async: bool) -> Any:
    """A wrapper for ``get_function_response_parts[_async](response, function_map)``: while it runs,
    the response's function calls are in the context for the tool spans to take their ids from."""

    def enter(args: tuple, kwargs: dict[str, Any]) -> Any:
        if otel_context.get_value(AFC_KEY) is None:
            return None
        try:
            response = args[0] if args else kwargs.get("response")
            return otel_context.attach(otel_context.set_value(PENDING_KEY, pending_calls(response)))
        except Exception:
            log_fault("google_genai.tool_batch")
            return None

    if is_async:

        async def async_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
            token = enter(args, kwargs)
            try:
                return await wrapped(*args, **kwargs)
            finally:
                if token is not None:
                    otel_context.detach(token)

        return async_wrapper

    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        token = enter(args, kwargs)
        try:
            return wrapped(*args, **kwargs)
        finally:
            if token is not None:
                otel_context.detach(token)

    return wrapper


class _ToolSpan:
    """One ``execute_tool`` span, current while the function runs."""

    __slots__ = ("span", "token", "capture")

    def __init__(self, telemetry: GenAITelemetry, agent: Any, args: tuple, kwargs: dict[str, Any]) -> None:
        call_args = args[0] if args else kwargs.get("args")
        function = args[1] if len(args) > 1 else kwargs.get("function_to_invoke")
        name = getattr(function, "__name__", None) or "function"
        attributes: dict[str, Any] = {
            A.GEN_AI_OPERATION_NAME: A.GenAIOperationName.EXECUTE_TOOL,
            A.GEN_AI_TOOL_NAME: name,
            A.GEN_AI_TOOL_TYPE: A.GenAIToolType.FUNCTION,
            A.MLFLOW_SPAN_TYPE: A.MLflowSpanType.TOOL,
        }
        provider = agent.attributes.get(A.GEN_AI_PROVIDER_NAME)
        if provider:
            attributes[A.GEN_AI_PROVIDER_NAME] = provider
        call_id = _claim(name)
        if isinstance(call_id, str) and call_id:
            attributes[A.GEN_AI_TOOL_CALL_ID] = call_id
        self.capture = telemetry.content_on_span
        if self.capture:
            attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS] = to_json(call_args)
        parent = otel_context.get_current()
        self.span = telemetry.tracer.start_span(f"execute_tool {name}", context=parent, kind=SpanKind.INTERNAL, attributes=attributes)
        # inside the tool: not inside one of our calls any more, and not a turn of the loop
        context = trace.set_span_in_context(self.span, parent)
        context = otel_context.set_value(GENAI_CALL_KEY, None, context)
        context = otel_context.set_value(AFC_KEY, None, context)
        self.token = otel_context.attach(context)

    def end(self, result: Any = None, exc: BaseException | None = None) -> None:
        try:
            otel_context.detach(self.token)
            if exc is not None:
                record_error(self.span, exc)
            elif self.capture:
                self.span.set_attribute(A.GEN_AI_TOOL_CALL_RESULT, result if isinstance(result, str) else to_json(result))
        except Exception:
            log_fault("google_genai.execute_tool")
        finally:
            self.span.end()
            _last_trace.remember(self.span)


def _claim(name: str) -> Any:
    """The id of the first pending function call named ``name`` (taken, so a second call of the same
    function gets the next id)."""
    pending = otel_context.get_value(PENDING_KEY)
    if not pending:
        return None
    for index, (call_name, call_id) in enumerate(pending):
        if call_name == name:
            del pending[index]
            return call_id
    return None


def _start_tool(telemetry: GenAITelemetry, args: tuple, kwargs: dict[str, Any]) -> _ToolSpan | None:
    if not telemetry.active:
        return None
    agent = otel_context.get_value(AFC_KEY)
    if agent is None or not is_instrumentation_enabled():
        return None
    try:
        return _ToolSpan(telemetry, agent, args, kwargs)
    except Exception:
        log_fault("google_genai.execute_tool")
        return None


def tool_hook(telemetry: GenAITelemetry, is_async: bool) -> Any:
    """A wrapper for ``invoke_function_from_dict_args[_async](args, function_to_invoke)``: one
    ``execute_tool`` span per function the SDK runs inside an AFC loop of ours."""
    if is_async:

        async def async_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
            tool = _start_tool(telemetry, args, kwargs)
            if tool is None:
                return await wrapped(*args, **kwargs)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                tool.end(exc=exc)
                raise
            tool.end(result)
            return result

        return async_wrapper

    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        tool = _start_tool(telemetry, args, kwargs)
        if tool is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            tool.end(exc=exc)
            raise
        tool.end(result)
        return result

    return wrapper


METHODS = (
    Method(_UTILS, None, "get_function_response_parts", False, kind=TOOL_BATCH),
    Method(_UTILS, None, "get_function_response_parts_async", True, kind=TOOL_BATCH),
    Method(_UTILS, None, "invoke_function_from_dict_args", False, kind=TOOL_RUN),
    Method(_UTILS, None, "invoke_function_from_dict_args_async", True, kind=TOOL_RUN),
)
