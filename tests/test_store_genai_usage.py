"""Trace token usage from ``gen_ai.usage.*`` of any instrumentation (``mlflow.chat.tokenUsage`` the
fallback, MLflow's ancestor rule), through a real ``otel-genai serve`` process and real SQLite files;
the summary rules never assuming a whole trace in one batch; the store chosen by URI."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import otel_genai
from otel_genai.demo.run import instrument_command
from otel_genai.store import (
    BACKENDS,
    SpanRecord,
    StoreError,
    StoreUnavailableError,
    StoreWriteError,
    open_store,
    search_traces,
)
from otel_genai.store.otlp import MalformedRequestError, parse_export_request
from otel_genai.store.summary import TraceSummary, merge_summaries, summarize_batch
from shipping import clean_env, stop_process
from test_ship_receiver import start_serve

CLI = [sys.executable, "-m", "otel_genai.cli"]
SEC = 10**9

#: an app instrumented by the official opentelemetry-instrumentation-genai-openai only (gen_ai.* spans,
#: no MLflow keys), calling the demo's loopback OpenAI endpoint twice inside an agent span
OFFICIAL_APP = textwrap.dedent(
    """
    import os, sys
    import openai
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from otel_genai.demo.fixture import respond
    from otel_genai.demo.server import LoopbackServer

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=sys.argv[1])))
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    with LoopbackServer(respond) as server:
        client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="test", max_retries=0)
        with provider.get_tracer("official-app").start_as_current_span("agent"):
            for question in ("What is OpenTelemetry?", "And what is a span, in one line?"):
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    provider.shutdown()
    """
)


@pytest.fixture
def serve(tmp_path):
    """A real ``otel-genai serve`` on 127.0.0.1 writing into ``tmp_path/received.db``: (endpoint, store path)."""
    store = tmp_path / "received.db"
    process, endpoint = start_serve("--store", str(store))
    try:
        yield endpoint, store
    finally:
        stop_process(process)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, env=clean_env())


def infos(store) -> list:
    """``trace.info`` of every trace, read with spans and from the summary rows alone (they must agree)."""
    full = [t.info for t in search_traces(None, path=store)]
    assert [t.info for t in search_traces(None, path=store, include_spans=False)] == full
    return full


# --- spans of the official OpenTelemetry instrumentation, through serve -----------------------------


def test_official_genai_openai_spans_through_serve_show_their_token_usage(tmp_path, serve):
    endpoint, store = serve
    app = tmp_path / "official_app.py"
    app.write_text(OFFICIAL_APP)
    done = subprocess.run([sys.executable, str(app), endpoint], capture_output=True, text=True, timeout=120,
                          env=clean_env())
    assert done.returncode == 0, done.stderr

    (trace,) = otel_genai.search_traces(path=store)
    chats = [s for s in trace.data.spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(chats) == 2 and trace.info.root_span_name == "agent"
    for span in chats:  # what the official instrumentation sends: gen_ai.* only
        assert not any(key.startswith("mlflow.") for key in span.attributes)
        assert span.attributes["gen_ai.usage.input_tokens"] > 0 and span.attributes["gen_ai.usage.output_tokens"] > 0
    inputs = sum(s.attributes["gen_ai.usage.input_tokens"] for s in chats)
    outputs = sum(s.attributes["gen_ai.usage.output_tokens"] for s in chats)
    usage = trace.info.token_usage
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (inputs, outputs, inputs + outputs)
    for key, attribute in (("cache_read_input_tokens", "gen_ai.usage.cache_read.input_tokens"),
                           ("reasoning_output_tokens", "gen_ai.usage.reasoning.output_tokens")):
        if any(attribute in s.attributes for s in chats):
            assert usage[key] == sum(s.attributes.get(attribute, 0) for s in chats)
        else:
            assert key not in usage
    assert infos(store) == [trace.info]
    assert chats[0].token_usage["input_tokens"] == chats[0].attributes["gen_ai.usage.input_tokens"]

    listed = cli("traces", "list", "--store", str(store))
    assert listed.returncode == 0, listed.stderr
    # a pipe is 80 columns wide: the table keeps the total and the cost (genai-prices knows the model)
    total, cost = listed.stdout.splitlines()[1].split()[-2:]
    assert total == str(inputs + outputs) and cost.startswith("$0.0000")
    shown = cli("traces", "show", "--last", "--store", str(store))
    assert shown.returncode == 0, shown.stderr
    assert sum("  tokens: input " in line for line in shown.stdout.splitlines()) == 2
    assert shown.stdout.splitlines()[-1].startswith(f"Total tokens: input {inputs}, output {outputs}, total {inputs + outputs}")


# --- the rules, with spans of several shapes, in two batches through serve --------------------------


def finished_spans() -> dict:
    """One trace of spans by name: an agent root (no usage), an LLM wrapper and the call inside it
    (both with the call's usage: counted once), a call with a cache write under the older attribute
    name and reasoning tokens, a call with only ``mlflow.chat.tokenUsage``, and a call with both
    (``gen_ai.usage.*`` wins)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "js-app"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("some.other.instrumentation")
    call = {"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20, "gen_ai.usage.cache_read.input_tokens": 30}
    t0 = 1_700_000_000 * SEC
    agent = tracer.start_span("agent", start_time=t0)
    under_agent = trace_api.set_span_in_context(agent)
    wrapper = tracer.start_span("llm wrapper", context=under_agent, start_time=t0 + 1000, attributes=call)
    inner = tracer.start_span("chat inner", context=trace_api.set_span_in_context(wrapper), kind=SpanKind.CLIENT,
                              start_time=t0 + 2000, attributes=call)
    inner.end(end_time=t0 + 3000)
    wrapper.end(end_time=t0 + 4000)
    for name, start, attributes in (
        ("chat cache write", 5000, {"gen_ai.usage.input_tokens": 7, "gen_ai.usage.output_tokens": 3,
                                    "gen_ai.usage.cache_creation.input_tokens": 4,
                                    "gen_ai.usage.reasoning.output_tokens": 2}),
        ("chat mlflow only", 7000, {"mlflow.chat.tokenUsage": '{"input_tokens":5,"output_tokens":1,"total_tokens":6}'}),
        ("chat both", 9000, {"gen_ai.usage.input_tokens": 1, "gen_ai.usage.output_tokens": 1,
                             "mlflow.chat.tokenUsage": '{"input_tokens":50,"output_tokens":50,"total_tokens":100}'}),
    ):
        tracer.start_span(name, context=under_agent, kind=SpanKind.CLIENT, start_time=t0 + start,
                          attributes=attributes).end(end_time=t0 + start + 1000)
    agent.end(end_time=t0 + 20_000)
    provider.shutdown()
    return {s.name: s for s in memory.get_finished_spans()}


def test_usage_of_any_shape_aggregates_once_across_batches_through_serve(serve):
    endpoint, store = serve
    spans = finished_spans()
    exporter = OTLPSpanExporter(endpoint=endpoint)
    first = [spans[n] for n in ("chat inner", "llm wrapper", "chat cache write", "chat mlflow only")]
    assert exporter.export(first) is SpanExportResult.SUCCESS
    (early,) = infos(store)  # the root and one call still missing: what is stored so far, counted once
    assert early.root_span_name == "llm wrapper"  # stand-in: the earliest span whose parent is not stored
    assert early.token_usage == {"input_tokens": 112, "output_tokens": 24, "total_tokens": 136,
                                 "cache_read_input_tokens": 30, "cache_creation_input_tokens": 4,
                                 "reasoning_output_tokens": 2}

    assert exporter.export([spans["agent"], spans["chat both"]]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    (info,) = infos(store)
    assert (info.root_span_name, info.status) == ("agent", "OK")
    assert (info.start_time_ns, info.end_time_ns) == (spans["agent"].start_time, spans["agent"].end_time)
    assert info.token_usage == {"input_tokens": 113, "output_tokens": 25, "total_tokens": 138,
                                "cache_read_input_tokens": 30, "cache_creation_input_tokens": 4,
                                "reasoning_output_tokens": 2}


def test_cache_and_reasoning_keys_only_when_a_counted_span_has_them(tmp_path):
    path = tmp_path / "traces.db"
    with open_store(path) as store:
        store.write_spans([
            SpanRecord("ab" * 16, "1" * 16, None, "outer", "CLIENT", 1, 2,
                       attributes={"gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 2}),
            # under usage: its cache and reasoning counts are not counted, so their keys stay out
            SpanRecord("ab" * 16, "2" * 16, "1" * 16, "inner", "CLIENT", 1, 2,
                       attributes={"gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 2,
                                   "gen_ai.usage.cache_read.input_tokens": 1,
                                   "gen_ai.usage.reasoning.output_tokens": 1}),
        ])
    assert [i.token_usage for i in infos(path)] == [{"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}]


# --- a trace in any number of batches, in any order --------------------------------------------------


def trace_records() -> list:
    tid = "cd" * 16
    return [
        SpanRecord(tid, "1" * 16, None, "root", "INTERNAL", 1_000, 9_000, "ERROR"),
        SpanRecord(tid, "2" * 16, "1" * 16, "late model", "CLIENT", 5_000, 6_000,
                   attributes={"gen_ai.request.model": "late", "gen_ai.usage.input_tokens": 2, "gen_ai.usage.output_tokens": 1}),
        SpanRecord(tid, "3" * 16, "1" * 16, "early model", "CLIENT", 2_000, 3_000,
                   attributes={"gen_ai.response.model": "early", "gen_ai.usage.output_tokens": 4}),
        SpanRecord(tid, "4" * 16, "1" * 16, "background", "INTERNAL", 8_000, 12_000),
    ]


def test_summary_rules_give_the_same_trace_whatever_the_batches(tmp_path):
    records = trace_records()
    reference = None
    for n, order in enumerate(itertools.permutations(records)):
        if n % 5:  # a spread of the 24 orders, each split into three batches
            continue
        path = tmp_path / f"order-{n}.db"
        with open_store(path) as store:
            for batch in ([order[0]], list(order[1:3]), [order[3]]):
                store.write_spans(batch)
        (info,) = infos(path)
        reference = reference or info
        assert info == reference
    assert (reference.root_span_name, reference.status, reference.model) == ("root", "ERROR", "early")
    assert (reference.start_time_ns, reference.end_time_ns) == (1_000, 12_000)
    assert reference.token_usage == {"input_tokens": 2, "output_tokens": 5, "total_tokens": 7}


def test_merge_summaries_folds_batches_in_any_order_to_the_one_batch_summary():
    records = trace_records()
    whole = summarize_batch(records, [1] * len(records))["cd" * 16]
    for order in itertools.permutations(records):
        folded = None
        for rec in order:
            folded = merge_summaries(folded, summarize_batch([rec], [None])["cd" * 16])
        assert folded._replace(has_token_usage=True) == whole
    assert whole == TraceSummary(1_000, 12_000, "1" * 16, "root", "ERROR", "early", 2_000, True)


# --- errors: retryable or not, malformed requests -----------------------------------------------------


def test_a_locked_store_is_unavailable_and_a_bad_record_is_a_write_error(tmp_path):
    path = tmp_path / "traces.db"
    with open_store(path, timeout_s=0.05) as store:
        with pytest.raises(StoreWriteError) as bad:
            store.write_spans([SpanRecord("ab" * 16, "1" * 16, None, None, "INTERNAL", 1, 2)])  # no name
        assert not isinstance(bad.value, StoreUnavailableError)
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailableError, match="locked"):
                store.write_spans([SpanRecord("ab" * 16, "1" * 16, None, "x", "INTERNAL", 1, 2)])
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert store.write_spans([SpanRecord("ab" * 16, "1" * 16, None, "x", "INTERNAL", 1, 2)]) == 1


@pytest.mark.parametrize(("body", "media_type"), [(b"\xff\xff", "application/x-protobuf"), (b"[1]", "application/json")])
def test_the_otlp_decoder_raises_a_domain_error(body, media_type):
    with pytest.raises(MalformedRequestError) as raised:
        parse_export_request(body, media_type)
    assert isinstance(raised.value, ValueError) and "malformed" in str(raised.value)


# --- the store chosen by URI ---------------------------------------------------------------------------


def test_open_store_by_uri_path_and_environment(tmp_path, monkeypatch):
    assert list(BACKENDS)[0] == "sqlite" and "postgresql" in BACKENDS
    path = tmp_path / "by uri.db"
    uri = "sqlite://" + str(path).replace(" ", "%20")
    with open_store(uri) as store:
        store.write_spans(trace_records())
        assert store.location == str(path)
    assert [i.root_span_name for i in infos(path)] == ["root"]
    assert otel_genai.search_traces(store=uri)[0].info.root_span_name == "root"
    assert otel_genai.get_trace("cd" * 16, store=uri).info.model == "early"
    with pytest.raises(ValueError, match="not both"):
        otel_genai.search_traces(path=path, store=uri)

    monkeypatch.setenv("OTEL_GENAI_STORE_PATH", str(tmp_path / "from-path.db"))
    monkeypatch.setenv("OTEL_GENAI_STORE_URI", uri)  # wins over OTEL_GENAI_STORE_PATH
    assert otel_genai.get_trace("cd" * 16) is not None
    monkeypatch.delenv("OTEL_GENAI_STORE_URI")
    assert otel_genai.get_trace("cd" * 16) is None  # from-path.db does not exist: no store yet

    for bad, message in (("mysql://u@localhost/db", "unsupported trace store URI scheme 'mysql'"),
                         ("sqlite://relative.db", "invalid SQLite store URI"),
                         ("sqlite:///x.db?mode=ro", "invalid SQLite store URI")):
        with pytest.raises(StoreError, match=message):
            open_store(bad)


def test_cli_and_exporter_take_a_store_uri(tmp_path):
    path = tmp_path / "cli.db"
    uri = f"sqlite://{path}"
    env = clean_env(OTEL_TRACES_EXPORTER="otel_genai", OTEL_GENAI_STORE_URI=uri)
    app = "from opentelemetry import trace\nwith trace.get_tracer('t').start_as_current_span('from env'): pass\n"
    done = subprocess.run([*instrument_command(), sys.executable, "-c", app], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    listed = cli("traces", "list", "--store", uri)
    assert listed.returncode == 0, listed.stderr
    assert "from env" in listed.stdout
    refused = cli("traces", "list", "--store", "mysql://db")
    assert refused.returncode == 1
    assert refused.stderr == ("otel-genai: error: unsupported trace store URI scheme 'mysql'"
                              f" (supported: {', '.join(sorted(BACKENDS))}, or a file path)\n")
