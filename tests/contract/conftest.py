"""Fixtures of the contract suite: ``case`` (each test runs once per provider case), and
``instrument_case`` to instrument that case's SDK against ``telemetry``. The global tracer provider
is the test's, so a span an SDK's own tracing adds beside ours is seen (one span per call)."""

from __future__ import annotations

from functools import partial

import pytest

from .case import CASES, ProviderCase


@pytest.fixture(params=CASES, ids=lambda case: case.name)
def case(request, monkeypatch, global_tracer_provider):
    for name in request.param.env_unset:
        monkeypatch.delenv(name, raising=False)
    return request.param


@pytest.fixture
def instrument_case(case, instrumentors):
    """Call ``instrument_case(capture_content=..., **instrument_kwargs)``; returns the instrumentor."""
    return partial(instrumentors, case.instrumentor)


def pytest_configure(config):
    config.addinivalue_line("markers", "wraps_sdk_functions: runs only on cases whose instrument() wraps SDK functions")


def pytest_collection_modifyitems(config, items):
    """Leave out what a case does not have: the (case, streaming API) pairs past ``case.streams``
    (``test_stream_exits``' ``api`` index) and the ``wraps_sdk_functions`` tests on a case hooked
    through callbacks. Not skipped tests: no tests."""
    keep, absent = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        case, api = params.get("case"), params.get("api")
        missing = isinstance(case, ProviderCase) and (
            (isinstance(api, int) and api >= len(case.streams))
            or (not case.wraps and item.get_closest_marker("wraps_sdk_functions") is not None)
        )
        (absent if missing else keep).append(item)
    if absent:
        config.hook.pytest_deselected(items=absent)
        items[:] = keep
