"""Helpers shared by the shipping tests (receiver, collector configs, MLflow): an instrumented app
replaying recorded OpenAI traffic in a real subprocess, free ports, process start/stop, a
comparison of two trace stores, the otelcol-genai collector (built by ``collector/build``) and
``otel-genai serve`` as real processes."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable
from contextlib import closing
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

import otel_genai
from otel_genai.demo.run import instrument_command
from recorded import load_interactions

_CHAT = {i.id: i for i in load_interactions("openai", "/chat/completions")}
#: one standalone call (its own trace), then a two-call "agent" trace (tokens summed over both)
STANDALONE = _CHAT["test_chat/test_chat#0"]
AGENT_TURNS = (_CHAT["test_chat/test_chat_history_message_dict#0"], _CHAT["test_chat/test_chat_history_message_dict#1"])
INTERACTIONS = (STANDALONE, *AGENT_TURNS)

#: the app: no tracing code beyond one parent span (and, with ``APP_TOOL`` set, one tool span in it);
#: ``autolog`` as argv[1] sets up in-process
APP = textwrap.dedent(
    """
    import json, os, sys
    if sys.argv[1:] == ["autolog"]:
        import otel_genai
        otel_genai.autolog()
    import openai
    from opentelemetry import trace

    client = openai.OpenAI(base_url=os.environ["APP_BASE_URL"], api_key="test", max_retries=0)
    standalone, *turns = json.loads(os.environ["APP_CALLS"])
    client.chat.completions.create(**standalone)
    with trace.get_tracer("shipping-test-app").start_as_current_span("agent"):
        if os.environ.get("APP_TOOL"):  # one tool span too (its arguments and result are content)
            import otel_genai

            @otel_genai.trace(kind="tool", name="lookup_weather")
            def lookup_weather(city):
                return {"city": city, "forecast": "rainy"}

            lookup_weather("Paris")
        for kwargs in turns:
            client.chat.completions.create(**kwargs)
    if sys.argv[1:] == ["autolog"]:
        trace.get_tracer_provider().shutdown()  # flush before exit
    """
)


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without OTel/OpenAI/MLflow settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "MLFLOW_"))}
    env.update(extra)
    return env


def run_app(tmp_path: Path, replayer: Any, env: dict[str, str], mode: str = "instrument") -> subprocess.CompletedProcess:
    """Run :data:`APP` (under ``opentelemetry-instrument``, or with ``autolog()``) against the recorded
    traffic of :data:`INTERACTIONS`; returns the finished process (asserted successful)."""
    app = tmp_path / "shipping_app.py"
    app.write_text(APP)
    env = dict(env)
    env["APP_BASE_URL"] = replayer.play(*INTERACTIONS) + "/v1"
    env["APP_CALLS"] = json.dumps([i.request_body for i in INTERACTIONS])
    command = [sys.executable, str(app), "autolog"] if mode == "autolog" else instrument_command() + [sys.executable, str(app)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def expected_usage(*interactions: Any) -> dict[str, int]:
    """Token usage the recorded responses report, summed, in ``mlflow.chat.tokenUsage`` form."""
    prompt = sum(i.json()["usage"]["prompt_tokens"] for i in interactions)
    completion = sum(i.json()["usage"]["completion_tokens"] for i in interactions)
    return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion}


def base_usage(usage: dict) -> dict[str, int]:
    """The input/output/total counts of a token-usage dict (cache counts left out)."""
    return {k: usage[k] for k in ("input_tokens", "output_tokens", "total_tokens")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1,
               process: subprocess.Popen | None = None) -> Any:
    """Poll ``check()`` until it returns a truthy value; fail after ``timeout`` seconds (or when
    ``process`` exits)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except Exception:  # noqa: BLE001 - not ready yet
            result = None
        if result:
            return result
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if it lingers; this process only (started by the test)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def store_snapshot(path: Path) -> dict[str, Any]:
    """Every trace of a store as comparable data: trace info and spans (all fields), by trace id."""
    out = {}
    for trace in otel_genai.search_traces(max_results=None, path=path):
        out[trace.info.trace_id] = {"info": trace.info, "spans": sorted(trace.data.spans, key=lambda s: s.span_id)}
    return out


# --- the project's OpenTelemetry Collector, otelcol-genai ----------------------------------------

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "collector-config"
COLLECTOR_DIR = ROOT / "collector"
COLLECTOR_BIN = COLLECTOR_DIR / "bin" / "otelcol-genai"
#: variables the configs read: removed so that each file is checked with its own defaults
CONFIG_ENV_PREFIXES = ("OTEL", "MLFLOW_", "LANGFUSE_", "PHOENIX_", "TEMPO_", "JAEGER_", "PRIVACY_", "GENAI_",
                       "CLICKHOUSE_", "DEPLOYMENT_")
NO_INTERNAL_METRICS = "--set=service.telemetry.metrics.level=none"  # no :8888 listener in tests
BUILD_TIMEOUT_S = 1800  # a fresh build from the module proxy takes minutes on 2 cores


@cache
def otelcol_binary() -> str:
    """The otelcol-genai binary: ``$OTELCOL_GENAI_BIN``, else ``collector/bin/otelcol-genai`` as
    ``collector/build`` leaves it (run here: a no-op copy from the cache when already built, a real
    build otherwise). Never skips: a missing Go or a failed build fails the test."""
    if os.environ.get("OTELCOL_GENAI_BIN"):
        return os.environ["OTELCOL_GENAI_BIN"]
    if shutil.which("go") is None and os.access(COLLECTOR_BIN, os.X_OK):
        return str(COLLECTOR_BIN)  # no toolchain to check it with: the binary built earlier
    done = subprocess.run(["bash", str(COLLECTOR_DIR / "build")], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    assert done.returncode == 0, f"collector/build failed:\n{done.stderr[-5000:]}"
    assert os.access(COLLECTOR_BIN, os.X_OK), done.stdout
    return str(COLLECTOR_BIN)


@pytest.fixture(scope="session")
def otelcol() -> str:
    """Session fixture: the otelcol-genai binary (built by ``collector/build`` when absent)."""
    return otelcol_binary()


def needs_full_otelcol() -> str:
    """Kept for the tests that called it: the otelcol-genai binary (it has every component)."""
    return otelcol_binary()


@cache
def components(binary: str) -> dict[str, set]:
    out = subprocess.run([binary, "components"], capture_output=True, text=True, timeout=60, check=True).stdout
    data = yaml.safe_load(out)
    return {kind: {c["name"] for c in data.get(kind) or ()} for kind in ("receivers", "processors", "exporters", "extensions")}


def config_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_ENV_PREFIXES)}
    env.update(extra)
    return env


def start_collector(binary: str, config: Path, tmp_path: Path, *, ready_headers: dict | None = None,
                    **env: str) -> tuple[subprocess.Popen, str]:
    """Run ``binary`` on ``config`` with free OTLP ports; returns (process, its OTLP/HTTP traces URL).
    The collector's log is ``tmp_path/otelcol-<config>-<port>.log``."""
    http_port, grpc_port = free_port(), free_port()
    log_path = tmp_path / f"otelcol-{config.stem}-{http_port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [binary, f"--config={config}", NO_INTERNAL_METRICS],
            env=config_env(OTELCOL_OTLP_HTTP_ENDPOINT=f"127.0.0.1:{http_port}",
                           OTELCOL_OTLP_GRPC_ENDPOINT=f"127.0.0.1:{grpc_port}", **env),
            stdout=log, stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{http_port}/v1/traces"

    def ready() -> bool:
        # an empty export request: 200 once the OTLP receiver runs
        headers = {"Content-Type": "application/x-protobuf", **(ready_headers or {})}
        return requests.post(endpoint, data=b"", headers=headers, timeout=2).ok

    try:
        wait_until(ready, 60, f"otelcol on {config.name}", interval=0.2, process=process)
    except AssertionError as exc:
        stop_process(process)
        raise AssertionError(f"{exc}\n{log_path.read_text()[-3000:]}") from None
    process.log_path = log_path  # type: ignore[attr-defined]
    process.grpc_endpoint = f"127.0.0.1:{grpc_port}"  # type: ignore[attr-defined]
    return process, endpoint


# --- `otel-genai serve` as its own process ------------------------------------------------------


def start_serve(store: Path, tmp_path: Path, *, port: int = 0, token: str | None = None,
                timeout: float = 30) -> tuple[subprocess.Popen, str]:
    """``otel-genai serve --store STORE`` in its own process on 127.0.0.1; returns (process, base URL).
    Its output goes to ``tmp_path/serve-<n>.log``."""
    log_path = tmp_path / f"serve-{time.monotonic_ns()}.log"
    args = [sys.executable, "-m", "otel_genai.cli", "serve", "--port", str(port), "--store", str(store)]
    if token:
        args += ["--token", token]
    with log_path.open("w") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=clean_env())

    def endpoint() -> str | None:
        found = re.search(r"at (http://127\.0\.0\.1:\d+)/v1/traces", log_path.read_text())
        return found.group(1) if found and http_ok(found.group(1) + "/health") else None

    try:
        base = wait_until(endpoint, timeout, "otel-genai serve", process=process)
    except AssertionError as exc:
        stop_process(process)
        raise AssertionError(f"{exc}\n{log_path.read_text()[-3000:]}") from None
    return process, base


def span_count(store: Path) -> int:
    """Spans in the store file ``store`` (0 while it does not exist)."""
    if not Path(store).exists():
        return 0
    from otel_genai.store.db import TraceStore

    with closing(TraceStore(store)) as opened:
        return opened.count_spans()


# --- a real MLflow tracking server ---------------------------------------------------------------


def start_mlflow(home: Path, timeout: float = 120) -> tuple[subprocess.Popen, str]:
    """``mlflow server`` (sqlite backend in ``home``) on a free 127.0.0.1 port; returns (process, URI)."""
    port = free_port()
    # no outbound traffic: no usage telemetry, no model-price catalog download (bundled prices)
    env = clean_env(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", MLFLOW_MODEL_CATALOG_URI="")
    with (home / "server.log").open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}"],
            cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(uri + "/health"), timeout, "mlflow server /health", interval=0.5, process=server)
    except AssertionError:
        stop_process(server)
        raise
    return server, uri


def mlflow_trace_info(uri: str, trace_id: str) -> dict:
    """MLflow's trace_info of the OTel trace ``trace_id`` (hex), over its REST API."""
    with urllib.request.urlopen(f"{uri}/api/3.0/mlflow/traces/tr-{trace_id}", timeout=10) as response:
        return json.loads(response.read())["trace"]["trace_info"]


def derived_config(config: Path, tmp_path: Path, exporters: dict) -> Path:
    """``config`` with its exporters replaced by ``exporters`` (same receivers and processors)."""
    data = yaml.safe_load(config.read_text())
    data["exporters"] = exporters
    (pipeline,) = data["service"]["pipelines"].values()
    pipeline["exporters"] = list(exporters)
    out = tmp_path / f"derived-{config.name}"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def to_serve(base_url: str) -> dict:
    """An exporters block: OTLP/HTTP to ``otel-genai serve`` at ``base_url``, as the configs write it."""
    return {"otlphttp/serve": {"endpoint": base_url, "compression": "gzip", "retry_on_failure": {"enabled": True},
                               "sending_queue": {"enabled": True}}}
