"""collector-config/: every file loaded by the project's real OpenTelemetry Collector, otelcol-genai
(``collector/``, contrib v0.161.0; the ``otelcol`` session fixture builds it with ``collector/build``
when ``collector/bin/otelcol-genai`` is absent, so nothing here skips for want of a collector).

* Each file passes ``otelcol-genai validate`` with no environment at all, its endpoints resolve to
  loopback defaults, and the binary has exactly the components the files use.
* Real processes on 127.0.0.1: an app replaying recorded OpenAI traffic under
  ``opentelemetry-instrument`` -> otelcol-genai (OTLP/HTTP in) -> ``otel-genai serve``: the same spans
  and token usage as the app's own store; through ``privacy.yaml`` without any content attribute
  (and without content span events or secrets), usage and model kept; a backend that is down and
  comes back gets every queued span exactly once.
"""

from __future__ import annotations

import dataclasses

import re
import subprocess
import time

import pytest
import yaml
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from shipping import (
    AGENT_TURNS,
    COLLECTOR_DIR,
    CONFIG_DIR,
    STANDALONE,
    base_usage,
    clean_env,
    components,
    config_env,
    expected_usage,
    free_port,
    otelcol,  # noqa: F401 - the session fixture
    run_app,
    span_count,
    start_collector,
    start_serve,
    stop_process,
    store_snapshot,
    wait_until,
)

CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))
#: what privacy.yaml must remove from every span
CONTENT = (
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "mlflow.spanInputs", "mlflow.spanOutputs",
)
#: component types as the configs may spell them (deprecated aliases) -> as `components` lists them
ALIASES = {"otlp_grpc": {"otlp"}, "otlp_http": {"otlphttp"}, "load_balancing": {"loadbalancing"}}
KINDS = ("receivers", "processors", "exporters", "extensions")


def used_components() -> dict[str, set]:
    used = {kind: set() for kind in KINDS}
    for config in CONFIGS:
        data = yaml.safe_load(config.read_text())
        for kind in KINDS:
            used[kind] |= {name.split("/")[0] for name in data.get(kind) or {}}
    return used


# --- every file loads ---------------------------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_config_validates_with_otelcol_genai_and_no_environment(config, otelcol):
    done = subprocess.run([otelcol, "validate", f"--config={config}"], capture_output=True, text=True,
                          timeout=60, env=config_env())
    assert done.returncode == 0, done.stderr
    # and with nothing set, every listener and backend resolves to a usable loopback default
    printed = subprocess.run([otelcol, "print-initial-config", f"--config={config}"], capture_output=True,
                             text=True, timeout=60, env=config_env())
    assert printed.returncode == 0, printed.stderr
    resolved = yaml.safe_load(printed.stdout)
    for protocol in resolved["receivers"]["otlp"]["protocols"].values():
        assert protocol["endpoint"].startswith("127.0.0.1:")
    for name, exporter in resolved["exporters"].items():
        kind = name.split("/")[0]
        if kind in ("otlphttp", "clickhouse"):
            url = exporter.get("traces_endpoint") or exporter["endpoint"]
            assert re.match(r"(https?|tcp)://[^/\s]+(/\S*)?$", url), url
        elif kind == "otlp":
            assert re.match(r"[\w.-]+:\d+$", exporter["endpoint"]), exporter["endpoint"]
        elif kind == "loadbalancing":
            assert exporter["resolver"]["static"]["hostnames"] == ["127.0.0.1:14317"]


def test_otelcol_genai_has_exactly_the_components_the_configs_use(otelcol):
    have = components(otelcol)
    used = used_components()
    for kind in KINDS:
        spelled = set()
        for name in have[kind]:
            spelled |= ALIASES.get(name, {name}) if used[kind] & ALIASES.get(name, set()) else {name}
        assert spelled == used[kind], kind
    # the minimum, and the manifest the sources were generated from lists the same modules
    assert {"batch", "memory_limiter", "attributes", "transform", "redaction", "filter", "resource",
            "tail_sampling"} <= used["processors"]
    assert {"otlphttp", "otlp", "debug", "file", "clickhouse", "loadbalancing"} <= used["exporters"]
    assert {"health_check", "bearertokenauth"} <= used["extensions"]
    manifest = yaml.safe_load((COLLECTOR_DIR / "builder-config.yaml").read_text())
    listed = sum(len(manifest[kind]) for kind in KINDS)
    assert listed == sum(len(have[kind]) for kind in KINDS)
    versions = {entry["gomod"].split()[1] for kind in KINDS for entry in manifest[kind]}
    assert versions == {"v0.161.0"}  # one collector release for every module
    components_go = (COLLECTOR_DIR / "components.go").read_text()
    for kind in KINDS:
        for entry in manifest[kind]:
            assert f'"{entry["gomod"]}"' in components_go


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_config_says_when_to_use_it_and_shows_batching_retry_and_queue(config):
    text = config.read_text()
    header = text.split("\n\n", 1)[0]
    assert all(line.startswith("#") for line in header.splitlines())
    assert "# Use when" in text and "otelcol-genai --config collector-config/" + config.name in text
    for ref in re.findall(r"\$\{env:([^}]*)\}", text):
        assert ":-" in ref, f"${{env:{ref}}} has no default"
        assert ref.split(":-")[0] in header, f"{ref} is not described in the header"
    data = yaml.safe_load(text)
    (pipeline,) = data["service"]["pipelines"].values()
    assert pipeline["receivers"] == ["otlp"] and pipeline["processors"][0] == "memory_limiter"
    assert pipeline["processors"][-1] == "batch" and set(pipeline["processors"]) <= set(data["processors"])
    assert set(pipeline["exporters"]) <= set(data["exporters"])
    for protocol in data["receivers"]["otlp"]["protocols"].values():
        assert ":-127.0.0.1:" in protocol["endpoint"]  # loopback unless told otherwise
    for name, exporter in data["exporters"].items():
        if name.split("/")[0] in ("file", "debug"):  # local, nothing to retry
            continue
        assert exporter["retry_on_failure"]["enabled"] is True
        assert exporter["sending_queue"]["enabled"] is True


def test_privacy_config_deletes_exactly_the_content_attributes():
    data = yaml.safe_load((CONFIG_DIR / "privacy.yaml").read_text())
    actions = data["processors"]["attributes/strip-genai-content"]["actions"]
    assert all(a["action"] == "delete" for a in actions)
    assert {a["key"] for a in actions} == set(CONTENT)


# --- end to end through a real collector --------------------------------------------------------


def ship_through_collector(binary, tmp_path, replayer, config: str, store, *, app_env=None, **collector_env: str):
    """The app -> otelcol-genai(config) -> serve writing ``store``; returns (what serve stored, the
    app's own store)."""
    collector, endpoint = start_collector(binary, CONFIG_DIR / config, tmp_path, **collector_env)
    direct = tmp_path / "direct.db"
    try:
        run_app(tmp_path, replayer, clean_env(
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint,
            OTEL_TRACES_EXPORTER="otlp,otel_genai",  # also straight into a store: the reference
            OTEL_GENAI_STORE_PATH=str(direct),
            **(app_env or {}),
        ))
        reference = store_snapshot(direct)
        spans = sum(len(v["spans"]) for v in reference.values())
        wait_until(lambda: span_count(store) == spans, 30, "spans through the collector")
    finally:
        stop_process(collector)
    return store_snapshot(store), reference


def test_app_to_otelcol_to_serve_stores_the_same_spans_and_token_usage(tmp_path, replayer, otelcol):
    store = tmp_path / "received.db"
    serve, base = start_serve(store, tmp_path, token="collector-token")
    try:
        received, reference = ship_through_collector(
            otelcol, tmp_path, replayer, "otel-genai-store.yaml", store,
            OTEL_GENAI_SERVE_ENDPOINT=base, OTEL_GENAI_SERVE_TOKEN="collector-token",
        )
    finally:
        stop_process(serve)
    assert received == reference and len(received) == 2  # ids, names, attributes, times, usage
    usage = {v["info"].root_span_name: base_usage(v["info"].token_usage) for v in received.values()}
    assert usage == {"chat gpt-3.5-turbo": expected_usage(STANDALONE), "agent": expected_usage(*AGENT_TURNS)}


def test_privacy_config_removes_content_and_keeps_token_usage(tmp_path, replayer, otelcol):
    store = tmp_path / "received.db"
    serve, base = start_serve(store, tmp_path)
    try:
        received, reference = ship_through_collector(
            otelcol, tmp_path, replayer, "privacy.yaml", store, app_env={"APP_TOOL": "1"},
            PRIVACY_EXPORT_ENDPOINT=base,
        )
    finally:
        stop_process(serve)
    assert received.keys() == reference.keys() and len(received) == 2
    seen = set()
    for trace_id, ref in reference.items():
        got = received[trace_id]
        # token usage, cost, status, model, times: all kept; the previews are message content, removed
        assert dataclasses.replace(got["info"], request_preview=None, response_preview=None) == dataclasses.replace(
            ref["info"], request_preview=None, response_preview=None
        )
        assert got["info"].request_preview is None and got["info"].response_preview is None
        assert ref["info"].request_preview and ref["info"].cost == got["info"].cost and got["info"].cost is not None
        for kept, original in zip(got["spans"], ref["spans"], strict=True):
            assert kept.span_id == original.span_id and kept.name == original.name
            seen |= set(CONTENT) & original.attributes.keys()  # what the app did capture
            assert not set(CONTENT) & kept.attributes.keys()
            assert kept.attributes == {k: v for k, v in original.attributes.items() if k not in CONTENT}
            if original.name.startswith("chat "):
                assert kept.attributes["gen_ai.usage.input_tokens"] == original.attributes["gen_ai.usage.input_tokens"]
                assert kept.attributes["mlflow.chat.tokenUsage"] == original.attributes["mlflow.chat.tokenUsage"]
                assert kept.attributes["gen_ai.response.model"]
    # every kind of content was there to remove: messages, system instructions aside (not in the
    # recorded requests), the tool span's arguments and result, and the MLflow copies
    assert seen >= set(CONTENT) - {"gen_ai.system_instructions"}


def test_privacy_config_drops_content_span_events_and_masks_secrets(tmp_path, otelcol):
    """Spans as other instrumentations make them: prompts in span events, a key in an attribute."""
    store = tmp_path / "received.db"
    serve, base = start_serve(store, tmp_path)
    collector, endpoint = start_collector(otelcol, CONFIG_DIR / "privacy.yaml", tmp_path, PRIVACY_EXPORT_ENDPOINT=base)
    try:
        provider = TracerProvider(resource=Resource.create({"service.name": "other-instrumentation"}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=10)))
        tracer = provider.get_tracer("legacy-genai")
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 3,
            "gen_ai.system_instructions": "You are terse.",
            "app.debug": "called with key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx for alice@example.com",
        }) as span:
            span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "what is my password?"})
            span.add_event("gen_ai.user.message", {"content": "what is my password?"})
            span.add_event("gen_ai.choice", {"message": "hunter2"})
            span.add_event("retry", {"attempt": 1})  # not content: kept
        provider.shutdown()
        wait_until(lambda: span_count(store) == 1, 30, "the span through the collector")
    finally:
        stop_process(collector)
        stop_process(serve)
    (trace,) = store_snapshot(store).values()
    (span,) = trace["spans"]
    assert "gen_ai.system_instructions" not in span.attributes
    assert span.attributes["gen_ai.usage.input_tokens"] == 12 and span.attributes["gen_ai.request.model"] == "gpt-4o"
    assert span.attributes["app.debug"] == "called with key **** for ****"
    assert [e["name"] for e in span.events] == ["retry"]


def test_collector_queue_delivers_every_span_once_when_the_backend_comes_back(tmp_path, replayer, otelcol):
    store = tmp_path / "received.db"
    port = free_port()
    serve, base = start_serve(store, tmp_path, port=port)
    collector, endpoint = start_collector(otelcol, CONFIG_DIR / "otel-genai-store.yaml", tmp_path,
                                          OTEL_GENAI_SERVE_ENDPOINT=base)
    direct = tmp_path / "direct.db"
    try:
        stop_process(serve)  # the backend goes down before the app sends anything
        run_app(tmp_path, replayer, clean_env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint,
                                              OTEL_TRACES_EXPORTER="otlp,otel_genai", OTEL_GENAI_STORE_PATH=str(direct)))
        reference = store_snapshot(direct)
        spans = sum(len(v["spans"]) for v in reference.values())
        # the collector took the spans (the app exited cleanly) and is retrying its export
        wait_until(lambda: "connection refused" in collector.log_path.read_text(), 30, "a failed export in the log")
        assert span_count(store) == 0
        time.sleep(2)
        serve, _ = start_serve(store, tmp_path, port=port)  # back, on the same address
        wait_until(lambda: span_count(store) == spans, 90, "the queued spans after the restart", interval=0.5)
        time.sleep(3)  # any late duplicate would show now
        assert span_count(store) == spans
        assert store_snapshot(store) == reference
    finally:
        stop_process(collector)
        stop_process(serve)
