"""``otel-genai traces`` (search/list, show, export, import, delete, set-tag) against a real store
filled by the real OTel SDK."""

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
from otel_genai.store import open_store

USAGE = "mlflow.chat.tokenUsage"
SRC = Path(__file__).resolve().parents[1] / "src"
SEC = 10**9


def usage(inp: int, out: int, **cache: int) -> str:
    return json.dumps({"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out, **cache})


@pytest.fixture
def store(store_uri: str):
    """Two traces, in a store of each backend: an older agent run (nested usage counted once:
    30/12/42) and a newer failed one."""
    path = store_uri
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


def shown(uri: str) -> str:
    """How the CLI names the store at ``uri`` in its messages (the file path, or the URI without its password)."""
    with open_store(uri, read_only=True) as opened:
        return opened.location


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    """Tables as on a 200-column terminal (rich reads COLUMNS; without it, a pipe gets 80)."""
    monkeypatch.setenv("COLUMNS", "200")


def _rows(out: str) -> list[list[str]]:
    lines = [line for line in out.strip().splitlines() if not line.startswith("more: --page-token ")]
    assert lines[0].split()[:2] == ["TRACE", "ID"]
    assert lines[-1].startswith("times: local (")
    return [line.split() for line in lines[1:-1]]


def test_list_shows_traces_newest_first_with_tokens(store, capsys):
    path, ids = store
    assert cli.main(["traces", "list", "--store", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    rows = _rows(captured.out)
    assert [r[0] for r in rows] == [ids["failed"], ids["agent"]]
    failed, agent = rows
    # columns: id, date, time, duration (2 cells), name..., model, service, status, in, out, total, cost
    assert agent[-5:-1] == ["OK", "30", "12", "42"] and agent[-1].startswith("$0.0000")  # gpt-4o-mini's price
    assert failed[-5:] == ["ERROR", "3", "4", "7", "-"]  # claude-x: no price known, no cost
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
    # a healthy span's UNSET status reads OK in an OK trace; no span type stored: the OTel kind
    assert tree[0] == "agent run  [INTERNAL]  12.5 ms  OK"
    assert tree[1].startswith("  chat gpt-4o-mini  [CLIENT]  3.0 ms  OK  tokens: input 10, output 5, total 15  cost $0.0000")
    assert tree[2] == "    http call  [INTERNAL]  1.0 ms  OK  tokens: input 10, output 5, total 15"
    assert tree[3].startswith(
        "  chat gpt-4o-mini  [CLIENT]  4.0 ms  OK  tokens: input 20, output 7, total 27, cache read 6  cost $"
    )
    assert lines[-1].startswith("Total tokens: input 30, output 12, total 42, cache read 6  cost $0.0000")


def test_show_last_and_prefix(store, capsys):
    path, ids = store
    assert cli.main(["traces", "show", "--last", "--store", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Trace {ids['failed']}  ERROR")
    assert (
        "  chat claude-x  [CLIENT]  2.0 ms  ERROR (RateLimitError: slow down)  tokens: input 3, output 4, total 7"
    ) in out
    assert out.splitlines()[-1] == "Total tokens: input 3, output 4, total 7"  # no price for claude-x: no cost

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
    assert captured.err == f"otel-genai: error: no trace with id '{'f' * 32}' in {shown(path)}\n"
    assert captured.out == ""


def test_store_path_from_environment(store, capsys, monkeypatch):
    path, ids = store
    if path.startswith("sqlite://"):  # OTEL_GENAI_STORE_PATH names a file; a URI goes in OTEL_GENAI_STORE_URI
        monkeypatch.setenv("OTEL_GENAI_STORE_PATH", path[len("sqlite://"):])
    else:
        monkeypatch.setenv("OTEL_GENAI_STORE_URI", path)
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
        " pass --store PATH|URI or set OTEL_GENAI_STORE_URI / OTEL_GENAI_STORE_PATH)"
    ]
    assert not missing.exists()


# --- search, show details, export / import, delete, tags, help --------------------------------------------


def test_search_filter_order_and_json(store, capsys):
    path, ids = store
    assert cli.main(["traces", "search", "--store", str(path), "--filter", "trace.total_tokens > 10"]) == 0
    assert [r[0] for r in _rows(capsys.readouterr().out)] == [ids["agent"]]
    assert cli.main(["traces", "search", "--store", str(path), "--order-by", "total_tokens ASC", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["trace_id"] for line in lines] == [ids["failed"], ids["agent"]]
    assert json.loads(lines[1])["token_usage"]["total_tokens"] == 42
    assert cli.main(["traces", "search", "--store", str(path), "--filter", "trace.status = 'OK' OR x = 1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("otel-genai: error: invalid filter_string at position 20: OR is not supported") and err.endswith("^\n")
    assert cli.main(["traces", "search", "--store", str(path), "--filter", "trace.model = 'none'"]) == 0
    assert capsys.readouterr().out == f"No traces in {shown(path)} match the filter.\n"


def test_narrow_terminals_get_a_table_that_fits(store, capsys, monkeypatch):
    path, ids = store
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["traces", "list", "--store", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert lines[1].split()[0] == ids["failed"][:16] and "COST" in lines[0]


def test_show_json_content_types_and_stream_usage_hint(tmp_path, capsys):
    path = tmp_path / "traces.db"
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(TraceStoreSpanExporter(path)))
    tracer = tp.get_tracer("t")
    messages = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}])
    answer = json.dumps([{"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "get_weather",
                                                           "arguments": {"city": "Paris"}}]}])
    with tracer.start_as_current_span("invoke_agent a", attributes={"mlflow.spanType": "AGENT"}):
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes={
                "gen_ai.operation.name": "chat", "mlflow.spanType": "CHAT_MODEL", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.request.stream": True,
                "gen_ai.input.messages": messages, "gen_ai.output.messages": answer}):
            pass
    tp.shutdown()
    assert cli.main(["traces", "show", "--last", "--content", "--store", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  chat gpt-4o-mini  [CHAT_MODEL]" in out and "[LLM]" not in out
    assert 'stream_options={"include_usage": True}' in out
    assert "      user: Weather in Paris?" in out
    assert '      -> assistant: tool call get_weather({"city":"Paris"})  id c1' in out
    assert cli.main(["traces", "show", "--last", "--json", "--store", str(path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["span_type"] for s in data["data"]["spans"]] == ["AGENT", "CHAT_MODEL"]
    assert data["data"]["spans"][1]["status"] == {"status_code": "UNSET", "description": ""}  # as stored


@pytest.mark.parametrize("fmt", ["jsonl", "otlp-json"])
def test_export_then_import_gives_the_same_traces(store, tmp_path, capsys, fmt):
    from otel_genai.store import open_store

    path, ids = store
    assert cli.main(["traces", "export", "--store", str(path), "--format", fmt]) == 0
    exported = capsys.readouterr().out
    assert len(exported.splitlines()) == 2
    dump = tmp_path / f"dump.{fmt}"
    dump.write_text(exported)
    copy = tmp_path / "copy.db"
    assert cli.main(["traces", "import", str(dump), "--store", str(copy)]) == 0
    assert capsys.readouterr().out == f"Imported 2 lines (6 new spans) into {copy}.\n"
    with open_store(path, read_only=True) as a, open_store(copy, read_only=True) as b:
        for tid in ids.values():
            assert b.get_trace(tid).to_dict() == a.get_trace(tid).to_dict()
    assert cli.main(["traces", "export", "--store", str(path), "--filter", "trace.status = 'ERROR'"]) == 0
    assert [json.loads(line)["info"]["trace_id"] for line in capsys.readouterr().out.splitlines()] == [ids["failed"]]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"resourceSpans": []}\n{"nope": 1}\n')
    assert cli.main(["traces", "import", str(bad), "--store", str(copy)]) == 1
    assert "line 2: neither an OTLP JSON export request" in capsys.readouterr().err


def test_delete_and_tags(store, capsys):
    path, ids = store
    assert cli.main(["traces", "set-tag", ids["agent"][:12], "reviewed", "yes", "--store", str(path)]) == 0
    assert capsys.readouterr().out == f"Trace {ids['agent']}: tag reviewed = yes\n"
    assert cli.main(["traces", "search", "--store", str(path), "--filter", "tag.reviewed = 'yes'", "--json"]) == 0
    assert [json.loads(line)["tags"] for line in capsys.readouterr().out.splitlines()] == [{"reviewed": "yes"}]
    assert cli.main(["traces", "show", ids["agent"], "--store", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "tags reviewed=yes"
    assert cli.main(["traces", "delete-tag", ids["agent"], "reviewed", "--store", str(path)]) == 0
    assert cli.main(["traces", "delete-tag", ids["agent"], "reviewed", "--store", str(path)]) == 1
    assert "has no tag 'reviewed'" in capsys.readouterr().err
    assert cli.main(["traces", "delete", "--store", str(path)]) == 1
    assert "say which traces to delete" in capsys.readouterr().err
    assert cli.main(["traces", "delete", "--filter", "trace.status = 'ERROR'", "--store", str(path)]) == 0
    assert capsys.readouterr().out == f"Deleted 1 trace from {shown(path)}.\n"
    assert cli.main(["traces", "delete", "--older-than", "1d", "--store", str(path)]) == 0  # 2023: old
    assert capsys.readouterr().out == f"Deleted 1 trace from {shown(path)}.\n"
    assert cli.main(["traces", "delete", "--older-than", "soon", "--store", str(path)]) == 1
    assert "--older-than: invalid duration 'soon'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["search", "list", "show", "export", "import", "delete", "set-tag", "delete-tag"])
def test_every_command_has_help_with_a_description_and_an_example(command, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["traces", command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: otel-genai traces ") and "\nexamples:\n  otel-genai traces " in out
    description = out.split("\n\n")[1]
    assert len(description) > 20 and not description.startswith(("positional", "options"))
