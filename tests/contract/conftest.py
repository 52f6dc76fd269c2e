"""Fixtures of the contract suite: ``case`` (each test runs once per provider case), and
``instrument_case`` to instrument that case's SDK against ``telemetry``. The global tracer provider
is the test's, so a span an SDK's own tracing adds beside ours is seen (one span per call)."""

from __future__ import annotations

from functools import partial

import pytest

from .case import CASES


@pytest.fixture(params=CASES, ids=lambda case: case.name)
def case(request, monkeypatch, global_tracer_provider):
    for name in request.param.env_unset:
        monkeypatch.delenv(name, raising=False)
    return request.param


@pytest.fixture
def instrument_case(case, instrumentors):
    """Call ``instrument_case(capture_content=..., **instrument_kwargs)``; returns the instrumentor."""
    return partial(instrumentors, case.instrumentor)
