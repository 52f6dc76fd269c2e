"""``otel_genai.trace``: spans for your own agent, tool and step functions, in OpenTelemetry terms.

The MLflow docs decorate a tool-calling agent's functions with ``@mlflow.trace(span_type=...)`` so a
trace reads agent -> LLM call -> tool -> LLM call. ``otel_genai.trace`` does the same with
OpenTelemetry spans that follow the GenAI semantic conventions (v1.41.1):

========  ===========================  ==========================================================
kind      span (kind INTERNAL)         attributes
========  ===========================  ==========================================================
agent     ``invoke_agent {name}``      ``gen_ai.operation.name=invoke_agent``, ``gen_ai.agent.name``,
                                       ``mlflow.spanType=AGENT``
tool      ``execute_tool {name}``      ``gen_ai.operation.name=execute_tool``, ``gen_ai.tool.name``,
                                       ``gen_ai.tool.type=function``, ``gen_ai.tool.call.id`` (when
                                       known), ``gen_ai.agent.name`` (inside an agent),
                                       ``mlflow.spanType=TOOL``
other     ``{name}``                   ``mlflow.spanType`` (``CHAIN`` unless you name an MLflow type)
========  ===========================  ==========================================================

Use it as a decorator, bare or with arguments, on plain, ``async``, generator and async-generator
functions, or as a context manager (``with`` / ``async with``)::

    @otel_genai.trace(kind="tool")              # or span_type="TOOL" / SpanType.TOOL, MLflow-style
    def get_weather(city: str) -> str: ...

    @otel_genai.trace(span_type=SpanType.AGENT)
    def run_tool_agent(question: str): ...

    @otel_genai.trace                           # a plain (CHAIN) span named after the function
    def step(): ...

    with otel_genai.trace("lookup", kind="tool", tool_call_id=call.id) as span:
        span.set_inputs({"city": city})
        span.set_outputs(result)

Content (``mlflow.spanInputs`` / ``mlflow.spanOutputs``: the bound arguments and the return value;
for tools also ``gen_ai.tool.call.arguments`` / ``gen_ai.tool.call.result``) follows the content
policy ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, where otel-genai's distribution
default ``SPAN_ONLY`` applies when it is unset (:func:`set_content_capture` overrides both). With
capture off, arguments are neither bound nor serialized. A generator's output is the list of the
items it yielded (or ``output_reducer(items)``); its span covers the iteration, ends when the
generator is exhausted, closed early or garbage-collected, and is current only while the
generator's own code runs.

Exceptions set status ERROR, ``error.type`` and an ``exception`` event, then propagate unchanged.
With no OpenTelemetry SDK configured, a decorated call costs one provider lookup (well under a
microsecond) and creates nothing. A fault in this package never reaches your code.

When an instrumented inference call made inside an agent returns tool calls, the instrumentation
offers them to the agent (:mod:`otel_genai.tracing.tool_calls`): a ``tool`` span opened for one of
them without ``tool_call_id=`` takes its ``gen_ai.tool.call.id`` from the response.

Layout (each module reads top-down; only the names below are public):

* ``api``: :func:`trace` and :class:`SpanType`;
* ``spec``: the span specification ``trace(...)`` returns (attributes worked out once, span start,
  the context manager);
* ``span``: :class:`TracedSpan`, the handle of one span, and how it ends;
* ``shells``: the decorator's shells per kind of function and the one generator driver;
* ``binding``: a call's arguments as the span's inputs;
* ``tool_calls``: the tool-call seam (:func:`record_tool_calls`, ``offer``);
* ``context``: where the handle lives in the OTel context (:func:`current_span`);
* ``runtime``: the tracer (and its no-SDK fast path) and the content policy (:func:`set_content_capture`).
"""

from __future__ import annotations

from .api import SpanType, trace
from .context import current_span
from .runtime import set_content_capture
from .span import TracedSpan
from .tool_calls import record_tool_calls

__all__ = ["SpanType", "TracedSpan", "current_span", "record_tool_calls", "set_content_capture", "trace"]
