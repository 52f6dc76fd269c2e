"""The demo app: three everyday OpenAI chat calls, with no tracing code at all.

Run it under ``opentelemetry-instrument`` (``otel-genai demo`` does) and every call becomes a GenAI
span in the embedded trace store:

1. a plain call,
2. a streamed call (``stream_options={"include_usage": True}`` so the stream reports its tokens),
3. a two-turn tool call: the model asks for ``get_weather``, the app runs it and sends the result
   back. The two turns are grouped under one ``weather_agent`` span, so they form one trace.

The client reads ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` from the environment: the demo points it
at its local fixture endpoint, ``otel-genai demo --live`` at the real API.
"""

from __future__ import annotations

import json
import os

import openai
from opentelemetry import trace

MODEL = os.environ.get("OTEL_GENAI_DEMO_MODEL", "gpt-4o-mini")
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


def get_weather(city: str) -> str:
    """The app's own tool; a fixed answer keeps the demo reproducible."""
    return f"sunny and 21°C in {city}"


def plain_call(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "In one sentence, why trace LLM calls with OpenTelemetry?"}],
    )
    print(f"[plain]    {response.choices[0].message.content}")


def streamed_call(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Give me a one-line motto for observability."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    print("[stream]   ", end="")
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            print(chunk.choices[0].delta.content, end="", flush=True)
    print()


def tool_call(client: openai.OpenAI) -> None:
    tracer = trace.get_tracer("otel_genai.demo")
    with tracer.start_as_current_span("weather_agent"):
        messages = [{"role": "user", "content": "What's the weather like in Paris today?"}]
        first = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
        message = first.choices[0].message
        messages.append(message)
        for call in message.tool_calls or []:
            result = get_weather(**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        final = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
        print(f"[tool]     {final.choices[0].message.content}")


def main() -> None:
    client = openai.OpenAI(max_retries=0)
    plain_call(client)
    streamed_call(client)
    tool_call(client)


if __name__ == "__main__":
    main()
