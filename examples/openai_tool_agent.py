"""A tool-calling agent on the OpenAI Chat Completions API, traced by otel-genai.

Seed: the MLflow documentation, "Tracing OpenAI" > "Function Calling" > "Chat Completion API"
(https://mlflow.org/docs/latest/genai/tracing/integrations/listing/openai/#function-calling), ported.
Only these lines differ from it: the imports (``otel_genai`` and its ``SpanType`` for ``mlflow`` and
``mlflow.entities.SpanType``), the decorator name (``@otel_genai.trace`` for ``@mlflow.trace``), the
two setup lines before the client (the page's ``mlflow.openai.autolog()`` becomes
``otel_genai.autolog()``; ``serve_unless_live()`` picks the endpoint), and the run at the bottom,
under ``if __name__ == "__main__"`` so that ``openai_token_usage.py`` can import the agent, printing
the answer.

The trace reads: ``invoke_agent run_tool_agent`` > ``chat gpt-4o-mini`` (asks for ``get_weather``) >
``execute_tool get_weather`` > ``chat gpt-4o-mini`` (the answer), with the token usage of both LLM
calls on the trace::

    python examples/openai_tool_agent.py            # the local demo endpoint, no key needed
    python examples/openai_tool_agent.py --live     # the real API (OPENAI_API_KEY)
    otel-genai traces show --last
"""

import json
from openai import OpenAI
import otel_genai
from otel_genai import SpanType
from otel_genai.demo.endpoint import serve_unless_live

serve_unless_live("openai")  # the local demo endpoint, unless --live
otel_genai.autolog()

client = OpenAI()


# Define the tool function. Decorate it with `@otel_genai.trace` to create a span for its execution.
@otel_genai.trace(span_type=SpanType.TOOL)
def get_weather(city: str) -> str:
    if city == "Tokyo":
        return "sunny"
    elif city == "Paris":
        return "rainy"
    return "unknown"


tools = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
            },
        },
    }
]

_tool_functions = {"get_weather": get_weather}


# Define a simple tool calling agent
@otel_genai.trace(span_type=SpanType.AGENT)
def run_tool_agent(question: str):
    messages = [{"role": "user", "content": question}]

    # Invoke the model with the given question and available tools
    response = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        tools=tools,
    )
    ai_msg = response.choices[0].message
    messages.append(ai_msg)

    # If the model request tool call(s), invoke the function with the specified arguments
    if tool_calls := ai_msg.tool_calls:
        for tool_call in tool_calls:
            function_name = tool_call.function.name
            if tool_func := _tool_functions.get(function_name):
                args = json.loads(tool_call.function.arguments)
                tool_result = tool_func(**args)
            else:
                raise RuntimeError("An invalid tool is returned from the assistant!")

            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": tool_call.id,
                    "content": tool_result,
                }
            )

        # Sent the tool results to the model and get a new response
        response = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages
        )

    return response.choices[0].message.content


if __name__ == "__main__":
    # Run the tool calling agent
    question = "What's the weather like in Paris today?"
    answer = run_tool_agent(question)
    print(answer)
