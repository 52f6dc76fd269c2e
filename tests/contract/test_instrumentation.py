"""Instrumenting, for every provider case: ``instrument()`` twice wraps each SDK function once,
``uninstrument()`` restores every original the SDK defines (found by scanning the SDK's loaded
modules, not from our own method table), and a call then makes the spans it makes without us."""

from __future__ import annotations

import pytest

import inspect
import sys

import wrapt

from .support import only_span, read_all


def _functions(package: str) -> dict[tuple[str, str], object]:
    """Every function (or wrapper of one) on the modules of ``package`` now loaded, and on the
    classes they define: ``(module, qualified attribute) -> value``."""
    found: dict[tuple[str, str], object] = {}

    def scan(module: str, prefix: str, namespace: dict) -> None:
        for name, value in list(namespace.items()):
            if isinstance(value, wrapt.BaseObjectProxy) or inspect.isfunction(value):
                found[(module, prefix + name)] = value

    for name, module in list(sys.modules.items()):
        if module is None or not (name == package or name.startswith(package + ".")):
            continue
        scan(name, "", vars(module))
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__ == name:
                scan(name, value.__qualname__ + ".", dict(vars(value)))
    return found


def _every_api(case, canned) -> None:
    """One call of each API of the case, each in its own span if instrumented."""
    case.plain(case.client(canned.play(case.plain_response())))
    case.tool_call(case.client(canned.play(case.tool_call_response())))
    for api in case.streams:
        assert read_all(api, case.client(canned.play(case.stream_response(0.0)))) == case.stream_text


@pytest.mark.wraps_sdk_functions
def test_instrument_twice_wraps_once_and_uninstrument_restores_every_original(case, canned, telemetry, instrument_case):
    _every_api(case, canned)  # loads the SDK modules it imports lazily
    telemetry.exporter.clear()
    originals = _functions(case.sdk)
    instrumentor = instrument_case()
    assert instrument_case() is instrumentor and case.instrumentor() is instrumentor  # a singleton; the second instrument() is a no-op
    now = _functions(case.sdk)
    wrapped = {key: value for key, value in now.items() if key in originals and value is not originals[key]}
    assert wrapped, "instrument() wrapped nothing"
    for key, value in wrapped.items():
        assert isinstance(value, wrapt.BaseObjectProxy), key
        assert value.__wrapped__ is originals[key], key  # one layer, around the original

    _every_api(case, canned)
    calls = telemetry.spans()
    assert [s.instrumentation_scope.name for s in calls] == [case.scope] * (2 + len(case.streams))

    instrumentor.uninstrument()
    after = _functions(case.sdk)
    assert [key for key, original in originals.items() if after.get(key) is not original] == []  # `is`: a proxy == its original
    assert [key for key, value in after.items() if key not in originals and isinstance(value, wrapt.BaseObjectProxy)] == []
    telemetry.exporter.clear()
    result = case.plain(case.client(canned.play(case.plain_response())))
    assert case.text(result) == case.plain_text
    assert tuple(s.instrumentation_scope.name for s in telemetry.spans()) == case.uninstrumented_scopes


def test_instrument_again_after_uninstrument_traces_again(case, canned, telemetry, instrument_case):
    instrument_case().uninstrument()
    instrument_case()
    case.plain(case.client(canned.play(case.plain_response())))
    assert only_span(telemetry, case).attributes["gen_ai.response.id"] == case.plain_id
