"""Loops, tasks and threads, for every provider case: a sync client inside a running event loop,
and each call's span under its own parent across ``asyncio.gather`` and a thread pool."""

from __future__ import annotations

import asyncio
import concurrent.futures

from .support import only_span


async def test_sync_client_inside_a_running_event_loop(case, canned, telemetry, instrument_case):
    instrument_case()
    result = case.plain(case.client(canned.play(case.plain_response())))
    assert case.text(result) == case.plain_text
    assert only_span(telemetry, case).attributes["gen_ai.response.id"] == case.plain_id


async def test_parents_are_correct_across_asyncio_gather(case, canned, telemetry, instrument_case):
    instrument_case()
    tracer = telemetry.tracer_provider.get_tracer("app")
    client = case.aclient(canned.play(*[case.plain_response() for _ in range(6)]))

    async def agent(name: str) -> int:
        with tracer.start_as_current_span(name) as parent:
            await case.plain(client)
            await asyncio.sleep(0)
            await case.plain(client)
            return parent.get_span_context().span_id

    parents = await asyncio.gather(*(agent(f"agent-{i}") for i in range(3)))
    calls = [s for s in telemetry.spans() if s.instrumentation_scope.name == case.scope]
    assert len(calls) == 6
    assert sorted(s.parent.span_id for s in calls) == sorted(parents * 2)


def test_parents_are_correct_across_a_thread_pool(case, canned, telemetry, instrument_case):
    instrument_case()
    tracer = telemetry.tracer_provider.get_tracer("app")
    client = case.client(canned.play(*[case.plain_response() for _ in range(8)]))

    def job(i: int) -> int:
        with tracer.start_as_current_span(f"job-{i}") as parent:
            case.plain(client)
            return parent.get_span_context().span_id

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        parents = list(pool.map(job, range(8)))
    calls = [s for s in telemetry.spans() if s.instrumentation_scope.name == case.scope]
    assert sorted(s.parent.span_id for s in calls) == sorted(parents)
    assert len(set(parents)) == 8
