"""``otel-genai traces list|show`` against a real store filled by the real OTel SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_genai import cli
from otel_genai.exporters.store import TraceStoreSpanExporter

USAGE = "mlflow.chat.tokenUsage"
SRC = Path(__file__).resolve().parents[1] / "src"
SEC = 10**9


def usage(inp: int, out: int, **cache: int) -> str:
    return json.dumps({"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out, **cache})


@pytest.fixture
def store(tmp_path: Path):
    """Two traces: an older agent run (nested usage counted once: 30/12/42) and a newer failed one."""
    path = tmp_path / "traces.db"
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(TraceStoreSpanExporter(path)))
    tracer = tp.get_tracer("cli-tests")

    t0 = 1_700_000_000 * SEC
    agent = tracer.start_span("agent run", start_time=t0)
    ctx = trace_api.set_span_in_context(agent)
    chat1 = tracer.start_span("chat gpt-4o-mini", context=ctx, kind=SpanKind.CLIENT, start_time=t0 + 1_000_000,
                              attributes={"gen_ai.request.model": "gpt-4o-mini", USAGE: usage(10, 5)})
    inner = tracer.start_span("http call", context=trace_api.set_span_in_context(chat1), start_time=t0 + 2_000_000,
                              attributes={USAGE: usage(10, 5)})  # nested: not counted again
    inner.end(end_time=t0 + 3_000_000)
    chat1.end(end_time=t0 + 4_000_000)
    chat2 = tracer.start_span("chat gpt-4o-mini", context=ctx, kind=SpanKind.CLIENT, start_time=t0 + 5_000_000,
                              attributes={"gen_ai.request.model": "gpt-4o-mini",
                                          USAGE: usage(20, 7, cache_read_input_tokens=6)})
    chat2.end(end_time=t0 + 9_000_000)
    agent.end(end_time=t0 + 12_500_000)

    t1 = t0 + 60 * SEC
    failed = tracer.start_span("failing run", start_time=t1)
    chat3 = tracer.start_span("chat claude-x", context=trace_api.set_span_in_context(failed), kind=SpanKind.CLIENT,
                              start_time=t1 + 1000,
                              attributes={"gen_ai.response.model": "claude-x-2025", USAGE: usage(3, 4)})
    chat3.set_status(Status(StatusCode.ERROR, "RateLimitError: slow down"))
    chat3.end(end_time=t1 + 2_000_000)
    failed.set_status(Status(StatusCode.ERROR, "boom"))
    failed.end(end_time=t1 + 3_000_000)
    tp.shutdown()
    ids = {
        "agent": format(agent.get_span_context().trace_id, "032x"),
        "failed": format(failed.get_span_context().trace_id, "032x"),
    }
    return path, ids


def _rows(out: str) -> list[list[str]]:
    lines = out.strip().splitlines()
    assert lines[0].split()[:2] == ["TRACE", "ID"]
    return [line.split() for line in lines[1:]]


def test_list_shows_traces_newest_first_with_tokens(store, capsys):
    path, ids = store
    assert cli.main(["traces", "list", "--store", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    rows = _rows(captured.out)
    assert [r[0] for r in rows] == [ids["failed"], ids["agent"]]
    failed, agent = rows
    # columns: id, date, time, duration (2 cells), root span..., model, status, in, out, total
    assert agent[-4:] == ["OK", "30", "12", "42"]
    assert failed[-4:] == ["ERROR", "3", "4", "7"]
    assert "gpt-4o-mini" in agent and "claude-x-2025" in failed
    assert agent[3:5] == ["12.5", "ms"]
    assert " ".join(agent).count("agent run") == 1


def test_list_limit_and_status(store, capsys):
    path, ids = store
    assert cli.main(["traces", "list", "--store", str(path), "--limit", "1"]) == 0
    assert [r[0] for r in _rows(capsys.readouterr().out)] == [ids["failed"]]
    assert cli.main(["traces", "list", "--store", str(path), "--status", "ok"]) == 0
    assert [r[0] for r in _rows(capsys.readouterr().out)] == [ids["agent"]]


def test_show_prints_the_span_tree_and_totals(store, capsys):
    path, ids = store
    assert cli.main(["traces", "show", ids["agent"], "--store", str(path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"Trace {ids['agent']}  OK")
    tree = [line for line in lines[2:] if line and not line.startswith("Total")]
    assert tree[0].startswith("agent run  [INTERNAL]  12.5 ms  UNSET")
    assert tree[1] == "  chat gpt-4o-mini  [CLIENT]  3.0 ms  UNSET  tokens: input 10, output 5, total 15"
    assert tree[2] == "    http call  [INTERNAL]  1.0 ms  UNSET  tokens: input 10, output 5, total 15"
    assert tree[3] == (
        "  chat gpt-4o-mini  [CLIENT]  4.0 ms  UNSET  tokens: input 20, output 7, total 27, cache read 6"
    )
    assert lines[-1] == "Total tokens: input 30, output 12, total 42, cache read 6"


def test_show_last_and_prefix(store, capsys):
    path, ids = store
    assert cli.main(["traces", "show", "--last", "--store", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Trace {ids['failed']}  ERROR")
    assert (
        "  chat claude-x  [CLIENT]  2.0 ms  ERROR (RateLimitError: slow down)  tokens: input 3, output 4, total 7"
    ) in out
    assert out.splitlines()[-1] == "Total tokens: input 3, output 4, total 7"

    assert cli.main(["traces", "show", ids["agent"][:10], "--store", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"Trace {ids['agent']}")


def test_missing_store_is_one_line_exit_1(tmp_path, capsys):
    missing = tmp_path / "nowhere" / "traces.db"
    for argv in (["traces", "list"], ["traces", "show", "--last"], ["traces", "show", "ab" * 16]):
        assert cli.main(argv + ["--store", str(missing)]) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.count("\n") == 1
        assert captured.err.startswith(f"otel-genai: error: no trace store at {missing}")
    assert not missing.parent.exists()


def test_unknown_trace_id_is_one_line_exit_1(store, capsys):
    path, _ = store
    assert cli.main(["traces", "show", "f" * 32, "--store", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"otel-genai: error: no trace with id '{'f' * 32}' in {path}\n"
    assert captured.out == ""


def test_store_path_from_environment(store, capsys, monkeypatch):
    path, ids = store
    monkeypatch.setenv("OTEL_GENAI_STORE_PATH", str(path))
    assert cli.main(["traces", "show", "--last"]) == 0
    assert ids["failed"] in capsys.readouterr().out


def test_subcommands_are_registered_by_function(monkeypatch, capsys):
    def register_hello(subparsers):
        p = subparsers.add_parser("hello")
        p.add_argument("--times", type=int, default=1)
        p.set_defaults(handler=lambda args: print("hi" * args.times) or 7)

    monkeypatch.setattr(cli, "SUBCOMMANDS", [*cli.SUBCOMMANDS, register_hello])
    assert cli.main(["hello", "--times", "2"]) == 7
    assert capsys.readouterr().out == "hihi\n"
    assert cli.main([]) == 2  # no subcommand: help on stderr


def test_real_process(store, tmp_path):
    path, ids = store
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "otel_genai.cli", "traces", "list", "--store", str(path)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert ids["agent"] in done.stdout and ids["failed"] in done.stdout

    missing = tmp_path / "missing.db"
    done = subprocess.run([sys.executable, "-m", "otel_genai.cli", "traces", "show", "--last", "--store", str(missing)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"otel-genai: error: no trace store at {missing} (nothing has been exported there yet;"
        " pass --store PATH or set OTEL_GENAI_STORE_PATH)"
    ]
    assert not missing.exists()
