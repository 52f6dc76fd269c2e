"""The seam between a framework's runs and the SDK instrumentors (``_core/frameworks.py``), driven
directly with real OTel SDK spans and contexts: which parent an SDK span gets and which model run it
claims, for runs pushed and popped in one context, left behind in another, several model runs
started before their SDK calls, model runs started in a task of their own, and code that made its
own span current inside a run."""

from __future__ import annotations

import asyncio
import contextvars

from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_genai.instrumentation._core.frameworks import FrameworkRun, current, enter, leave, resolve


def _fresh(test):
    """Run ``test`` in a context of its own (the stack starts empty, and stays so for the others)."""
    return contextvars.copy_context().run(test)


def _span_context(tracer, name, parent=None):
    span = tracer.start_span(name, context=parent)
    return span, trace.set_span_in_context(span, parent)


def test_no_open_run_leaves_the_parent_as_it_is():
    def test():
        assert current.get() is None
        parent = otel_context.get_current()
        run = FrameworkRun(parent)
        enter(run)
        leave(run)
        assert current.get() is None
        assert resolve(run, parent, "chat") is parent  # every run ended

    _fresh(test)


def test_an_sdk_call_claims_the_open_model_run_once_and_other_calls_nest_under_the_innermost_run(telemetry):
    tracer = telemetry.tracer_provider.get_tracer("t")

    def test():
        root = otel_context.get_current()
        _, chain_context = _span_context(tracer, "chain")
        chain = FrameworkRun(chain_context)
        enter(chain)
        model = FrameworkRun(chain_context, inference=True)
        enter(model)
        assert resolve(current.get(), root, "chat") is chain_context and model.claimed
        assert resolve(current.get(), root, "chat") is chain_context  # a second call: a sibling, nothing claimed
        assert resolve(current.get(), root, "embeddings") is chain_context
        leave(model)
        assert current.get() is chain
        leave(chain)
        assert current.get() is None

    _fresh(test)


def test_model_runs_started_before_their_sdk_calls_are_claimed_in_order(telemetry):
    def test():
        parent = otel_context.get_current()
        chain = FrameworkRun(parent)
        enter(chain)
        first, second = FrameworkRun(parent, inference=True), FrameworkRun(parent, inference=True)
        enter(first)
        enter(second)
        resolve(current.get(), parent, "chat")
        assert (first.claimed, second.claimed) == (True, False)
        resolve(current.get(), parent, "chat")
        assert second.claimed
        leave(first)
        assert current.get() is second  # not the top: only marked ended
        leave(second)
        assert current.get() is chain  # the ended one under it skipped

    _fresh(test)


def test_a_run_ended_in_another_context_is_skipped(telemetry):
    tracer = telemetry.tracer_provider.get_tracer("t")

    def test():
        root = otel_context.get_current()
        _, chain_context = _span_context(tracer, "chain")
        chain = FrameworkRun(chain_context)
        enter(chain)
        _, tool_context = _span_context(tracer, "tool", chain_context)
        tool = FrameworkRun(tool_context)
        enter(tool)
        contextvars.copy_context().run(leave, tool)  # ended elsewhere: its record stays on top here
        assert current.get() is tool
        assert resolve(current.get(), root, "chat") is chain_context

    _fresh(test)


def test_a_model_run_started_in_a_task_of_its_own_is_claimed_from_the_caller():
    """LangChain's async BaseLLM.agenerate starts its model runs under asyncio.gather."""

    async def main():
        parent = otel_context.get_current()
        chain = FrameworkRun(parent)
        enter(chain)
        runs = []

        async def start():
            run = FrameworkRun(parent, inference=True)
            enter(run)
            runs.append(run)

        await asyncio.gather(start(), start())
        assert current.get() is chain  # the tasks' pushes are not seen here
        resolve(current.get(), parent, "text_completion")
        resolve(current.get(), parent, "text_completion")
        assert [r.claimed for r in runs] == [True, True]

    _fresh(lambda: asyncio.run(main()))


def test_a_span_the_code_made_current_inside_a_run_wins(telemetry):
    tracer = telemetry.tracer_provider.get_tracer("t")

    def test():
        _, chain_context = _span_context(tracer, "chain")
        model = FrameworkRun(chain_context, inference=True)
        enter(model)
        _, own = _span_context(tracer, "the app's own span")
        assert resolve(current.get(), own, "chat") is own
        assert not model.claimed

    _fresh(test)

