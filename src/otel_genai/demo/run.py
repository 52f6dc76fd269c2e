"""``otel-genai demo``: the main job, end to end, on the embedded default.

It serves the OpenAI-compatible fixture endpoint on 127.0.0.1 (or, with ``--live``, uses the real
API and ``OPENAI_API_KEY``), runs ``examples/demo_app.py`` under ``opentelemetry-instrument`` in a
subprocess with no other configuration, then reads the stored traces back and prints their token
usage the way the MLflow docs' token-usage example does. It uses a temporary store unless
``--store`` is given, so it never litters.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from ..store import Trace, open_store
from .fixture import respond
from .server import LoopbackServer

APP_NAME = "demo_app.py"
_CLEARED_ENV = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
    "OTEL_GENAI_STORE_URI",  # would win over the OTEL_GENAI_STORE_PATH the demo sets
)


class DemoError(Exception):
    """A demo precondition failed (no API key for ``--live``, the app failed, ...)."""


def app_path() -> Path:
    """The demo app: the copy packaged in the wheel, else ``examples/`` of a source checkout."""
    packaged = Path(__file__).with_name(APP_NAME)
    if packaged.exists():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "examples" / APP_NAME
    if checkout.exists():
        return checkout
    raise DemoError(f"cannot find {APP_NAME} (looked at {packaged} and {checkout})")


def instrument_command() -> list[str]:
    """``opentelemetry-instrument`` of this interpreter's environment, as a command prefix."""
    script = Path(sys.executable).with_name("opentelemetry-instrument")
    found = str(script) if script.exists() else shutil.which("opentelemetry-instrument")
    if not found:
        raise DemoError("opentelemetry-instrument is not installed (pip install otel-genai)")
    return [found]


def print_trace_usage(trace: Trace, out=sys.stdout) -> None:
    """Print one trace as the seeds' token-usage example does: total first, then each LLM call."""
    usage = trace.info.token_usage or {}
    print(f"\nTrace {trace.info.trace_id}  ({trace.info.root_span_name}, {trace.info.duration_ms:.1f} ms)", file=out)
    print("== Total token usage ==", file=out)
    print(f"  Input tokens: {usage.get('input_tokens', 0)}", file=out)
    print(f"  Output tokens: {usage.get('output_tokens', 0)}", file=out)
    print(f"  Total tokens: {usage.get('total_tokens', 0)}", file=out)
    print("\n== Detailed usage for each LLM call ==", file=out)
    for span in trace.data.spans:
        span_usage = span.get_attribute("mlflow.chat.tokenUsage")
        if span_usage:
            print(f"{span.name}:", file=out)
            print(f"  Input tokens: {span_usage['input_tokens']}", file=out)
            print(f"  Output tokens: {span_usage['output_tokens']}", file=out)
            print(f"  Total tokens: {span_usage['total_tokens']}", file=out)


def run_demo(live: bool = False, store_path: str | None = None) -> int:
    """Run the demo; returns the exit status. Raises :class:`DemoError` on a failed precondition."""
    if live and not os.environ.get("OPENAI_API_KEY"):
        raise DemoError("--live needs OPENAI_API_KEY in the environment")
    app = app_path()
    with ExitStack() as stack:
        store: "Path | str"
        if store_path is None:
            store = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="otel-genai-demo-"))) / "traces.db"
        elif "://" in store_path:
            store = store_path  # a store URI: sqlite:///abs/path.db, postgresql://...
        else:
            store = Path(store_path).expanduser().resolve()
        env = {k: v for k, v in os.environ.items() if k not in _CLEARED_ENV}
        env.update(
            OTEL_GENAI_STORE_URI=str(store),  # wins over OTEL_GENAI_STORE_PATH, a path or a URI alike
            OTEL_SERVICE_NAME="otel-genai-demo",
            OTEL_PYTHON_DISTRO="otel_genai",
            OTEL_PYTHON_CONFIGURATOR="otel_genai",
        )
        if not live:
            server = stack.enter_context(LoopbackServer(respond))
            env.update(OPENAI_BASE_URL=server.base_url + "/v1", OPENAI_API_KEY="demo-key")
            print(f"Serving the demo's OpenAI-compatible endpoint at {server.base_url}/v1")
        command = instrument_command() + [sys.executable, str(app)]
        print(f"$ opentelemetry-instrument python {app.name}\n", flush=True)
        completed = subprocess.run(command, env=env)
        if completed.returncode != 0:
            raise DemoError(f"the demo app exited with status {completed.returncode}")
        with open_store(store, read_only=True) as reader:
            traces = list(reversed(reader.search_traces(max_results=10)))
        for trace in traces:
            print_trace_usage(trace)
        if store_path is None:
            print("\n(The traces were kept in a temporary store; pass --store PATH to keep them and browse")
            print(" them with `otel-genai traces list --store PATH`.)")
            print("\nSee them in the trace viewer: otel-genai demo --store demo.db && otel-genai ui --store demo.db")
        else:
            print(f"\nTraces stored in {store}; see them with `otel-genai traces show --last --store {store}`.")
            print(f"\nSee them in the trace viewer: otel-genai ui --store {shlex.quote(str(store))}")
    return 0


def register_demo(subparsers: argparse._SubParsersAction) -> None:
    """Add ``otel-genai demo [--live] [--store PATH]`` to the CLI."""
    parser = subparsers.add_parser("demo", help="run an instrumented example app and print its traces' token usage")
    parser.add_argument("--live", action="store_true", help="call the real OpenAI API (needs OPENAI_API_KEY)")
    parser.add_argument("--store", metavar="PATH", help="keep the traces in this store (default: a temporary one)")
    parser.set_defaults(handler=lambda args: run_demo(args.live, args.store))
