"""Helpers shared by the shipping tests (receiver, collector configs, MLflow): an instrumented app
replaying recorded OpenAI traffic in a real subprocess, free ports, process start/stop, and a
comparison of two trace stores."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable
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

#: the app: no tracing code beyond one parent span; ``autolog`` as argv[1] sets up in-process
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


# --- an OpenTelemetry Collector -----------------------------------------------------------------

CONFIG_DIR = Path(__file__).resolve().parents[1] / "collector-config"
#: the components the collector-config/ files use
NEEDED = {"receivers": {"otlp"}, "processors": {"batch", "memory_limiter", "attributes"}, "exporters": {"otlphttp"}}
#: variables the configs read: removed so that each file is checked with its own defaults
CONFIG_ENV_PREFIXES = ("OTEL", "MLFLOW_", "LANGFUSE_", "PHOENIX_", "TEMPO_", "JAEGER_", "PRIVACY_")
NO_INTERNAL_METRICS = "--set=service.telemetry.metrics.level=none"  # no :8888 listener in tests


def bundled_binary() -> str | None:
    try:
        from otel_collector import CollectorManager
    except ImportError:
        return None
    return CollectorManager().binary_path


@cache
def components(binary: str) -> dict[str, set]:
    out = subprocess.run([binary, "components"], capture_output=True, text=True, timeout=60, check=True).stdout
    data = yaml.safe_load(out)
    return {kind: {c["name"] for c in data.get(kind) or ()} for kind in ("receivers", "processors", "exporters", "extensions")}


def missing(binary: str) -> dict[str, set]:
    have = components(binary)
    return {kind: names - have[kind] for kind, names in NEEDED.items() if names - have[kind]}


@cache
def full_otelcol() -> tuple[str | None, str]:
    """(a collector binary with every component the configs use, or None, and why not)."""
    reasons = []
    for candidate in (os.environ.get("OTELCOL_CONTRIB_BIN"), shutil.which("otelcol-contrib"), bundled_binary()):
        if not candidate:
            continue
        lacking = missing(candidate)
        if not lacking:
            return candidate, ""
        reasons.append(f"{candidate} lacks {lacking}")
    return None, "no full otelcol-contrib (set OTELCOL_CONTRIB_BIN): " + "; ".join(reasons or ["none found"])


def needs_full_otelcol() -> str:
    binary, reason = full_otelcol()
    if binary is None:
        pytest.skip(reason)
    return binary


def config_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_ENV_PREFIXES)}
    env.update(extra)
    return env


def start_collector(binary: str, config: Path, tmp_path: Path, **env: str) -> tuple[subprocess.Popen, str]:
    """Run ``binary`` on ``config`` with free OTLP ports; returns (process, its OTLP/HTTP traces URL)."""
    http_port, grpc_port = free_port(), free_port()
    log_path = tmp_path / f"otelcol-{config.stem}.log"
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
        return requests.post(endpoint, data=b"", headers={"Content-Type": "application/x-protobuf"}, timeout=2).ok

    try:
        wait_until(ready, 60, f"otelcol on {config.name}", interval=0.2, process=process)
    except AssertionError as exc:
        stop_process(process)
        raise AssertionError(f"{exc}\n{log_path.read_text()[-3000:]}") from None
    return process, endpoint
