"""Zero-code: a LangChain program that imports nothing of ours, run under ``opentelemetry-instrument``
(our distro and the ``otel_genai_langchain`` + ``otel_genai_openai`` entry points) against the demo
endpoint, stores the chain's tree with one chat span, the openai SDK's; and ``autolog()`` in the same
program under ``opentelemetry-instrument`` does not trace anything twice."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import otel_genai
from otel_genai.demo import fixture
from otel_genai.demo.run import instrument_command
from otel_genai.demo.server import LoopbackServer

PROGRAM = """
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate
from langchain_openai import ChatOpenAI

llm = ChatOpenAI(model="gpt-4o-mini", base_url=BASE_URL + "/v1", api_key="k", max_retries=0)
chain = PromptTemplate.from_template("Tell me about {topic}") | llm | StrOutputParser()
print(chain.invoke({"topic": "tracing"}))
"""


@pytest.fixture(scope="module")
def endpoint():
    with LoopbackServer(fixture.respond) as server:
        yield server.base_url


@pytest.mark.parametrize("autolog", [False, True], ids=["zero-code", "zero-code+autolog"])
def test_a_langchain_program_under_opentelemetry_instrument_stores_one_tree(tmp_path, endpoint, autolog):
    source = ("import otel_genai; otel_genai.autolog()\n" if autolog else "") + f"BASE_URL = {endpoint!r}\n"
    program = tmp_path / "app.py"
    program.write_text(source + textwrap.dedent(PROGRAM))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    env.update(OTEL_GENAI_STORE_PATH=str(tmp_path / "traces.db"))
    done = subprocess.run(instrument_command() + [sys.executable, str(program)], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == fixture.PLAIN_ANSWER
    (trace,) = otel_genai.search_traces(path=tmp_path / "traces.db")
    spans = trace.data.spans
    assert [s.name for s in spans][0] == "RunnableSequence"
    assert sorted(s.name for s in spans) == ["PromptTemplate", "RunnableSequence", "StrOutputParser", "chat gpt-4o-mini"]
    (chat,) = [s for s in spans if s.name == "chat gpt-4o-mini"]
    assert chat.parent_id == spans[0].span_id
    assert chat.attributes["server.address"] == "127.0.0.1"  # the SDK's span, inside the chain
    assert trace.info.token_usage["total_tokens"] == chat.get_attribute("mlflow.chat.tokenUsage")["total_tokens"]


EXITING = """
import threading, time
import otel_genai
otel_genai.autolog()
from langchain_core.runnables import RunnableLambda

started = threading.Event()

def slow(value):
    started.set()
    time.sleep(60)  # still running when the main thread returns
    return value

chain = RunnableLambda(lambda v: v, name="prepare") | RunnableLambda(slow, name="slow_step")
threading.Thread(target=chain.invoke, args=({"x": 1},), daemon=True).start()
started.wait(10)
print("exiting")
"""


def test_a_chain_still_running_when_the_process_exits_is_stored(tmp_path):
    """docs/lifecycle.md: the exit handler ends every open span of ours before the providers flush."""
    program = tmp_path / "app.py"
    program.write_text(textwrap.dedent(EXITING))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    env.update(OTEL_GENAI_STORE_PATH=str(tmp_path / "traces.db"))
    done = subprocess.run([sys.executable, str(program)], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "exiting"
    (trace,) = otel_genai.search_traces(path=tmp_path / "traces.db")
    names = sorted(s.name for s in trace.data.spans)
    assert names == ["RunnableSequence", "prepare", "slow_step"]
