"""The semantic-conventions-genai "latest experimental" dialect, opted in the OpenTelemetry way
(``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``, read at ``instrument()``), against the
v1.41.1 default: metric names and instruments, token counters with ``gen_ai.token.modality``, output
messages without ``finish_reason``. Real openai client, loopback fixture endpoint and recorded
embeddings, real OTel SDK metric reader."""

from __future__ import annotations

import json

import openai
import pytest

from otel_genai.demo.fixture import respond
from otel_genai.demo.server import LoopbackServer
from otel_genai.semconv.dialect import latest_experimental
from recorded import load_interactions

EMBEDDING = next(
    i for i in load_interactions("openai", "/embeddings") if i.status == 200 and i.path == "/v1/embeddings"
)
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture(scope="module")
def endpoint():
    with LoopbackServer(respond) as server:
        yield server.base_url + "/v1"


def metric_names(telemetry) -> set[str]:
    data = telemetry.metric_reader.get_metrics_data()
    return {
        metric.name
        for resource_metrics in (data.resource_metrics if data else ())
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
        if not metric.name.startswith("otel_genai.internal")
    }


def run_calls(endpoint: str, replayer) -> None:
    client = openai.OpenAI(api_key="k", base_url=endpoint, max_retries=0)
    completion = client.chat.completions.create(**CHAT)
    assert completion.usage.prompt_tokens > 0
    for _ in client.chat.completions.create(**CHAT, stream=True, stream_options={"include_usage": True}):
        pass
    embedder = openai.OpenAI(api_key="k", base_url=replayer.play(EMBEDDING) + "/v1", max_retries=0)
    embedder.embeddings.create(**EMBEDDING.request_body)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("gen_ai_latest_experimental", True), ("http, gen_ai_latest_experimental", True), ("gen_ai", False), ("", False)],
)
def test_opt_in_is_read_as_a_comma_separated_list(value, expected):
    assert latest_experimental({"OTEL_SEMCONV_STABILITY_OPT_IN": value}) is expected


def test_default_dialect_is_semconv_v1_41_1(endpoint, replayer, telemetry, instrument, monkeypatch):
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    instrument("SPAN_ONLY")
    run_calls(endpoint, replayer)
    assert metric_names(telemetry) == {
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.client.operation.time_per_output_chunk",
    }
    chat = next(span for span in telemetry.spans() if span.name == "chat gpt-4o-mini")
    assert json.loads(chat.attributes["gen_ai.output.messages"])[0]["finish_reason"] == "stop"


def test_latest_experimental_dialect_renames_the_metrics_and_counts_tokens(endpoint, replayer, telemetry, instrument, monkeypatch):
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    instrument("SPAN_ONLY")
    run_calls(endpoint, replayer)
    assert metric_names(telemetry) == {
        "gen_ai.client.inference.duration",  # the two chat calls
        "gen_ai.client.operation.duration",  # embeddings are not an inference operation
        "gen_ai.client.inference.time_to_first_chunk",
        "gen_ai.client.inference.time_per_output_chunk",
        "gen_ai.client.inference.operation.input_tokens",
        "gen_ai.client.inference.operation.output_tokens",
        "gen_ai.client.inference.usage.input_tokens",
        "gen_ai.client.inference.usage.output_tokens",
    }
    (inference,) = telemetry.metric_points("gen_ai.client.inference.duration")
    assert inference.count == 2 and inference.attributes["gen_ai.operation.name"] == "chat"
    (embeddings,) = telemetry.metric_points("gen_ai.client.operation.duration")
    assert embeddings.attributes["gen_ai.operation.name"] == "embeddings"

    spans = telemetry.spans()
    span_input = sum(span.attributes.get("gen_ai.usage.input_tokens", 0) for span in spans)
    span_output = sum(span.attributes.get("gen_ai.usage.output_tokens", 0) for span in spans)
    counted_input = telemetry.metric_points("gen_ai.client.inference.usage.input_tokens")
    counted_output = telemetry.metric_points("gen_ai.client.inference.usage.output_tokens")
    assert {p.attributes["gen_ai.operation.name"] for p in counted_input} == {"chat", "embeddings"}
    # counters: the sums of every call's usage (the embeddings call counts input tokens too)
    assert (sum(p.value for p in counted_input), sum(p.value for p in counted_output)) == (span_input, span_output)
    assert {p.attributes["gen_ai.token.modality"] for p in counted_input + counted_output} == {"unknown"}
    histogram_input = sum(p.sum for p in telemetry.metric_points("gen_ai.client.inference.operation.input_tokens"))
    assert histogram_input == span_input
    assert "gen_ai.token.modality" not in telemetry.metric_points("gen_ai.client.inference.operation.input_tokens")[0].attributes

    chat = next(span for span in spans if span.name == "chat gpt-4o-mini")
    (message,) = json.loads(chat.attributes["gen_ai.output.messages"])
    assert "finish_reason" not in message and message["parts"]  # on the span's finish_reasons instead
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("stop",)
