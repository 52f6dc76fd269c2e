"""``otel-genai ui`` and the viewer side of ``otel-genai serve`` as real processes on 127.0.0.1: the URL
printed, the page and the API behind it, ``--read-only`` and ``--protect-reads`` from the command line,
one-line errors, SIGTERM; and ``otel-genai demo`` ending with the ``otel-genai ui --store`` command that
shows its traces (run as printed)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import requests

from shipping import clean_env, stop_process

CLI = [sys.executable, "-m", "otel_genai.cli"]
URL = re.compile(r"trace viewer at (http://127\.0\.0\.1:\d+)/ -> ")


def start_ui(*args: str) -> tuple[subprocess.Popen, str]:
    """``otel-genai ui ARGS --port 0 --no-browser``; returns (process, base URL) once it printed its URL."""
    process = subprocess.Popen([*CLI, "ui", *args, "--port", "0", "--no-browser"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=clean_env())
    line = process.stdout.readline()
    found = URL.search(line)
    if not found:
        stop_process(process)
        raise AssertionError(f"no viewer URL in {line!r}: {process.stderr.read()}")
    return process, found.group(1)


def test_demo_ends_with_the_ui_command_that_shows_its_traces(tmp_path):
    store = tmp_path / "demo store.db"  # a space: the printed command must quote it
    done = subprocess.run([*CLI, "demo", "--store", str(store)], capture_output=True, text=True, timeout=180,
                          env=clean_env())
    assert done.returncode == 0, done.stderr
    last = done.stdout.rstrip().splitlines()[-1]
    prefix = "See them in the trace viewer: "
    assert last.startswith(prefix + "otel-genai ui --store "), last
    command = shlex.split(last[len(prefix):])
    assert command[:2] == ["otel-genai", "ui"] and command[3] == str(store)
    process, url = start_ui(*command[2:])
    try:
        rows = requests.get(url + "/api/traces", timeout=10).json()["traces"]
        assert sorted(r["root_span_name"] for r in rows) == ["chat gpt-4o-mini", "chat gpt-4o-mini", "weather_agent"]
        assert requests.get(url + "/", timeout=10).status_code == 200
    finally:
        process.terminate()
        assert process.wait(15) == 0


def test_demo_without_store_says_how_to_keep_and_view_its_traces(tmp_path):
    done = subprocess.run([*CLI, "demo"], capture_output=True, text=True, timeout=180,
                          env=clean_env(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data")))
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().splitlines()[-1] == (
        "See them in the trace viewer: otel-genai demo --store demo.db && otel-genai ui --store demo.db")


def test_ui_read_only_serves_the_viewer_and_refuses_writes(tmp_path):
    store = tmp_path / "shared.db"
    subprocess.run([*CLI, "demo", "--store", str(store)], capture_output=True, timeout=180, env=clean_env(), check=True)
    process, url = start_ui("--store", str(store), "--read-only")
    try:
        assert requests.get(url + "/api/info", timeout=10).json()["read_only"] is True
        assert len(requests.get(url + "/api/traces", timeout=10).json()["traces"]) == 3
        refused = requests.post(url + "/v1/traces", data=b"", headers={"Content-Type": "application/x-protobuf"}, timeout=10)
        assert refused.status_code == 403
    finally:
        process.terminate()
        assert process.wait(15) == 0


def test_ui_errors_are_one_line(tmp_path):
    missing = subprocess.run([*CLI, "ui", "--store", str(tmp_path / "none.db"), "--read-only", "--no-browser"],
                             capture_output=True, text=True, timeout=60, env=clean_env())
    assert missing.returncode == 1 and missing.stderr.startswith("otel-genai: error: no trace store at ")
    assert len(missing.stderr.splitlines()) == 1
    no_token = subprocess.run([*CLI, "ui", "--store", str(tmp_path / "t.db"), "--protect-reads", "--no-browser"],
                              capture_output=True, text=True, timeout=60, env=clean_env())
    assert no_token.returncode == 1
    assert no_token.stderr == "otel-genai: error: --protect-reads needs a token (--token or $OTEL_GENAI_SERVE_TOKEN)\n"
    bad_port = subprocess.run([*CLI, "ui", "--port", "99999"], capture_output=True, text=True, timeout=60, env=clean_env())
    assert bad_port.returncode == 2 and bad_port.stderr.splitlines()[-1].startswith("otel-genai ui: error: argument --port")


def test_ui_with_protected_reads_needs_the_token_for_the_api_but_not_for_the_page(tmp_path):
    process, url = start_ui("--store", str(tmp_path / "p.db"), "--token", "t0k", "--protect-reads")
    try:
        assert requests.get(url + "/api/traces", timeout=10).status_code == 401
        assert requests.get(url + "/api/traces", headers={"Authorization": "Bearer t0k"}, timeout=10).status_code == 200
        assert requests.get(url + "/", timeout=10).status_code == 200
    finally:
        process.terminate()
        assert process.wait(15) == 0


def test_serve_announces_the_viewer_on_the_same_port(tmp_path):
    process = subprocess.Popen([*CLI, "serve", "--port", "0", "--store", str(tmp_path / "s.db")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
    try:
        line = process.stdout.readline()
        found = re.search(r"at (http://127\.0\.0\.1:\d+)/v1/traces -> .* viewer at (http://127\.0\.0\.1:\d+)/;", line)
        assert found and found.group(1) == found.group(2), line
        page = requests.get(found.group(2) + "/", timeout=10)
        assert page.status_code == 200 and "otel-genai" in page.text
    finally:
        process.terminate()
        assert process.wait(15) == 0
