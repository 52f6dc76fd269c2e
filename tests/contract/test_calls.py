"""The contract of one call, for every provider case: one span of ours that says what the result
says; event-only content mode; "not given" parameters; the user's exceptions pass through as they
would without us; a fault in our own code leaves the call and its result untouched."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.trace import SpanKind, StatusCode

from .support import only_span, output_message, output_text, read_all, resolved


def _contents(value) -> list[str]:
    """Every ``content`` string in a content attribute (decoded JSON or structured log attributes)."""
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, dict):
        own = [value["content"]] if isinstance(value.get("content"), str) else []
        return own + [c for v in value.values() if isinstance(v, (list, tuple, dict)) for c in _contents(v)]
    return [c for v in value for c in _contents(v)] if isinstance(value, (list, tuple)) else []


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_call_is_one_client_span_of_ours_with_the_results_text(is_async, case, canned, telemetry, instrument_case):
    instrument_case()
    base_url = canned.play(case.plain_response())
    result = await resolved(case.plain((case.aclient if is_async else case.client)(base_url)))
    span = only_span(telemetry, case)
    assert (span.name, span.kind) == (case.span_name, SpanKind.CLIENT)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.provider.name"] == case.provider
    assert span.attributes["gen_ai.response.id"] == case.plain_id
    assert output_text(span) == case.text(result) == case.plain_text
    assert case.user_text in _contents(span.attributes["gen_ai.input.messages"])


def test_a_tool_call_is_one_span_whose_output_is_the_results_tool_calls(case, canned, telemetry, instrument_case):
    instrument_case()
    result = case.tool_call(case.client(canned.play(case.tool_call_response())))
    message = output_message(only_span(telemetry, case))
    calls = case.tool_calls(result)
    assert calls and message["parts"] == [{"type": "tool_call", **call} for call in calls]
    assert message["finish_reason"] == case.tool_finish_reason
    assert json.loads(only_span(telemetry, case).attributes["gen_ai.tool.definitions"])  # the tools offered


def test_event_only_mode_emits_one_details_log_record_and_no_span_content(case, canned, telemetry, instrument_case):
    exporter = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    instrument_case(capture_content="EVENT_ONLY", logger_provider=logger_provider)
    case.plain(case.client(canned.play(case.plain_response())))
    span = only_span(telemetry, case)
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"):
        assert key not in span.attributes
    (record,) = exporter.get_finished_logs()
    log = record.log_record
    assert log.event_name == "gen_ai.client.inference.operation.details"
    assert log.span_id == span.context.span_id
    assert log.attributes["gen_ai.provider.name"] == case.provider
    assert case.user_text in _contents(log.attributes["gen_ai.input.messages"])
    assert case.system_text in _contents(log.attributes[case.system_attribute])
    assert _contents(log.attributes["gen_ai.output.messages"]) == [case.plain_text]


def test_not_given_omit_and_none_parameters_give_no_attribute_warnings(case, canned, telemetry, instrument_case, caplog):
    instrument_case()
    with caplog.at_level(logging.WARNING):
        result = case.plain(case.client(canned.play(case.plain_response())), **case.unset_params)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert case.text(result) == case.plain_text
    attrs = only_span(telemetry, case).attributes
    assert [key for key in case.unset_attributes if key in attrs] == []


# --- the user's exceptions pass through --------------------------------------------------------------
def _raised(call) -> BaseException:
    try:
        call()
    except BaseException as exc:  # noqa: BLE001  (whatever the SDK raises)
        return exc
    raise AssertionError("the call did not raise")


@pytest.mark.parametrize("status", [400, 429])
def test_an_sdk_error_passes_through_as_without_us_and_ends_the_span_as_error(status, case, canned, telemetry, instrument_case):
    bare = _raised(lambda: case.plain(case.client(canned.play(case.error_response(status)))))
    telemetry.exporter.clear()  # an SDK's own span of the call without us
    instrument_case()
    traced = _raised(lambda: case.plain(case.client(canned.play(case.error_response(status)))))
    assert type(traced) is type(bare) is case.errors[status]
    assert str(traced) == str(bare)
    error_type = f"{case.error_module or case.sdk}.{type(traced).__name__}"
    span = only_span(telemetry, case)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == error_type
    assert [e.name for e in span.events] == ["exception"]
    assert "mlflow.chat.tokenUsage" not in span.attributes
    (duration,) = telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == error_type


class Boom(BaseException):
    """Not an ``Exception``: no SDK wraps it, so it must reach the user as the very same object."""


def test_a_users_exception_from_the_transport_passes_through_as_the_same_object(case, telemetry, instrument_case):
    instrument_case()
    boom = Boom()
    with pytest.raises(Boom) as caught:
        case.plain(case.raising_client(boom))
    assert caught.value is boom
    span = only_span(telemetry, case)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == f"{__name__}.Boom"


def test_a_transport_exception_reaches_the_user_as_the_sdk_reports_it(case, telemetry, instrument_case):
    error = RuntimeError("from the user's http client")
    bare = _raised(lambda: case.plain(case.raising_client(error)))
    telemetry.exporter.clear()  # an SDK's own span of the call without us
    instrument_case()
    traced = _raised(lambda: case.plain(case.raising_client(error)))
    if case.connection_error is None:
        assert traced is error
    else:
        assert type(traced) is type(bare) is case.connection_error
        assert traced.__cause__ is error
    error_type = f"{case.error_module or case.sdk}.{type(traced).__name__}" if case.connection_error else "RuntimeError"
    assert only_span(telemetry, case).attributes["error.type"] == error_type


# --- our own faults --------------------------------------------------------------------------------
def _broken(*args, **kwargs):
    raise ZeroDivisionError("a bug in otel-genai")


def test_a_fault_in_our_extraction_leaves_the_call_and_its_result_untouched(case, canned, telemetry, instrument_case, monkeypatch, caplog, swallow_faults):
    bare = case.dump(case.plain(case.client(canned.play(case.plain_response()))))
    telemetry.exporter.clear()  # an SDK's own span of the call without us
    instrument_case()
    for owner, name in case.extraction_faults:
        monkeypatch.setattr(owner, name, _broken)
    with caplog.at_level(logging.DEBUG, logger="otel_genai.instrumentation"):
        traced = case.plain(case.client(canned.play(case.plain_response())))
        texts = [read_all(api, case.client(canned.play(case.stream_response(0.0)))) for api in case.streams]
    assert case.dump(traced) == bare
    assert texts == [case.stream_text] * len(case.streams)
    assert len(telemetry.spans()) == 1 + len(case.streams)  # each still ended
    assert any("otel-genai: internal error" in r.getMessage() for r in caplog.records)


def test_a_fault_in_our_request_step_skips_that_calls_span_only(case, canned, telemetry, instrument_case, swallow_faults):
    bare = case.dump(case.plain(case.client(canned.play(case.plain_response()))))
    telemetry.exporter.clear()  # an SDK's own span of the call without us
    instrument_case()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(*case.request_fault, _broken)
        assert case.dump(case.plain(case.client(canned.play(case.plain_response())))) == bare
    assert tuple(s.instrumentation_scope.name for s in telemetry.spans()) == case.uninstrumented_scopes  # as without us
    telemetry.exporter.clear()
    case.plain(case.client(canned.play(case.plain_response())))
    assert only_span(telemetry, case).attributes["gen_ai.response.id"] == case.plain_id
