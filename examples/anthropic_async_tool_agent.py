"""An async tool-calling agent on the Anthropic Messages API, run for three cities at once with
``asyncio.gather``, traced by otel-genai.

Seed: the MLflow documentation, "Tracing Anthropic" > "Advanced Example: Tool Calling Agent"
(https://mlflow.org/docs/latest/genai/tracing/integrations/listing/anthropic/), ported. What differs
from it: the imports (``otel_genai`` and its ``SpanType`` for ``mlflow`` and
``mlflow.entities.SpanType``), the decorator name (``@otel_genai.trace`` for ``@mlflow.trace``), the
two setup lines before the client (``otel_genai.autolog()`` for the page's
``mlflow.anthropic.autolog()``; ``serve_unless_live()`` picks the endpoint), and the notebook's
top-level ``await`` wrapped in ``main()`` and ``asyncio.run`` so it runs as a script.

Each ``run_tool_agent`` call is its own trace (the three run concurrently; none is another's
parent): ``invoke_agent run_tool_agent`` > ``chat <model>`` (a ``tool_use``) >
``execute_tool get_weather`` > ``chat <model>`` (the answer)::

    python examples/anthropic_async_tool_agent.py            # the local demo endpoint
    python examples/anthropic_async_tool_agent.py --live     # the real API (ANTHROPIC_API_KEY)
    otel-genai traces list
"""

import json
import anthropic
import otel_genai
import asyncio
from otel_genai import SpanType
from otel_genai.demo.endpoint import serve_unless_live

serve_unless_live("anthropic")  # the local demo endpoint, unless --live
otel_genai.autolog()

client = anthropic.AsyncAnthropic()
model_name = "claude-sonnet-4-5-20250929"


# Define the tool function. Decorate it with `@otel_genai.trace` to create a span for its execution.
@otel_genai.trace(span_type=SpanType.TOOL)
async def get_weather(city: str) -> str:
    if city == "Tokyo":
        return "sunny"
    elif city == "Paris":
        return "rainy"
    return "unknown"


tools = [
    {
        "name": "get_weather",
        "description": "Returns the weather condition of a given city.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]

_tool_functions = {"get_weather": get_weather}


# Define a simple tool calling agent
@otel_genai.trace(span_type=SpanType.AGENT)
async def run_tool_agent(question: str):
    messages = [{"role": "user", "content": question}]

    # Invoke the model with the given question and available tools
    ai_msg = await client.messages.create(
        model=model_name,
        messages=messages,
        tools=tools,
        max_tokens=2048,
    )
    messages.append({"role": "assistant", "content": ai_msg.content})

    # If the model requests tool call(s), invoke the function with the specified arguments
    tool_calls = [c for c in ai_msg.content if c.type == "tool_use"]
    for tool_call in tool_calls:
        if tool_func := _tool_functions.get(tool_call.name):
            tool_result = await tool_func(**tool_call.input)
        else:
            raise RuntimeError("An invalid tool is returned from the assistant!")

        messages.append({
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": tool_call.id,
                    "content": tool_result,
                }
            ],
        })

    # Send the tool results to the model and get a new response
    response = await client.messages.create(
        model=model_name,
        messages=messages,
        max_tokens=2048,
    )

    return response.content[-1].text


async def main():
    # Run the tool calling agent
    cities = ["Tokyo", "Paris", "Sydney"]
    questions = [f"What's the weather like in {city} today?" for city in cities]
    answers = await asyncio.gather(*(run_tool_agent(q) for q in questions))

    for city, answer in zip(cities, answers):
        print(f"{city}: {answer}")


if __name__ == "__main__":
    asyncio.run(main())
