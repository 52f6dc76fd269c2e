"""The seam between a framework's runs (LangChain chains, tools, model runs) and the SDK instrumentors:
exactly one inference span per model call, inside the framework's structure.

A framework instrumentation sees a model run start (LangChain's ``on_chat_model_start``) before the
model class calls its provider SDK, and sees it end after. When that SDK is instrumented too
(``ChatOpenAI`` -> ``openai``), two spans and twice the usage would follow (OpenTelemetry semantic
conventions v1.41.1, GenAI spans: one inference span per call). So the framework does not start a
span for a model run; it opens a :class:`FrameworkRun` here, and:

* the SDK call made while that run is open **claims** it (:func:`resolve`, called by
  ``Invocation`` when it starts): the SDK's span, with the SDK-level facts (response id,
  ``server.address``, exact usage, cache tokens) and its metrics, is the model run's span, started
  under the framework's parent span;
* a model run that no SDK call claimed (a model class with no SDK instrumentor, a fake model, a
  request that failed before the SDK was reached) gets its span from the framework at the run's end
  (:attr:`FrameworkRun.claimed` is ``False``), from the callback's data alone.

Any other SDK call made inside an open run (an embeddings call in a retriever, a chat call inside a
tool) is parented to that run's span, unless the code around it made a span current after the run
started (its own span wins).

The open runs of a context form a stack in one ``ContextVar`` (:data:`current`), so threads given a
copied context and asyncio tasks each see their own. A run is pushed when it starts
(:func:`enter`) and popped when it ends (:func:`leave`); a run ended in another context than it
started in leaves its record behind, marked ended and skipped. Cost on the SDK path: one
``ContextVar.get`` when no framework run is open.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from opentelemetry import trace

from ...semconv import attributes as A

#: the operations a model run's SDK call may have (an embeddings call never claims a chat run)
INFERENCE_OPERATIONS = frozenset(
    {A.GenAIOperationName.CHAT, A.GenAIOperationName.TEXT_COMPLETION, A.GenAIOperationName.GENERATE_CONTENT}
)

#: the innermost open framework run of this context (the top of the stack), or ``None``
current: ContextVar[FrameworkRun | None] = ContextVar("otel_genai.framework_run", default=None)
_get = current.get
_set = current.set


class FrameworkRun:
    """One open framework run.

    Attributes:
        context: the OpenTelemetry context an SDK span started inside this run gets as parent (the
            run's own span set in it; for a model run, which has no span of its own, its parent's).
        outer_span: the span current in the caller's context when the run started: an SDK call whose
            current span is another one was made inside a span the code opened itself, which wins.
        inference: a model run, which the first SDK inference call inside it claims.
        claimed: an SDK call claimed it (its span is the model run's span).
        ended: the run ended (its record may linger in a context it did not end in).
        previous: the run below it on this context's stack.
        pending: the model runs started while this run was the top of the stack, for an SDK call that
            cannot see them: LangChain's async ``BaseLLM.agenerate`` starts its model runs in tasks
            of their own (``asyncio.gather``), whose context the SDK call, made in the caller's task,
            never sees; it claims the oldest open one here instead.
    """

    __slots__ = ("context", "outer_span", "inference", "claimed", "ended", "previous", "pending")

    def __init__(self, context: Any, inference: bool = False) -> None:
        self.context = context
        self.outer_span = trace.get_current_span()
        self.inference = inference
        self.claimed = False
        self.ended = False
        self.previous: FrameworkRun | None = None
        self.pending: list[FrameworkRun] | None = None


def enter(run: FrameworkRun) -> None:
    """Push ``run`` on the current context's stack (call when the framework run starts)."""
    below = _get()
    run.previous = below
    _set(run)
    if run.inference and below is not None and not below.inference:
        pending = below.pending
        if pending is None:
            below.pending = [run]
        else:
            pending[:] = [r for r in pending if not (r.ended or r.claimed)]
            pending.append(run)


def leave(run: FrameworkRun) -> None:
    """Mark ``run`` ended and pop it if it is the top of the current context's stack (with any
    ended runs under it)."""
    run.ended = True
    if _get() is run:
        below = run.previous
        while below is not None and below.ended:
            below = below.previous
        _set(below)


def resolve(run: FrameworkRun, parent: Any, operation_name: str | None) -> Any:
    """The parent context of an SDK span starting while ``run`` (``current.get()``, not ``None``) is
    the top of the stack; ``parent`` is the context it would have had (the current one).

    An inference ``operation_name`` claims the oldest open unclaimed model run of the consecutive
    model runs at the top (a framework that starts several model runs before calling the SDK for
    each in turn, as LangChain's ``generate()`` over several prompts does, gets them claimed in
    order) and is started under that run's parent; failing that, the oldest open unclaimed model run
    started from the innermost open run in a context of its own (:attr:`FrameworkRun.pending`).
    Otherwise the innermost open run's span is the
    parent. ``parent`` is kept when every run is ended, or when the code made another span current
    after the run started."""
    while run is not None and run.ended:
        run = run.previous
    if run is None or trace.get_current_span(parent) is not run.outer_span:
        return parent
    if operation_name in INFERENCE_OPERATIONS:
        oldest = None
        candidate: FrameworkRun | None = run
        while candidate is not None and (candidate.inference or candidate.ended):
            if not candidate.ended and not candidate.claimed:
                oldest = candidate
            candidate = candidate.previous
        if oldest is None and candidate is not None and candidate.pending:
            oldest = next((r for r in candidate.pending if not (r.ended or r.claimed)), None)
        if oldest is not None:
            oldest.claimed = True
            return oldest.context
    return run.context
