"""Process and stream lifecycle, the way a user's program ends (docs/lifecycle.md): real subprocesses
under ``autolog()`` and under ``opentelemetry-instrument``, the real openai / anthropic clients against
the loopback fixture endpoint, the real embedded store read back with ``search_traces()``. Every
subprocess has a timeout, so a hang fails the test instead of stalling CI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import otel_genai
from otel_genai.demo.fixture import respond
from otel_genai.demo.run import instrument_command
from otel_genai.demo.server import LoopbackServer

TIMEOUT_S = 60
MODES = ("autolog", "zero-code")

# per SDK: the client, a streamed call, a plain call (the fixture answers each in its wire format)
SDKS = {
    "openai": (
        "import openai\nclient = openai.OpenAI(api_key='k', base_url=BASE_URL + '/v1', max_retries=0)\n",
        "client.chat.completions.create(model='gpt-4o-mini', stream=True, "
        "messages=[{'role': 'user', 'content': 'Tell me a story'}])",
        "client.chat.completions.create(model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'Hi'}])",
    ),
    "anthropic": (
        "import anthropic\nclient = anthropic.Anthropic(api_key='k', base_url=BASE_URL, max_retries=0)\n",
        "client.messages.create(model='claude-sonnet-4-5', max_tokens=200, stream=True, "
        "messages=[{'role': 'user', 'content': 'Tell me a story'}])",
        "client.messages.create(model='claude-sonnet-4-5', max_tokens=200, "
        "messages=[{'role': 'user', 'content': 'Hi'}])",
    ),
}
CONTENT_KEYS = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "mlflow.spanInputs",
    "mlflow.spanOutputs",
)


@pytest.fixture(scope="module")
def endpoint():
    """The fixture endpoint, streaming its chunks 20 ms apart (a live stream, not one burst)."""
    with LoopbackServer(lambda request: respond(request, chunk_delay=0.02)) as server:
        yield server.base_url


class UserProgram:
    """One user program: its source, run under ``autolog()`` or ``opentelemetry-instrument`` with
    only the store path (and what a test adds) in the environment."""

    def __init__(self, tmp_path: Path, mode: str, base_url: str, source: str, preamble: str = "", **env: str) -> None:
        self.store = tmp_path / "traces.db"
        prologue = "import otel_genai; otel_genai.autolog()\n" if mode == "autolog" else ""
        self.path = tmp_path / "app.py"
        self.path.write_text(preamble + prologue + f"BASE_URL = {base_url!r}\n" + textwrap.dedent(source))
        self.command = ([] if mode == "autolog" else instrument_command()) + [sys.executable, str(self.path)]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "ANTHROPIC_"))}
        self.env.update(OTEL_GENAI_STORE_PATH=str(self.store), PYTHONUNBUFFERED="1", **env)

    def run(self) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(self.command, env=self.env, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"the program did not exit within {TIMEOUT_S} s (hang at exit?); output: {exc.stdout!r} {exc.stderr!r}")

    def start(self) -> subprocess.Popen:
        return subprocess.Popen(self.command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def spans(self) -> list:
        return [span for trace in otel_genai.search_traces(path=self.store) for span in trace.data.spans]


def inference_spans(spans: list) -> list:
    return [span for span in spans if span.kind == "CLIENT" and span.name.startswith("chat ")]


def duration_s(span) -> float:
    return (span.end_time_ns - span.start_time_ns) / 1e9


def wait_for(process: subprocess.Popen, line: str) -> None:
    """Read the program's stdout until ``line`` (it is ready for the test's signal)."""
    for out in process.stdout:
        if out.strip() == line:
            return
    process.wait(TIMEOUT_S)
    pytest.fail(f"the program ended before printing {line!r}: {process.returncode} {process.stderr.read()}")


def end_within_timeout(process: subprocess.Popen) -> tuple[int, str]:
    try:
        _, stderr = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"the program did not exit within {TIMEOUT_S} s after the signal")
    return process.returncode, stderr


# --- 1 + 3: a stream left early, still referenced at exit: no hang, the span ends when reading stopped
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sdk", sorted(SDKS))
@pytest.mark.parametrize("leave", ["break", "exception"])
def test_first_call_a_stream_left_early_exits_and_is_stored_with_its_real_duration(tmp_path, endpoint, mode, sdk, leave):
    client, streamed, _ = SDKS[sdk]
    loop = "for chunk in s:\n    break\n" if leave == "break" else (
        "try:\n    for chunk in s:\n        raise ValueError('app error')\nexcept ValueError:\n    pass\n"
    )
    program = UserProgram(tmp_path, mode, endpoint, client + f"s = {streamed}\n" + loop + "import time; time.sleep(1.0)\nprint('done')\n")
    done = program.run()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"
    (span,) = inference_spans(program.spans())
    # ended at the first (only) chunk read, not at collection after the 1 s sleep
    assert duration_s(span) < 0.5
    assert span.status != "ERROR"
    assert span.attributes["gen_ai.response.finish_reasons"] == ["error"]  # not read to its end
    if sdk == "anthropic":  # message_start had been read: the input tokens it carried are kept
        assert span.attributes["gen_ai.usage.input_tokens"] > 0


# --- 2: a stream still open at exit (the recording thread already running) is stored
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_stream_open_at_exit_is_ended_before_the_flush(tmp_path, endpoint, mode, sdk):
    client, streamed, plain = SDKS[sdk]
    source = client + f"{plain}\ns = {streamed}\nit = iter(s)\nfirst = next(it)\nsecond = next(it)\nprint('exiting')\n"
    program = UserProgram(tmp_path, mode, endpoint, source)
    done = program.run()
    assert done.returncode == 0, done.stderr
    spans = inference_spans(program.spans())
    assert len(spans) == 2
    streamed_span = max(spans, key=lambda span: span.start_time_ns)
    assert streamed_span.attributes["gen_ai.request.stream"] is True
    assert streamed_span.attributes["gen_ai.response.finish_reasons"] == ["error"]
    assert streamed_span.attributes["gen_ai.response.time_to_first_chunk"] > 0


# --- 1 + 2: Ctrl-C in the user's loop during the first stream: the process exits, both spans stored
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_ctrl_c_during_the_first_stream_exits_and_stores_agent_and_chat_spans(tmp_path, endpoint, mode, sdk):
    client, streamed, _ = SDKS[sdk]
    source = client + textwrap.dedent(
        f"""
        import os, signal, otel_genai
        with otel_genai.trace("planner", kind="agent"):
            s = {streamed}
            for chunk in s:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the app handles a chunk
        """
    )
    program = UserProgram(tmp_path, mode, endpoint, source)
    done = program.run()
    # Python dies of an unhandled KeyboardInterrupt by re-sending SIGINT to itself
    assert done.returncode == -signal.SIGINT and "KeyboardInterrupt" in done.stderr
    spans = program.spans()
    (agent,) = [span for span in spans if span.name == "invoke_agent planner"]
    (chat,) = inference_spans(spans)
    assert agent.status == "ERROR" and agent.attributes["error.type"] == "KeyboardInterrupt"
    assert chat.parent_id == agent.span_id
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["error"]


# --- 5: SIGTERM (docker stop) flushes the finished traces still queued, then dies of the signal
@pytest.mark.parametrize("mode", MODES)
def test_sigterm_flushes_finished_traces_and_keeps_the_default_exit_status(tmp_path, endpoint, mode):
    client, _, plain = SDKS["openai"]
    source = client + f"for _ in range(9):\n    {plain}\nprint('ready')\nimport time; time.sleep({TIMEOUT_S})\n"
    program = UserProgram(tmp_path, mode, endpoint, source)
    process = program.start()
    wait_for(process, "ready")
    process.send_signal(signal.SIGTERM)
    returncode, stderr = end_within_timeout(process)
    assert returncode == -signal.SIGTERM, stderr  # died of the signal, as without otel-genai
    assert len(inference_spans(program.spans())) == 9


@pytest.mark.parametrize("mode", MODES)
def test_sigterm_handler_of_the_app_is_left_alone(tmp_path, endpoint, mode):
    client, _, plain = SDKS["openai"]
    # installed before autolog() runs, or (zero-code) after the distribution's set-up
    handler = "import signal, sys\nsignal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(3))\n"
    source = client + f"for _ in range(4):\n    {plain}\nprint('ready')\nimport time; time.sleep({TIMEOUT_S})\n"
    program = UserProgram(tmp_path, mode, endpoint, source, preamble=handler)
    process = program.start()
    wait_for(process, "ready")
    process.send_signal(signal.SIGTERM)
    returncode, stderr = end_within_timeout(process)
    assert returncode == 3, stderr  # the app's handler ran; its sys.exit flushes at exit as usual
    assert len(inference_spans(program.spans())) == 4


# --- 6: a mistyped content setting captures nothing, anywhere, and says so once
@pytest.mark.parametrize("mode", MODES)
def test_mistyped_content_setting_captures_no_content_anywhere(tmp_path, endpoint, mode):
    client, streamed, plain = SDKS["openai"]
    source = client + textwrap.dedent(
        f"""
        import otel_genai

        @otel_genai.trace(kind="tool")
        def get_weather(city):
            return {{"city": city, "temperature_c": 21}}

        with otel_genai.trace("planner", kind="agent") as agent:
            agent.set_inputs({{"question": "weather in Paris?"}})
            {plain}
            get_weather("Paris")
            for chunk in {streamed}:
                pass
            agent.set_outputs("sunny")
        """
    )
    program = UserProgram(
        tmp_path, mode, endpoint, source, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="no_contnet"
    )
    done = program.run()
    assert done.returncode == 0, done.stderr
    spans = program.spans()
    assert {span.name for span in spans} == {"invoke_agent planner", "chat gpt-4o-mini", "execute_tool get_weather"}
    for span in spans:
        assert not set(CONTENT_KEYS) & set(span.attributes), (span.name, span.attributes)
    warnings = [line for line in done.stderr.splitlines() if "no_contnet" in line]
    assert len(warnings) == 1 and "no message content is captured" in warnings[0]


# --- 10: the official GenAI instrumentations installed beside otel-genai: still one span per call
def official_instrumentation_installed() -> bool:
    from importlib.metadata import entry_points

    return any(ep.dist is not None and ep.dist.name.startswith("opentelemetry-instrumentation-genai-openai")
               for ep in entry_points(group="opentelemetry_instrumentor"))


def test_official_genai_instrumentations_are_installed_in_the_test_environment():
    assert official_instrumentation_installed(), "the test extra installs opentelemetry-instrumentation-genai-openai"


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_zero_code_with_the_official_instrumentation_installed_gives_one_span_per_call(tmp_path, endpoint, sdk):
    client, _, plain = SDKS[sdk]
    program = UserProgram(tmp_path, "zero-code", endpoint, client + f"{plain}\n{plain}\n")
    done = program.run()
    assert done.returncode == 0, done.stderr
    spans = program.spans()
    assert len(spans) == 2 and {span.scope_name for span in spans} == {f"otel_genai.instrumentation.{sdk}"}
    skipped = [line for line in done.stderr.splitlines() if "not loading instrumentation" in line]
    # said once for each official instrumentation (both are installed), whichever SDK the app uses
    assert sorted(line.split("'")[1] for line in skipped) == ["anthropic", "openai"]


def test_an_instrumentation_named_in_the_keep_setting_is_loaded_too(tmp_path, endpoint):
    client, _, plain = SDKS["openai"]
    program = UserProgram(tmp_path, "zero-code", endpoint, client + f"{plain}\n", OTEL_GENAI_KEEP_INSTRUMENTATIONS="openai")
    done = program.run()
    assert done.returncode == 0, done.stderr
    scopes = sorted(span.scope_name for span in program.spans())
    assert len(scopes) == 2 and "otel_genai.instrumentation.openai" in scopes  # the user asked for both


def test_disabling_ours_lets_the_official_instrumentation_trace_instead(tmp_path, endpoint):
    client, _, plain = SDKS["openai"]
    program = UserProgram(
        tmp_path, "zero-code", endpoint, client + f"{plain}\n", OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="otel_genai_openai"
    )
    done = program.run()
    assert done.returncode == 0, done.stderr
    (span,) = program.spans()
    assert span.scope_name != "otel_genai.instrumentation.openai"
    assert "not loading instrumentation 'openai'" not in done.stderr


# --- 9: an installed but unused SDK is not imported
@pytest.mark.parametrize("mode", MODES)
def test_an_unused_sdk_is_never_imported(tmp_path, endpoint, mode):
    client, _, plain = SDKS["openai"]
    source = client + f"{plain}\nimport sys\nprint(sorted(m for m in ('anthropic', 'anthropic.lib.bedrock', 'anthropic.lib.vertex') if m in sys.modules))\n"
    program = UserProgram(tmp_path, mode, endpoint, source)
    done = program.run()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert len(program.spans()) == 1  # and openai, imported after instrument(), is traced
