"""MLflow in one setting, against a real ``mlflow server`` (sqlite backend, 127.0.0.1, started once
for this module): an instrumented app replaying recorded OpenAI traffic ships its traces to MLflow's
``/v1/traces``; each trace lands under the right experiment, with MLflow's
``trace_metadata["mlflow.trace.tokenUsage"]`` equal to the embedded store's ``token_usage``."""

from __future__ import annotations

import json
import logging
import urllib.request
import uuid

import pytest

import otel_genai
from otel_genai.distro import default_settings
from otel_genai.exporters import mlflow as preset
from shipping import (
    AGENT_TURNS,
    CONFIG_DIR,
    STANDALONE,
    base_usage,
    clean_env,
    expected_usage,
    free_port,
    needs_full_otelcol,
    run_app,
    start_collector,
    start_mlflow,
    stop_process,
    wait_until,
)


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory):
    """A real MLflow tracking server (sqlite backend) on a free 127.0.0.1 port, for this module."""
    server, uri = start_mlflow(tmp_path_factory.mktemp("mlflow"))
    try:
        yield uri
    finally:
        stop_process(server)


def mlflow_trace(uri: str, trace_id: str) -> dict:
    with urllib.request.urlopen(f"{uri}/api/3.0/mlflow/traces/tr-{trace_id}", timeout=10) as response:
        return json.loads(response.read())["trace"]["trace_info"]


def mlflow_spans(uri: str, trace_id: str) -> list[tuple]:
    from mlflow import MlflowClient

    trace = MlflowClient(uri).get_trace(f"tr-{trace_id}")
    return sorted((s.span_id, s.name, s.parent_id) for s in trace.data.spans)


def experiment_id(uri: str, name: str) -> str:
    query = urllib.parse.urlencode({"experiment_name": name})
    with urllib.request.urlopen(f"{uri}/api/2.0/mlflow/experiments/get-by-name?{query}", timeout=10) as response:
        return json.loads(response.read())["experiment"]["experiment_id"]


def assert_traces_in_mlflow(uri: str, store_path, expected_experiment: str) -> None:
    """Every trace of our store is in MLflow under ``expected_experiment``, same spans, same usage."""
    traces = otel_genai.search_traces(path=store_path)
    assert sorted(len(t.data.spans) for t in traces) == [1, 3]  # standalone call; agent + two turns
    by_root = {t.info.root_span_name: t for t in traces}
    assert base_usage(by_root["agent"].info.token_usage) == expected_usage(*AGENT_TURNS)
    for trace in traces:
        trace_id = trace.info.trace_id
        info = wait_until(lambda: mlflow_trace(uri, trace_id), 30, "trace in MLflow")  # noqa: B023 - used at once
        assert info["trace_location"]["mlflow_experiment"]["experiment_id"] == expected_experiment
        assert info["state"] == "OK"
        ours = dict(trace.info.token_usage)
        ours.pop("reasoning_output_tokens", None)  # ours only: MLflow's usage has no key for reasoning tokens
        assert json.loads(info["trace_metadata"]["mlflow.trace.tokenUsage"]) == ours
        ours = sorted((s.span_id, s.name, s.parent_id) for s in trace.data.spans)
        assert mlflow_spans(uri, trace.info.trace_id) == ours


def test_mlflow_setting_ships_traces_under_the_named_experiment_created_if_missing(tmp_path, replayer, mlflow_uri):
    name = f"otel-genai-{uuid.uuid4().hex[:8]}"  # does not exist yet: created through the REST API
    store = tmp_path / "traces.db"
    env = clean_env(
        OTEL_GENAI_MLFLOW_TRACKING_URI=mlflow_uri + "/",  # a trailing slash is fine
        OTEL_GENAI_MLFLOW_EXPERIMENT=name,
        OTEL_TRACES_EXPORTER="otlp,otel_genai",  # also into our store, to compare
        OTEL_GENAI_STORE_PATH=str(store),
    )
    done = run_app(tmp_path, replayer, env)
    assert "Traceback" not in done.stderr and "Failed to export" not in done.stderr, done.stderr
    created = experiment_id(mlflow_uri, name)
    assert created != preset.DEFAULT_EXPERIMENT_ID
    assert_traces_in_mlflow(mlflow_uri, store, created)


def test_autolog_with_the_mlflow_setting_ships_to_mlflow(tmp_path, replayer, mlflow_uri):
    name = f"otel-genai-autolog-{uuid.uuid4().hex[:8]}"
    existing = preset.resolve_experiment_id(mlflow_uri, name)  # exists already: reused, not duplicated
    env = clean_env(OTEL_GENAI_MLFLOW_TRACKING_URI=mlflow_uri, OTEL_GENAI_MLFLOW_EXPERIMENT=name,
                    OTEL_GENAI_STORE_PATH=str(tmp_path / "unused.db"))
    done = run_app(tmp_path, replayer, env, mode="autolog")
    assert "Failed to export" not in done.stderr, done.stderr
    assert not (tmp_path / "unused.db").exists()  # MLflow instead of the embedded store

    from mlflow import MlflowClient

    found = wait_until(
        lambda: len(t := MlflowClient(mlflow_uri).search_traces(locations=[existing])) == 2 and t, 30, "2 traces"
    )
    usage = sorted((len(t.data.spans), t.info.token_usage) for t in found)
    standalone, agent = usage
    assert standalone[0] == 1 and standalone[1] == expected_usage(STANDALONE)
    assert agent[0] == 3
    assert base_usage(agent[1]) == expected_usage(*AGENT_TURNS)
    assert preset.resolve_experiment_id(mlflow_uri, name) == existing


def test_plain_otlp_traces_endpoint_and_headers_ship_to_mlflow(tmp_path, replayer, mlflow_uri):
    experiment = preset.resolve_experiment_id(mlflow_uri, f"otel-genai-plain-{uuid.uuid4().hex[:8]}")
    store = tmp_path / "traces.db"
    env = clean_env(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=mlflow_uri + "/v1/traces",
        OTEL_EXPORTER_OTLP_TRACES_HEADERS=f"x-mlflow-experiment-id={experiment}",
        OTEL_TRACES_EXPORTER="otlp,otel_genai",
        OTEL_GENAI_STORE_PATH=str(store),
    )
    run_app(tmp_path, replayer, env)
    assert_traces_in_mlflow(mlflow_uri, store, experiment)


def test_collector_mlflow_config_ships_to_mlflow(tmp_path, replayer, mlflow_uri):
    binary = needs_full_otelcol()
    experiment = preset.resolve_experiment_id(mlflow_uri, f"otel-genai-otelcol-{uuid.uuid4().hex[:8]}")
    collector, endpoint = start_collector(binary, CONFIG_DIR / "mlflow.yaml", tmp_path,
                                          MLFLOW_TRACKING_URI=mlflow_uri, MLFLOW_EXPERIMENT_ID=experiment)
    store = tmp_path / "traces.db"
    try:
        run_app(tmp_path, replayer, clean_env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint,
                                              OTEL_TRACES_EXPORTER="otlp,otel_genai", OTEL_GENAI_STORE_PATH=str(store)))
        assert_traces_in_mlflow(mlflow_uri, store, experiment)
    finally:
        stop_process(collector)


def test_apply_settings_fills_endpoint_and_header_and_keeps_the_users_headers(mlflow_uri):
    name = f"otel-genai-unit-{uuid.uuid4().hex[:8]}"
    env = {
        preset.TRACKING_URI_ENV: mlflow_uri,
        preset.EXPERIMENT_ENV: name,
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc",
    }
    assert preset.apply_settings(env) is True
    created = experiment_id(mlflow_uri, name)
    assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == mlflow_uri + "/v1/traces"
    assert env["OTEL_EXPORTER_OTLP_TRACES_HEADERS"] == f"authorization=Bearer%20abc,x-mlflow-experiment-id={created}"
    # applied once: a second call (the configurator after the distro) changes nothing
    before = dict(env)
    assert preset.apply_settings(env) is False and env == before
    # an explicit traces endpoint wins; the MLflow setting then changes nothing
    explicit = {preset.TRACKING_URI_ENV: mlflow_uri, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://elsewhere:4318/v1/traces"}
    assert preset.apply_settings(explicit) is False
    assert "OTEL_EXPORTER_OTLP_TRACES_HEADERS" not in explicit
    # the distro's defaults: traces over OTLP/HTTP-protobuf, no metrics (MLflow takes traces only)
    settings = default_settings({preset.TRACKING_URI_ENV: mlflow_uri})
    assert settings["OTEL_TRACES_EXPORTER"] == "otlp"
    assert settings["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert settings["OTEL_METRICS_EXPORTER"] == "none"


def test_unreachable_mlflow_warns_and_falls_back_to_the_default_experiment(caplog):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {preset.TRACKING_URI_ENV: uri, preset.EXPERIMENT_ENV: "anything"}
    with caplog.at_level(logging.WARNING, logger="otel_genai.exporters.mlflow"):
        assert preset.apply_settings(env) is True
    assert env["OTEL_EXPORTER_OTLP_TRACES_HEADERS"] == "x-mlflow-experiment-id=0"
    (record,) = caplog.records
    assert "cannot reach the MLflow tracking server" in record.getMessage() and uri in record.getMessage()
    with pytest.raises(preset.MlflowSetupError):
        preset.resolve_experiment_id(uri, "anything", timeout=2)
