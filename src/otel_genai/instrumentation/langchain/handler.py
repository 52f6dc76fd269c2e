"""The LangChain callback handler: LangChain runs as spans.

``LangChainInstrumentor`` registers one :class:`OtelGenAICallbackHandler` with LangChain's configure
hooks, so every ``CallbackManager`` LangChain configures for a run (``invoke`` / ``ainvoke`` /
``stream`` / ``astream`` / ``batch``, sync and async) carries it, inherited by every child run. Each
run becomes (names: OpenTelemetry semantic conventions v1.41.1, GenAI spans and agent spans; span
types: ``mlflow.entities.SpanType``):

=====================================  ======================================================  =================
LangChain run                          span                                                    ``mlflow.spanType``
=====================================  ======================================================  =================
chain / runnable (``on_chain_start``)  ``{run name}``, INTERNAL, inputs / outputs as content    ``CHAIN``
a LangGraph graph (``create_agent``,   ``invoke_agent {name}``, ``gen_ai.agent.name``          ``AGENT``
compiled graphs)
chat model / LLM                       ``chat {model}`` / ``text_completion {model}``, CLIENT  ``CHAT_MODEL`` / ``LLM``
                                       (the SDK's span when an SDK instrumentor claims it)
tool                                   ``execute_tool {name}``, ``gen_ai.tool.call.id``        ``TOOL``
retriever                              ``{run name}``, the query in, the documents out         ``RETRIEVER``
=====================================  ======================================================  =================

A span's parent is the span of the run's ``parent_run_id`` (so runs nest as LangChain nests them,
across ``asyncio.gather`` and thread pools), else the current span. The nodes of a ``create_agent``
graph (``model``, ``tools``, middleware) and runs tagged ``langsmith:hidden`` get no span: their
children hang under the agent (agent -> chat -> tool -> chat). Model runs go through the seam in
``_core/frameworks.py``: one inference span per model call, usage counted once. A tool's or a
retriever's span is the current span while its body runs, so what the user's code in it traces
nests under it; chains are not made current (a streamed chain runs in its consumer's context, which
a span left current would leak into). Runs still open when the process exits end with it
(``_core/lifecycle.py``).

Every callback is guarded: a fault of ours is logged once and swallowed (``faults.log_fault``); the
handler's ``raise_error`` follows the test-suite switch, so under the tests LangChain re-raises it.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, Generation
from langchain_core.prompt_values import ChatPromptValue, StringPromptValue
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import _RUNTIME_CONTEXT
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind

from ... import _last_trace
from ...semconv import attributes as A
from ...semconv import mlflow
from ...semconv.messages import _fallback, content_json
from .._core import faults, frameworks
from .._core.errors import record_error
from .._core.faults import log_fault
from .._core.invocation import GenAITelemetry
from .._core.lifecycle import open_invocations as _open_invocations
from . import models

_perf_counter = time.perf_counter
_time_ns = time.time_ns
_INTERNAL = SpanKind.INTERNAL

#: ``ls_integration`` metadata of a LangGraph graph run (LangGraph's ``Pregel``; ``create_agent``)
GRAPH_INTEGRATIONS = frozenset({"langgraph", "langchain_create_agent"})
CREATE_AGENT = "langchain_create_agent"
HIDDEN_TAG = "langsmith:hidden"

# run kinds
CHAIN, AGENT, TOOL, RETRIEVER, MODEL, PASS = "chain", "agent", "tool", "retriever", "model", "pass"

_CONTENT_KEYS = (A.GEN_AI_INPUT_MESSAGES, A.GEN_AI_OUTPUT_MESSAGES, A.GEN_AI_SYSTEM_INSTRUCTIONS, A.GEN_AI_TOOL_DEFINITIONS)

#: ``metadata`` keys naming the conversation a run belongs to (LangGraph's ``thread_id``)
CONVERSATION_KEYS = ("thread_id", "conversation_id", "session_id")


class _Run:
    """One open LangChain run: its span (``None`` for a model run, whose span the SDK or the run's end
    makes, and for a run without a span of its own), the context its children start in, its record
    in the framework seam, and the agent it runs in."""

    __slots__ = ("kind", "span", "context", "framework", "agent", "name", "create_agent", "model", "token")

    def __init__(self, kind: str, span: Any, context: Any, framework: Any, agent: _Run | None, name: str) -> None:
        self.kind = kind
        self.span = span
        self.context = context
        self.framework = framework
        self.agent = agent
        self.name = name
        self.create_agent = False
        self.model: _ModelCall | None = None
        self.token: Any = None  # a tool's or retriever's span made current while it runs

    def abandon(self) -> None:
        """End the span of a run still open when the process exits (``_core/lifecycle.py``: the exit
        handler ends every open span of ours before the providers flush), with what it has."""
        span, self.span = self.span, None
        if span is not None:
            span.end()
            _last_trace.remember(span)


class _ModelCall:
    """What a model run's span needs if no SDK call claims it: start time and attributes, the request
    content, and chunk arrival times (``perf_counter`` s) of a streamed run."""

    __slots__ = ("attributes", "content", "start_ns", "start", "chunk_times", "operation")

    def __init__(self, operation: str, attributes: dict[str, Any], content: dict[str, Any] | None) -> None:
        self.operation = operation
        self.attributes = attributes
        self.content = content
        self.start_ns = _time_ns()
        self.start = _perf_counter()
        self.chunk_times: list[float] | None = None


def _run_name(serialized: dict[str, Any] | None, kwargs: dict[str, Any], default: str) -> str:
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        return name
    if isinstance(serialized, dict):
        name = serialized.get("name")
        if isinstance(name, str) and name:
            return name
        path = serialized.get("id")
        if isinstance(path, list) and path and isinstance(path[-1], str):
            return path[-1]
    return default


def _lc_default(value: Any) -> Any:
    """The JSON encoder's ``default`` for LangChain's own objects, in the compact form a reader wants
    (``mlflow.spanInputs`` / ``mlflow.spanOutputs``): a message as ``{"type", "content"}`` (+ its
    tool calls / tool call id), a prompt value as its text or messages, a document as its page content
    and metadata, a generation as its message or text; anything else as ``semconv.messages`` encodes
    it (pydantic models dumped, other objects as their ``str``). ``model_dump`` of a message costs
    tens of microseconds and holds mostly empty fields."""
    if isinstance(value, BaseMessage):
        out: dict[str, Any] = {"type": value.type, "content": value.content}
        tool_calls = getattr(value, "tool_calls", None)
        if tool_calls:
            out["tool_calls"] = tool_calls
        call_id = getattr(value, "tool_call_id", None)
        if call_id:
            out["tool_call_id"] = call_id
        return out
    if isinstance(value, StringPromptValue):
        return value.text
    if isinstance(value, ChatPromptValue):
        return value.messages
    if isinstance(value, Document):
        return {"page_content": value.page_content, "metadata": value.metadata}
    if isinstance(value, ChatGeneration):
        return value.message
    if isinstance(value, Generation):
        return value.text
    return _fallback(value)


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_lc_default).encode


def _json(value: Any) -> str | None:
    """Content as compact JSON text (:func:`_lc_default`), or ``None`` when it cannot be encoded (a
    cycle)."""
    try:
        return _encode(value)
    except (ValueError, TypeError, RecursionError):
        return None


def _restore(run: _Run) -> None:
    """Detach what :meth:`OtelGenAICallbackHandler._open` attached, if this is the context it was
    attached in and it is still the current one there (else leave the context as it is: detaching
    from another context raises, and OpenTelemetry's ``detach`` would log it as an error)."""
    token, run.token = run.token, None
    if otel_context.get_current() is not run.context:
        return
    try:
        _RUNTIME_CONTEXT.detach(token)
    except (ValueError, RuntimeError):  # a token of another contextvars.Context, or used already
        pass


def _guarded(callback: Any) -> Any:
    """A callback whose faults are ours: logged once and swallowed (``faults.log_fault``, re-raised
    under the test suite), never raised into the user's LangChain run."""
    where = f"langchain.{callback.__name__}"

    @functools.wraps(callback)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            callback(self, *args, **kwargs)
        except Exception:
            log_fault(where)

    return guarded


class OtelGenAICallbackHandler(BaseCallbackHandler):
    """Maps LangChain runs to spans (see the module docstring). One instance per ``instrument()``;
    after ``uninstrument()`` (``active`` False) it starts no span and ends the open ones. Starts none
    either while instrumentation is suppressed (``opentelemetry.instrumentation.utils``:
    ``suppress_instrumentation``)."""

    # called in the caller's own thread / task (LangChain otherwise runs sync handlers of async runs in
    # an executor): the model run's record must be in the context its SDK call runs in
    run_inline = True

    def __init__(self, telemetry: GenAITelemetry) -> None:
        super().__init__()
        self.telemetry = telemetry
        self.active = True
        self.runs: dict[UUID, _Run] = {}

    @property
    def raise_error(self) -> bool:  # type: ignore[override]
        """LangChain re-raises a handler's exception only if this is true: under the test suite."""
        return faults._raise[0]

    # --- shared ---------------------------------------------------------------------------------
    def _parent(self, parent_run_id: UUID | None) -> tuple[Any, _Run | None]:
        parent = self.runs.get(parent_run_id) if parent_run_id is not None else None
        if parent is not None:
            return parent.context, parent
        return otel_context.get_current(), None

    def _open(
        self,
        run_id: UUID,
        kind: str,
        name: str,
        parent_run_id: UUID | None,
        attributes: dict[str, Any],
        kind_otel: Any = _INTERNAL,
    ) -> _Run:
        parent_context, parent = self._parent(parent_run_id)
        agent = parent.agent if parent is not None else None
        if agent is not None and A.GEN_AI_AGENT_NAME not in attributes and kind == TOOL:
            attributes[A.GEN_AI_AGENT_NAME] = agent.name
        span = self.telemetry.tracer.start_span(name, context=parent_context, kind=kind_otel, attributes=attributes)
        context = trace.set_span_in_context(span, parent_context)
        framework = frameworks.FrameworkRun(context)
        frameworks.enter(framework)
        run = _Run(kind, span, context, framework, agent, name)
        if kind == AGENT:
            run.agent = run
        elif kind in (TOOL, RETRIEVER):
            # the user's code runs in it: what it traces (an otel_genai.trace span, an HTTP client's
            # span, an SDK call) nests under it. LangChain starts and ends a tool or retriever run in
            # one context, the body in a copy of it (BaseTool.run / arun, BaseRetriever.invoke), so
            # the end can restore it; a chain may be a generator run in its consumer's context: never.
            run.token = otel_context.attach(context)
        self.runs[run_id] = run
        _open_invocations[id(run)] = run
        return run

    def _pass_through(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        """A run without a span of its own: its children hang under its parent's span."""
        parent_context, parent = self._parent(parent_run_id)
        self.runs[run_id] = _Run(PASS, None, parent_context, None, parent.agent if parent else None, "")

    def _close(
        self,
        run_id: UUID,
        outputs: Any = None,
        error: BaseException | None = None,
        has_outputs: bool = False,
        inputs: Any = None,
    ) -> None:
        """End a run's span. ``inputs``: the run's input as LangChain gives it at the end of a streamed
        run (``on_chain_end(..., inputs=)``; its start said only ``{"input": ""}``)."""
        run = self.runs.pop(run_id, None)
        if run is None or run.span is None:
            return
        _open_invocations.pop(id(run), None)
        span, run.span = run.span, None
        try:
            if run.token is not None:
                _restore(run)
            if run.framework is not None:
                frameworks.leave(run.framework)
            if inputs is not None and self.telemetry.content_on_span:
                text = _json(inputs)
                if text is not None:
                    span.set_attribute(A.MLFLOW_SPAN_INPUTS, text)
            if error is not None:
                record_error(span, error)
            elif has_outputs and self.telemetry.content_on_span:
                self._set_outputs(run, span, outputs)
        finally:
            span.end()
            _last_trace.remember(span)

    def _set_outputs(self, run: _Run, span: Any, outputs: Any) -> None:
        if run.kind == TOOL:
            content = getattr(outputs, "content", outputs)
            text = content if isinstance(content, str) else _json(content)
            if text is not None:
                span.set_attribute(A.GEN_AI_TOOL_CALL_RESULT, text)
        text = _json(outputs)
        if text is not None:
            span.set_attribute(A.MLFLOW_SPAN_OUTPUTS, text)

    def _inputs(self, attributes: dict[str, Any], inputs: Any) -> None:
        if self.telemetry.content_on_span:
            text = _json(inputs)
            if text is not None:
                attributes[A.MLFLOW_SPAN_INPUTS] = text

    # --- chains, runnables, graphs ----------------------------------------------------------------
    @_guarded
    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.active or not is_instrumentation_enabled():
            return
        metadata = metadata or {}
        name = _run_name(serialized, kwargs, "chain")
        parent = self.runs.get(parent_run_id) if parent_run_id is not None else None
        if (tags and HIDDEN_TAG in tags) or (
            parent is not None and parent.kind == AGENT and parent.create_agent and "langgraph_node" in metadata
        ):
            self._pass_through(run_id, parent_run_id)
            return
        integration = metadata.get("ls_integration")
        if integration in GRAPH_INTEGRATIONS and "langgraph_step" not in metadata:
            attributes: dict[str, Any] = {
                A.GEN_AI_OPERATION_NAME: A.GenAIOperationName.INVOKE_AGENT,
                A.GEN_AI_AGENT_NAME: name,
                A.MLFLOW_SPAN_TYPE: A.MLflowSpanType.AGENT,
            }
            for key in CONVERSATION_KEYS:
                value = metadata.get(key)
                if isinstance(value, (str, int)) and not isinstance(value, bool):
                    attributes[A.GEN_AI_CONVERSATION_ID] = str(value)
                    break
            self._inputs(attributes, inputs)
            run = self._open(run_id, AGENT, f"{A.GenAIOperationName.INVOKE_AGENT} {name}", parent_run_id, attributes)
            run.create_agent = integration == CREATE_AGENT
            run.name = name
            return
        attributes = {A.MLFLOW_SPAN_TYPE: A.MLflowSpanType.CHAIN}
        self._inputs(attributes, inputs)
        self._open(run_id, CHAIN, name, parent_run_id, attributes)

    @_guarded
    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, outputs, has_outputs=True, inputs=kwargs.get("inputs"))

    @_guarded
    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, error=error, inputs=kwargs.get("inputs"))

    # --- tools ------------------------------------------------------------------------------------
    @_guarded
    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.active or not is_instrumentation_enabled():
            return
        name = _run_name(serialized, kwargs, "tool")
        attributes: dict[str, Any] = {
            A.GEN_AI_OPERATION_NAME: A.GenAIOperationName.EXECUTE_TOOL,
            A.GEN_AI_TOOL_NAME: name,
            A.GEN_AI_TOOL_TYPE: A.GenAIToolType.FUNCTION,
            A.MLFLOW_SPAN_TYPE: A.MLflowSpanType.TOOL,
        }
        description = (serialized or {}).get("description")
        if isinstance(description, str) and description:
            attributes[A.GEN_AI_TOOL_DESCRIPTION] = description
        call_id = kwargs.get("tool_call_id")
        if isinstance(call_id, str) and call_id:
            attributes[A.GEN_AI_TOOL_CALL_ID] = call_id
        if self.telemetry.content_on_span:
            text = _json(inputs) if inputs is not None else input_str
            if isinstance(text, str):
                attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS] = text
                attributes[A.MLFLOW_SPAN_INPUTS] = text
        self._open(run_id, TOOL, f"{A.GenAIOperationName.EXECUTE_TOOL} {name}", parent_run_id, attributes)

    @_guarded
    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self.runs.get(run_id)
        call_id = getattr(output, "tool_call_id", None)
        if run is not None and run.span is not None and isinstance(call_id, str) and call_id:
            run.span.set_attribute(A.GEN_AI_TOOL_CALL_ID, call_id)
        self._close(run_id, output, has_outputs=True)

    @_guarded
    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, error=error)

    # --- retrievers -------------------------------------------------------------------------------
    @_guarded
    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.active or not is_instrumentation_enabled():
            return
        attributes: dict[str, Any] = {A.MLFLOW_SPAN_TYPE: A.MLflowSpanType.RETRIEVER}
        self._inputs(attributes, query)
        self._open(run_id, RETRIEVER, _run_name(serialized, kwargs, "retriever"), parent_run_id, attributes)

    @_guarded
    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, documents, has_outputs=True)

    @_guarded
    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, error=error)

    # --- model runs -------------------------------------------------------------------------------
    @_guarded
    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.active or not is_instrumentation_enabled():
            return
        content = None
        params = kwargs.get("invocation_params") or {}
        if self.telemetry.capture_enabled:
            content = {A.GEN_AI_INPUT_MESSAGES: models.input_messages(messages[0] if messages else [])}
            tools = models.tool_definitions(params)
            if tools:
                content[A.GEN_AI_TOOL_DEFINITIONS] = tools
        self._open_model(run_id, parent_run_id, A.GenAIOperationName.CHAT, serialized, metadata, params, content)

    @_guarded
    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.active or not is_instrumentation_enabled():
            return
        content = None
        if self.telemetry.capture_enabled:
            content = {A.GEN_AI_INPUT_MESSAGES: models.prompt_messages(prompts[0] if prompts else "")}
        params = kwargs.get("invocation_params") or {}
        self._open_model(run_id, parent_run_id, A.GenAIOperationName.TEXT_COMPLETION, serialized, metadata, params, content)

    def _open_model(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        operation: str,
        serialized: dict[str, Any] | None,
        metadata: dict[str, Any] | None,
        params: dict[str, Any],
        content: dict[str, Any] | None,
    ) -> None:
        parent_context, parent = self._parent(parent_run_id)
        attributes = models.request_attributes(operation, serialized, metadata, params)
        mlflow.add_request_attributes(attributes)
        framework = frameworks.FrameworkRun(parent_context, inference=True)
        frameworks.enter(framework)
        run = _Run(MODEL, None, parent_context, framework, parent.agent if parent else None, "")
        run.model = _ModelCall(operation, attributes, content)
        self.runs[run_id] = run

    @_guarded
    def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        run = self.runs.get(run_id)
        if run is None or run.model is None or run.framework.claimed:
            return
        times = run.model.chunk_times
        if times is None:
            run.model.chunk_times = [_perf_counter()]
        else:
            times.append(_perf_counter())

    @_guarded
    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end_model(run_id, response, None)

    @_guarded
    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end_model(run_id, None, error)

    def _end_model(self, run_id: UUID, result: Any, error: BaseException | None) -> None:
        run = self.runs.pop(run_id, None)
        if run is None or run.model is None:
            return
        frameworks.leave(run.framework)
        if run.framework.claimed:  # the SDK's span is this run's span: nothing to add, usage counted there
            return
        self._model_span(run, run.model, result, error)

    def _model_span(self, run: _Run, call: _ModelCall, result: Any, error: BaseException | None) -> None:
        """The inference span of a model run no SDK call claimed, from the callback's data: started at
        the run's start, ended now, with the same attributes, metrics and content event the SDK
        instrumentors give (``_core/invocation.py``)."""
        telemetry = self.telemetry
        attributes = call.attributes
        model = attributes.get(A.GEN_AI_REQUEST_MODEL)
        name = f"{call.operation} {model}" if model else call.operation
        span_attributes = attributes
        request_content = call.content or {}
        if request_content and telemetry.content_on_span:
            span_attributes = {**attributes, **{k: content_json(v) for k, v in request_content.items()}}
        span = telemetry.tracer.start_span(
            name, context=run.context, kind=SpanKind.CLIENT, attributes=span_attributes, start_time=call.start_ns
        )
        try:
            duration = _perf_counter() - call.start
            usage = None
            content: dict[str, Any] = {}
            response: dict[str, Any] = {}
            error_type = None
            if result is not None:
                response, usage, content = models.response(result, telemetry.capture_enabled)
            ttfc = None
            chunk_times = call.chunk_times
            if chunk_times:
                ttfc = chunk_times[0] - call.start
                response[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ttfc
            if usage is not None:
                response.update(usage.span_attributes())
                token_usage = mlflow.token_usage(usage, call.operation)
                if token_usage is not None:
                    response[A.MLFLOW_CHAT_TOKEN_USAGE] = token_usage
            if telemetry.latest:
                for message in content.get(A.GEN_AI_OUTPUT_MESSAGES) or ():
                    message.pop("finish_reason", None)
            if content and telemetry.content_on_span:
                for key, value in content.items():
                    response[key] = content_json(value)
            if error is not None:
                error_type = record_error(span, error)
            span.set_attributes(response)
            telemetry.metrics.submit(
                attributes,
                response.get(A.GEN_AI_RESPONSE_MODEL),
                error_type,
                span.get_span_context(),
                duration,
                usage,
                ttfc,
                chunk_times,
            )
            if telemetry.logger is not None:
                event = {**attributes, **response}
                for key in _CONTENT_KEYS:
                    event.pop(key, None)
                event.update(request_content)
                event.update(content)
                telemetry.logger.emit(
                    event_name=A.GEN_AI_INFERENCE_DETAILS_EVENT,
                    attributes=event,
                    context=trace.set_span_in_context(span, run.context),
                )
        finally:
            span.end()
            _last_trace.remember(span)
