"""What the viewer and server tests share: Debian's chromium driven by Playwright, the server in front of a
fresh store, and an instrumented agent app (a real subprocess, ``otel_genai.autolog()``) that replays
recorded OpenAI traffic and exports its spans over OTLP/HTTP to that server.

The agent (``weather_agent``, an ``otel_genai.trace`` agent span with ``session.id``): the recorded
``test_chat_tools#0`` (the model asks for ``get_current_weather``), the tool span, then the recorded
``test_chat_tool_calls#0`` (the model answers from the tool result). Its token total is what the two
recorded responses report (:data:`AGENT_USAGE`). Beside it, in their own traces: one call whose prompt
is an XSS payload (the recorded ``test_chat#0`` answers it) and one call the endpoint fails (500: an
ERROR trace).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

from recorded import load_interactions
from shipping import clean_env, expected_usage

CHROMIUM = "/usr/bin/chromium"
#: headless, and nothing that reaches the network on its own
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(os.environ.get("OTEL_GENAI_SCREENSHOTS", "/tmp/otel-genai-screenshots"))

_CHAT = {i.id: i for i in load_interactions("openai", "/chat/completions")}
ASK_TOOL = _CHAT["test_chat/test_chat_tools#0"]
ANSWER = _CHAT["test_chat/test_chat_tool_calls#0"]
JOKE = _CHAT["test_chat/test_chat#0"]
AGENT_USAGE = expected_usage(ASK_TOOL, ANSWER)
SESSION_ID = "session-weather-1"
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"><b>bold?</b>'
TOOL_RESULT = ANSWER.request_body["messages"][1]["content"]  # what the recorded second call was sent
ASK_MODEL = ASK_TOOL.json()["model"]  # gpt-3.5-turbo-0125

APP = textwrap.dedent(
    """
    import json, os
    import otel_genai
    otel_genai.autolog()
    import openai
    from opentelemetry import trace

    client = openai.OpenAI(base_url=os.environ["APP_BASE_URL"], api_key="test", max_retries=0)
    ask, answer, joke = json.loads(os.environ["APP_CALLS"])

    @otel_genai.trace(kind="tool", name="get_current_weather")
    def get_current_weather(location):
        return os.environ["APP_TOOL_RESULT"]

    @otel_genai.trace(kind="agent", name="weather_agent", attributes={"session.id": os.environ["APP_SESSION"]})
    def weather_agent(question):
        first = client.chat.completions.create(**ask)
        call = first.choices[0].message.tool_calls[0]
        get_current_weather(**json.loads(call.function.arguments))
        return client.chat.completions.create(**answer).choices[0].message.content

    weather_agent(ask["messages"][0]["content"])
    if os.environ.get("APP_EXTRA"):
        joke["messages"][0]["content"] = os.environ["APP_XSS"]
        client.chat.completions.create(**joke)
        try:
            client.chat.completions.create(**joke)  # nothing left to replay: the endpoint answers 500
        except openai.InternalServerError:
            pass
    trace.get_tracer_provider().shutdown()  # flush before exit
    """
)


def run_agent(tmp_path: Path, replayer: Any, endpoint: str, *, extra: bool = True, capture: str = "SPAN_ONLY") -> None:
    """Run :data:`APP` exporting over OTLP/HTTP to ``endpoint`` (``.../v1/traces``); asserts it succeeded."""
    app = tmp_path / "viewer_agent_app.py"
    app.write_text(APP)
    played = (ASK_TOOL, ANSWER, JOKE) if extra else (ASK_TOOL, ANSWER)
    env = clean_env(
        APP_BASE_URL=replayer.play(*played) + "/v1",
        APP_CALLS=json.dumps([ASK_TOOL.request_body, ANSWER.request_body, JOKE.request_body]),
        APP_TOOL_RESULT=TOOL_RESULT, APP_SESSION=SESSION_ID, APP_XSS=XSS, APP_EXTRA="1" if extra else "",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint, OTEL_SERVICE_NAME="weather-app",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=capture,
    )
    done = subprocess.run([sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def launch_chromium(playwright: Any, user_data_dir: Path) -> Any:
    """Debian's chromium, headless, off the network, with a fresh profile: a Playwright ``BrowserContext``."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1440, "height": 900},
    )


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under :data:`SCREENSHOTS` (a test artifact, not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
