"""The read API (issue 15) on every store adapter (``store_uri``: a real SQLite file, a real PostgreSQL
server): MLflow-named entities and their JSON round trip, MLflow's ``search_traces`` grammar checked
against a plain-Python evaluation of the same filter over ``Trace.to_dict()`` (hypothesis), order and
pages, tags / sessions / users through ``otel_genai.attributes`` and a real OpenAI client, cost with
genai-prices, retention and deletion, and the MLflow docs' ``search_traces`` examples ported."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import otel_genai
from otel_genai.demo.fixture import respond
from otel_genai.demo.server import LoopbackServer
from otel_genai.exporters.store import RetentionPolicy, TraceStoreSpanExporter
from otel_genai.instrumentation.openai import OpenAIInstrumentor
from otel_genai.store import SpanRecord, Trace, TraceNotFoundError, open_store
from otel_genai.store.pricing import price
from otel_genai.tracing import trace_attributes

MS = 1_000_000
T0 = 1_750_000_000_000 * MS  # ns


@pytest.fixture
def store(store_uri):
    with open_store(store_uri) as opened:
        yield opened


def rec(tid: str, sid: str, parent, name: str, start_ms: int, end_ms: int, status: str = "UNSET", **attributes) -> SpanRecord:
    return SpanRecord(tid, sid, parent, name, "INTERNAL", T0 + start_ms * MS, T0 + end_ms * MS, status,
                      attributes=attributes, resource_attributes={"service.name": "svc"})


def chat_attributes(model: str, inp: int, out: int, provider: str = "openai", question: str = "hi", answer: str = "yo") -> dict:
    return {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider, "gen_ai.request.model": model,
        "mlflow.spanType": "CHAT_MODEL", "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out,
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": question}]}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]),
    }


# --- entities -------------------------------------------------------------------------------------


def test_entities_carry_mlflows_names_and_round_trip_through_json(store):
    tid = "a1" * 16
    store.write_spans([
        rec(tid, "1" * 16, None, "agent", 0, 50, "OK", **{"mlflow.spanType": "AGENT", "mlflow.spanInputs": '{"q": "hi"}',
                                                         "mlflow.spanOutputs": '"yo"', "mlflow.traceTag.env": "prod",
                                                         "session.id": "s-1", "user.id": "u-1"}),
        rec(tid, "2" * 16, "1" * 16, "chat gpt-4o-mini", 10, 40, **chat_attributes("gpt-4o-mini", 1000, 100, question="Why?", answer="Because.")),
    ])
    trace = store.get_trace(tid)
    info = trace.info
    assert (info.state, info.status, info.request_time, info.execution_duration) == ("OK", "OK", T0 // MS, 50)
    assert (info.trace_name, info.request_preview, info.response_preview) == ("agent", "Why?", "Because.")
    assert info.tags == {"env": "prod"}
    assert info.trace_metadata == {"mlflow.trace.session": "s-1", "mlflow.trace.user": "u-1"}
    assert info.token_usage == {"input_tokens": 1000, "output_tokens": 100, "total_tokens": 1100}
    assert info.cost == price("gpt-4o-mini", "openai", info.token_usage) and info.cost["total_cost"] > 0
    assert (info.model, info.provider, info.service_name) == ("gpt-4o-mini", "openai", "svc")
    agent, chat = trace.data.spans
    assert (agent.span_type, agent.inputs, agent.outputs) == ("AGENT", {"q": "hi"}, "yo")
    assert chat.span_type == "CHAT_MODEL" and chat.inputs[0]["parts"][0]["content"] == "Why?"
    assert chat.status.status_code == "UNSET" and agent.status == "OK" and chat.cost == info.cost
    assert Trace.from_json(trace.to_json()) == trace
    assert json.loads(json.dumps(trace.to_dict()))["info"]["cost"] == info.cost
    (light,) = store.search_traces(include_spans=False)
    assert light.info == info and light.data.spans == []


def test_a_trace_without_its_root_is_in_progress(store):
    tid = "b2" * 16
    store.write_spans([rec(tid, "2" * 16, "1" * 16, "child", 1, 2, "ERROR")])
    assert (store.get_trace(tid).info.state, store.get_trace(tid).info.status) == ("IN_PROGRESS", "ERROR")
    store.write_spans([rec(tid, "1" * 16, None, "root", 0, 3, "UNSET")])
    assert (store.get_trace(tid).info.state, store.get_trace(tid).info.status) == ("OK", "OK")


# --- the filter grammar against a plain-Python evaluation ---------------------------------------------

MODELS = ["gpt-4o-mini", "claude-3-5-sonnet-20241022", "no-such-model"]
NAMES = ["agent", "Agent", "chat", "predict", "work_1"]
WORDS = ["prod", "dev", "Prod", "a_b", "x%"]


@st.composite
def stored_trace(draw, index: int = 0):
    tid = format(draw(st.integers(0, 2**127)), "032x")
    start = draw(st.integers(0, 10_000))
    duration = draw(st.integers(1, 5_000))
    rooted = draw(st.booleans()) or draw(st.booleans())
    root_attrs = {"mlflow.spanType": draw(st.sampled_from(["AGENT", "CHAIN"]))}
    for key in draw(st.sets(st.sampled_from(["env", "team", "a.b"]))):
        root_attrs[f"mlflow.traceTag.{key}"] = draw(st.sampled_from(WORDS))
    if draw(st.booleans()):
        root_attrs["session.id"] = draw(st.sampled_from(["s1", "s2"]))
    if draw(st.booleans()):
        root_attrs["otel_genai.trace.metadata.tier"] = draw(st.sampled_from(WORDS))
    root_attrs["flag"] = draw(st.sampled_from(["on", "off", 3, True]))
    spans = []
    if rooted:
        spans.append(rec(tid, "0" * 15 + "1", None, draw(st.sampled_from(NAMES)), start, start + duration,
                         draw(st.sampled_from(["UNSET", "OK", "ERROR"])), **root_attrs))
    for i in range(draw(st.integers(0 if rooted else 1, 3))):
        model = draw(st.sampled_from(MODELS))
        attrs = chat_attributes(model, draw(st.integers(0, 3000)), draw(st.integers(0, 500)),
                                provider="anthropic" if model.startswith("claude") else "openai")
        if draw(st.booleans()):
            attrs.pop("gen_ai.usage.input_tokens")
            attrs.pop("gen_ai.usage.output_tokens")
        spans.append(rec(tid, f"{i + 2:016x}", "0" * 15 + "1", f"chat {model}", start + i + 1, start + duration - 1 if duration > 2 else start + 1,
                         draw(st.sampled_from(["UNSET", "ERROR"])), **attrs))
    return spans


def condition():
    number = st.one_of(st.integers(-1, 6000), st.floats(0, 0.02, allow_nan=False).map(lambda f: round(f, 5)))
    string_op = st.sampled_from(["=", "!=", "LIKE", "ILIKE"])
    pattern = st.sampled_from(WORDS + NAMES + MODELS + ["%", "p%", "%o%", "_gent", "chat %", "%mini", "A%", "s_", "on", "3", "true"])
    return st.one_of(
        st.tuples(st.sampled_from(["trace.status", "status"]), st.sampled_from(["=", "!="]),
                  st.sampled_from(["'OK'", "'ERROR'", "'IN_PROGRESS'"])),
        st.tuples(st.sampled_from(["trace.timestamp_ms", "trace.execution_time_ms", "trace.input_tokens",
                                   "trace.output_tokens", "trace.total_tokens", "trace.cost"]),
                  st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
                  st.one_of(number, st.integers(0, 10_000).map(lambda ms: T0 // MS + ms)).map(str)),
        st.tuples(st.sampled_from(["trace.name", "trace.model", "trace.provider", "tag.env", "tags.team", "tag.`a.b`",
                                   "metadata.`mlflow.trace.session`", "metadata.tier", "span.name", "span.type",
                                   "span.attributes.`gen_ai.request.model`", "span.attributes.flag"]),
                  string_op, pattern.map(lambda p: "'" + p.replace("'", "''") + "'")),
    )


def _like(pattern: str, case_insensitive: bool) -> re.Pattern:
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if case_insensitive else 0))


def _test(value, op: str, wanted) -> bool:
    """One comparison, the documented way: a missing value never matches."""
    if value is None:
        return False
    if op in ("LIKE", "ILIKE"):
        return _like(wanted, op == "ILIKE").match(value) is not None
    return {"=": value == wanted, "!=": value != wanted, "<": value < wanted, "<=": value <= wanted,
            ">": value > wanted, ">=": value >= wanted}[op]


def _attribute_text(value):
    return value if isinstance(value, str) else json.dumps(value)


def python_matches(trace: dict, conditions: list) -> bool:
    """The filter evaluated over ``Trace.to_dict()``, independently of the store's SQL."""
    info, spans = trace["info"], trace["data"]["spans"]
    paths = {"status": ("state",), "timestamp_ms": ("request_time",), "execution_time_ms": ("execution_duration",),
             "name": ("trace_name",), "model": ("model",), "provider": ("provider",),
             "input_tokens": ("token_usage", "input_tokens"), "output_tokens": ("token_usage", "output_tokens"),
             "total_tokens": ("token_usage", "total_tokens"), "cost": ("cost", "total_cost")}
    for field, op, raw in conditions:
        if raw.startswith("'"):
            value = raw[1:-1].replace("''", "'")
        else:
            value = float(raw) if any(c in raw for c in ".eE") else int(raw)
        head, _, rest = field.partition(".")
        key = rest.strip("`")
        if field == "status" or head == "trace":
            found = info
            for step in paths[rest or field]:
                found = found.get(step) if isinstance(found, dict) else None
            ok = _test(found, op, value)
        elif head in ("tag", "tags"):
            ok = _test(info["tags"].get(key), op, value)
        elif head == "metadata":
            ok = _test(info["trace_metadata"].get(key), op, value)
        elif field == "span.name":
            ok = any(_test(s["name"], op, value) for s in spans)
        elif field == "span.type":
            ok = any(_test(s["span_type"], op, value) for s in spans)
        else:
            attribute = field.split(".", 2)[2].strip("`")
            ok = any(attribute in s["attributes"] and _test(_attribute_text(s["attributes"][attribute]), op, value)
                     for s in spans)
        if not ok:
            return False
    return True


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow, HealthCheck.data_too_large])
@given(traces=st.lists(stored_trace(), min_size=1, max_size=8), filters=st.lists(st.lists(condition(), min_size=1, max_size=3), min_size=1, max_size=6))
def test_search_answers_what_the_filter_says_over_to_dict(store, traces, filters):
    for spans in traces:
        store.write_spans(spans)
    everything = [t.to_dict() for t in store.search_traces(max_results=None)]
    for conditions in filters:
        text = " AND ".join(f"{f} {op} {v}" for f, op, v in conditions)
        got = [t.info.trace_id for t in store.search_traces(text, max_results=None, include_spans=False)]
        expected = [t["info"]["trace_id"] for t in everything if python_matches(t, conditions)]
        assert got == expected, text


@pytest.mark.parametrize(("text", "position", "token"), [
    ("trace.status = 'OK' OR trace.name = 'x'", 20, "OR"),
    ("trace.total_tokens LIKE '5'", 19, "LIKE"),
    ("trace.nope = 1", 0, "trace.nope"),
    ("tag.env = prod", 10, "prod"),
    ("trace.cost > 'cheap'", 13, "'cheap'"),
    ("trace.status = 'DONE'", 15, "'DONE'"),
    ("trace.name = 'a' AND", 20, "AND"),
])
def test_a_malformed_filter_points_at_its_token(store, text, position, token):
    with pytest.raises(ValueError) as raised:
        store.search_traces(text)
    message = str(raised.value)
    assert f"position {position}:" in message and token in message
    assert message.splitlines()[-1] == "  " + " " * position + "^"


# --- order and pages ------------------------------------------------------------------------------


def test_order_by_tokens_cost_duration_and_pages_cover_everything_once(store):
    ids = []
    for i, (tokens, duration) in enumerate([(300, 5), (100, 50), (None, 20), (200, 1)]):
        tid = f"{i + 1:032x}"
        ids.append(tid)
        spans = [rec(tid, "1" * 16, None, "agent", i * 10, i * 10 + duration)]
        if tokens is not None:
            spans.append(rec(tid, "2" * 16, "1" * 16, "chat", i * 10, i * 10 + 1, **chat_attributes("gpt-4o-mini", tokens, 10)))
        store.write_spans(spans)
    by = lambda order: [t.info.trace_id for t in store.search_traces(order_by=order, include_spans=False)]  # noqa: E731
    assert by(None) == by(["timestamp_ms DESC"]) == ids[::-1]
    assert by(["total_tokens DESC"]) == [ids[0], ids[3], ids[1], ids[2]]  # no tokens: last
    assert by(["trace.total_tokens ASC"]) == [ids[1], ids[3], ids[0], ids[2]]
    assert by(["cost DESC"]) == [ids[0], ids[3], ids[1], ids[2]]
    assert by(["execution_time_ms DESC"]) == [ids[1], ids[2], ids[0], ids[3]]
    seen, token = [], None
    while True:
        page = store.search_traces("trace.execution_time_ms >= 1", order_by=["timestamp_ms ASC"], max_results=3,
                                   page_token=token, include_spans=False)
        seen += [t.info.trace_id for t in page]
        token = page.token
        if token is None:
            break
    assert seen == ids
    with pytest.raises(ValueError, match="order_by"):
        store.search_traces(order_by=["name DESC"])
    with pytest.raises(ValueError, match="page_token"):
        store.search_traces(page_token="nonsense")


# --- the MLflow docs' search_traces examples, ported (only the import changes) -----------------------


def test_mlflow_docs_search_examples_run_unchanged(store_uri, monkeypatch):
    monkeypatch.setenv("OTEL_GENAI_STORE_URI", store_uri)
    with open_store(store_uri) as store:
        store.write_spans([
            rec("c3" * 16, "1" * 16, None, "predict", 0, 1500, "OK", **{"mlflow.traceTag.environment": "production"}),
            rec("c3" * 16, "2" * 16, "1" * 16, "chat", 1, 2, **chat_attributes("gpt-4o-mini", 10, 5)),
            rec("d4" * 16, "1" * 16, None, "predict", 2000, 2100, "ERROR", **{"mlflow.traceTag.environment": "staging"}),
        ])
    import otel_genai as mlflow  # the docs' examples, with this import changed

    ok = mlflow.search_traces(filter_string="trace.status = 'OK'")
    assert [t.info.trace_id for t in ok] == ["c3" * 16]
    since = T0 // MS + 1000
    assert [t.info.trace_id for t in mlflow.search_traces(filter_string=f"trace.timestamp_ms > {since}")] == ["d4" * 16]
    assert len(mlflow.search_traces(filter_string="tags.environment = 'production'")) == 1
    slow = mlflow.search_traces(filter_string="trace.execution_time_ms > 1000", order_by=["timestamp_ms DESC"])
    assert [t.info.trace_id for t in slow] == ["c3" * 16]
    assert len(mlflow.search_traces(filter_string="trace.name = 'predict' AND trace.status = 'ERROR'")) == 1
    assert len(mlflow.search_traces(filter_string="span.name = 'chat'", max_results=10)) == 1
    assert [t.info.trace_id for t in mlflow.search_traces(max_results=1)] == ["d4" * 16]


# --- tags, sessions, users through the API and a real OpenAI client ------------------------------------


@pytest.fixture
def pipeline(store_uri, monkeypatch):
    """A real SDK pipeline into the store (SimpleSpanProcessor), openai instrumented against it, the
    provider global (as autolog sets it); yields (provider, base_url)."""
    from opentelemetry import trace

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(TraceStoreSpanExporter(store_uri, retention=None)))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content="SPAN_ONLY")
    try:
        with LoopbackServer(respond) as server:
            yield provider, server.base_url
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def test_attributes_stamp_every_span_and_arrive_as_tags_and_session(pipeline, store_uri):
    provider, base_url = pipeline
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="test", max_retries=0)

    @otel_genai.trace(kind="agent")
    def answer(question: str) -> str:
        otel_genai.update_current_trace(tags={"stage": "beta"}, metadata={"build": "42"}, response_preview="custom")
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
        return reply.choices[0].message.content

    with otel_genai.attributes(session_id="conv-7", user_id="ada", tags=["vip"], metadata={"region": "eu"}):
        answer("What is OpenTelemetry?")
    answer("untagged")  # outside the block: no session

    with open_store(store_uri, read_only=True) as store:
        tagged, plain = store.search_traces(order_by=["timestamp_ms ASC"])
        info = tagged.info
        assert info.tags == {"vip": "true", "stage": "beta"}
        assert info.trace_metadata == {"mlflow.trace.session": "conv-7", "mlflow.trace.user": "ada", "region": "eu", "build": "42"}
        assert (info.session_id, info.user_id, info.response_preview) == ("conv-7", "ada", "custom")
        assert info.request_preview == "What is OpenTelemetry?"
        chat = next(s for s in tagged.data.spans if s.span_type == "CHAT_MODEL")
        assert (chat.attributes["session.id"], chat.attributes["gen_ai.conversation.id"], chat.attributes["user.id"]) == ("conv-7",) * 2 + ("ada",)
        assert plain.info.trace_metadata == {"build": "42"}  # no session, no user
        assert plain.info.tags == {"stage": "beta"}
        assert [t.info.trace_id for t in store.search_traces("metadata.`mlflow.trace.session` = 'conv-7'")] == [info.trace_id]
        assert [t.info.trace_id for t in store.search_traces("tag.vip = 'true' AND span.type = 'CHAT_MODEL'")] == [info.trace_id]

    otel_genai.set_trace_tag(info.trace_id, "reviewed", "yes", store=store_uri)
    assert otel_genai.delete_trace_tag(info.trace_id, "vip", store=store_uri) is True
    assert otel_genai.delete_trace_tag(info.trace_id, "vip", store=store_uri) is False
    assert otel_genai.get_trace(info.trace_id, store=store_uri).info.tags == {"stage": "beta", "reviewed": "yes"}
    with pytest.raises(TraceNotFoundError):
        otel_genai.set_trace_tag("0" * 32, "k", "v", store=store_uri)


def test_attributes_blocks_nest_and_leave_nothing_behind():
    from opentelemetry import context

    assert context.get_value(trace_attributes.TRACE_ATTRIBUTES_KEY) is None
    with otel_genai.attributes(session_id="outer", tags={"a": "1"}):
        with otel_genai.attributes(user_id="u", tags={"b": "2"}):
            assert context.get_value(trace_attributes.TRACE_ATTRIBUTES_KEY) == {
                "session.id": "outer", "gen_ai.conversation.id": "outer", "mlflow.traceTag.a": "1",
                "user.id": "u", "mlflow.traceTag.b": "2"}
        assert "user.id" not in context.get_value(trace_attributes.TRACE_ATTRIBUTES_KEY)
    assert context.get_value(trace_attributes.TRACE_ATTRIBUTES_KEY) is None


# --- cost -----------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(model=st.sampled_from([("gpt-4o-mini", "openai"), ("claude-3-5-sonnet-20241022", "anthropic"),
                              ("gemini-2.5-pro", "gcp.gemini"), ("claude-3-5-haiku-20241022", "aws.bedrock")]),
       uncached=st.integers(0, 400_000), read=st.integers(0, 50_000), write=st.integers(0, 50_000),
       out=st.integers(0, 100_000))
def test_price_is_genai_prices_calc_price(model, uncached, read, write, out):
    from genai_prices import Usage, calc_price

    name, provider = model
    usage = {"input_tokens": uncached + read + write, "output_tokens": out, "total_tokens": uncached + read + write + out}
    if read:
        usage["cache_read_input_tokens"] = read
    if write:
        usage["cache_creation_input_tokens"] = write
    got = price(name, provider, usage)
    ids = {"gcp.gemini": "google", "aws.bedrock": "aws"}
    expected = calc_price(Usage(input_tokens=usage["input_tokens"], output_tokens=out, cache_read_tokens=read or None,
                                cache_write_tokens=write or None), model_ref=name, provider_id=ids.get(provider, provider))
    assert got["input_cost"] == pytest.approx(float(expected.input_price), rel=1e-9, abs=1e-12)
    assert got["output_cost"] == pytest.approx(float(expected.output_price), rel=1e-9, abs=1e-12)
    assert got["total_cost"] == pytest.approx(float(expected.total_price), rel=1e-9, abs=1e-12)


def test_unknown_models_and_missing_usage_have_no_cost(store):
    assert price("no-such-model-anywhere", "openai", {"input_tokens": 5, "output_tokens": 1}) is None
    assert price("gpt-4o-mini", "openai", None) is None
    tid = "e5" * 16
    store.write_spans([rec(tid, "1" * 16, None, "chat", 0, 1, **chat_attributes("no-such-model-anywhere", 5, 1))])
    info = store.get_trace(tid).info
    assert info.cost is None and info.token_usage["total_tokens"] == 6
    assert store.search_traces("trace.cost >= 0") == []


# --- retention and deletion -------------------------------------------------------------------------------


def _fill(store, count: int, start_ms: int = 0, width: int = 0) -> list:
    ids = []
    for i in range(count):
        tid = f"{start_ms + i + 1:032x}"
        ids.append(tid)
        store.write_spans([rec(tid, "1" * 16, None, "t", start_ms + i, start_ms + i + 1,
                               **{"payload": "x" * width, "mlflow.traceTag.k": "v"})])
    return ids


def test_delete_traces_by_age_ids_and_count(store):
    ids = _fill(store, 10)
    assert store.delete_traces() == 0
    assert store.delete_traces(trace_ids=[ids[0], "tr-" + ids[1].upper(), "f" * 32]) == 2
    assert store.delete_traces(older_than=T0 + 4 * MS) == 2  # started at 2 and 3 ms
    assert store.delete_traces(max_traces=3) == 3
    assert [t.info.trace_id for t in store.search_traces()] == ids[:6:-1]
    assert store.count_spans() == 3 and store.search_traces("tag.k = 'v'", max_results=None) != []
    assert store.delete_traces(older_than=dt.timedelta(days=1)) == 3  # T0 is in 2025
    assert store.count_traces() == 0 and store.count_spans() == 0
    with pytest.raises(ValueError):
        store.delete_traces(max_traces=-1)


def test_deleting_shrinks_the_sqlite_file(tmp_path):
    path = tmp_path / "traces.db"
    with open_store(path) as store:
        _fill(store, 300, width=4000)
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        full = os.path.getsize(path)
        assert store.delete_traces(max_traces=10) == 290
    assert os.path.getsize(path) < full / 4
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental


def test_the_exporter_applies_the_retention_policy_without_blocking(store_uri, monkeypatch):
    monkeypatch.setenv("OTEL_GENAI_STORE_MAX_TRACES", "2")
    assert RetentionPolicy.from_env() == RetentionPolicy(None, 2)
    provider = TracerProvider()
    exporter = TraceStoreSpanExporter(store_uri)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    for i in range(5):
        tracer.start_span(f"s{i}", start_time=T0 + i * MS).end(end_time=T0 + i * MS + 1)
        exporter.wait_for_retention()
        exporter._retention_due = 0.0  # the next export runs it again (once a minute otherwise)
    exporter.wait_for_retention()
    with open_store(store_uri, read_only=True) as store:
        assert [t.info.trace_name for t in store.search_traces()] == ["s4", "s3"]
    provider.shutdown()
    monkeypatch.setenv("OTEL_GENAI_STORE_MAX_AGE", "soon")
    with pytest.raises(ValueError, match="duration"):
        RetentionPolicy.from_env()


# --- stores written before the read API ---------------------------------------------------------------


def test_a_store_without_the_read_api_tables_is_indexed_from_its_spans(tmp_path):
    path = tmp_path / "traces.db"
    with open_store(path) as store:
        store.write_spans([rec("f6" * 16, "1" * 16, None, "old", 0, 7, "ERROR", **{"mlflow.traceTag.env": "prod"}),
                           rec("f6" * 16, "2" * 16, "1" * 16, "chat", 1, 2, **chat_attributes("gpt-4o-mini", 40, 2))])
        expected = store.get_trace("f6" * 16)
    with sqlite3.connect(path) as conn:  # what the first release's store holds: the v1 tables only
        for table in ("trace_index", "trace_tags", "trace_metadata", "span_index"):
            conn.execute(f"DROP TABLE {table}")
    for read_only in (True, False):  # TEMP tables when read-only (the file is not touched), else in the file
        with open_store(path, read_only=read_only) as store:
            assert store.get_trace("f6" * 16) == expected
            assert [t.info.trace_id for t in store.search_traces("tag.env = 'prod' AND trace.cost > 0")] == ["f6" * 16]
        with sqlite3.connect(path) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert ("trace_index" in tables) is (not read_only)


def test_glob_special_characters_are_literal_in_like(store):
    tid = "a7" * 16
    store.write_spans([rec(tid, "1" * 16, None, "a*b[1]?", 0, 1)])
    assert len(store.search_traces("trace.name LIKE 'a*b[1]?'")) == 1
    assert store.search_traces("trace.name LIKE 'a*b[2]?'") == []
    assert len(store.search_traces("trace.name LIKE 'a_b%'")) == 1
    assert store.search_traces("trace.name LIKE 'A%'") == [] and len(store.search_traces("trace.name ILIKE 'A%'")) == 1
