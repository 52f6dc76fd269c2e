"""The tool-call seam end to end: an agent traced with ``otel_genai.trace`` asks the model (the real
``openai`` client, instrumented, against the demo fixture's Chat Completions endpoint) with tools; the
response asks for ``get_weather`` (call id ``call_demo_weather``); the app runs the tool through
``otel_genai.trace(kind="tool")`` without giving an id, and the ``execute_tool`` span carries the
response's ``gen_ai.tool.call.id``.

``Invocation`` offers the response's tool calls to the agent at span end
(``otel_genai.tracing.tool_calls.offer``), with content capture on or off: call ids and tool names
are not content."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from opentelemetry import trace as otel_trace

import otel_genai
from otel_genai.demo.fixture import respond
from otel_genai.demo.server import LoopbackServer

TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }
]


@pytest.fixture(scope="module")
def endpoint():
    with LoopbackServer(respond) as server:
        yield server.base_url + "/v1"


@pytest.fixture
def traced(telemetry, monkeypatch):
    """``otel_genai.trace`` spans go to the same provider as the instrumented calls."""
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", telemetry.tracer_provider)
    return telemetry


@otel_genai.trace(kind="tool")
def get_weather(city: str) -> str:
    return "rainy" if city == "Paris" else "unknown"


def tool_messages(message) -> list[dict]:
    """Run the tool calls of an assistant ``message``, as the app does: no tool_call_id given to trace."""
    results = []
    for call in message.tool_calls or ():
        assert call.function.name == "get_weather"
        result = get_weather(**json.loads(call.function.arguments))
        results.append({"role": "tool", "tool_call_id": call.id, "content": result})
    return results


@otel_genai.trace(kind="agent")
def weather_agent(client: openai.OpenAI, question: str) -> str:
    messages: list = [{"role": "user", "content": question}]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
    messages += [first.choices[0].message, *tool_messages(first.choices[0].message)]
    return client.chat.completions.create(model="gpt-4o-mini", messages=messages).choices[0].message.content


@otel_genai.trace(kind="agent")
async def async_weather_agent(client: openai.AsyncOpenAI, question: str) -> str:
    messages: list = [{"role": "user", "content": question}]
    first = await client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
    messages += [first.choices[0].message, *tool_messages(first.choices[0].message)]
    return (await client.chat.completions.create(model="gpt-4o-mini", messages=messages)).choices[0].message.content


def run_agent(mode: str, endpoint: str) -> str:
    if mode == "sync":
        return weather_agent(openai.OpenAI(api_key="k", base_url=endpoint, max_retries=0), "Weather in Paris?")

    async def main() -> str:
        async with openai.AsyncOpenAI(api_key="k", base_url=endpoint, max_retries=0) as client:
            return await async_weather_agent(client, "Weather in Paris?")

    return asyncio.run(main())


@pytest.mark.parametrize("capture", ["SPAN_ONLY", "NO_CONTENT"])  # call ids and tool names are not content
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_tool_span_takes_its_call_id_from_the_response_that_asked_for_it(endpoint, traced, instrument, mode, capture):
    instrument(capture_content=capture)
    answer = run_agent(mode, endpoint)
    assert "rainy" in answer
    spans = {s.name: s for s in traced.spans()}
    agent, tool = spans["invoke_agent " + ("weather_agent" if mode == "sync" else "async_weather_agent")], spans["execute_tool get_weather"]
    chats = [s for s in traced.spans() if s.name == "chat gpt-4o-mini"]
    assert len(chats) == 2 and all(s.parent.span_id == agent.context.span_id for s in (*chats, tool))
    assert tool.attributes["gen_ai.tool.name"] == "get_weather"
    assert tool.attributes["gen_ai.tool.call.id"] == "call_demo_weather"


def test_without_the_seam_nothing_is_guessed(endpoint, traced, instrument):
    """What holds today and after the call site: a tool span outside any agent, and one with an
    explicit id, keep what they were given."""
    instrument()
    client = openai.OpenAI(api_key="k", base_url=endpoint, max_retries=0)
    first = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=TOOLS)
    tool_messages(first.choices[0].message)  # no agent: nothing to take the id from
    with otel_genai.trace(kind="agent", name="explicit"):
        again = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=TOOLS)
        with otel_genai.trace("get_weather", kind="tool", tool_call_id="given"):
            pass
    assert again.choices[0].message.tool_calls[0].id == "call_demo_weather"
    tools = [s.attributes.get("gen_ai.tool.call.id") for s in traced.spans() if s.name == "execute_tool get_weather"]
    assert tools == [None, "given"]
