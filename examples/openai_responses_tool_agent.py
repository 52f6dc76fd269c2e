"""A tool-calling agent on the OpenAI Responses API, traced by otel-genai.

Seed: the MLflow documentation, "Tracing OpenAI" > "Function Calling" > "Responses API"
(https://mlflow.org/docs/latest/genai/tracing/integrations/listing/openai/#function-calling), ported.
What differs from it: the imports (``otel_genai`` and its ``SpanType`` for ``mlflow`` and
``mlflow.entities.SpanType``), the decorator name (``@otel_genai.trace`` for ``@mlflow.trace``), the
two setup lines before the client (``otel_genai.autolog()`` for the page's ``mlflow.openai.autolog()``;
``serve_unless_live()`` picks the endpoint), the forecast URL's host, read from ``OPEN_METEO_URL``
(default ``https://api.open-meteo.com``) so the tool runs offline against the demo endpoint, the
second ``responses.create`` sending ``input=messages`` (the seed passes ``input_messages``, a name it
never defines), and the answer printed at the end. The tool uses ``requests``, as in the seed
(``pip install requests``).

The trace reads: ``invoke_agent run_tool_agent`` > ``chat gpt-4o-mini`` (a ``function_call``) >
``execute_tool get_weather`` > ``chat gpt-4o-mini`` (the answer)::

    python examples/openai_responses_tool_agent.py            # the local demo endpoint
    python examples/openai_responses_tool_agent.py --live     # the real APIs (OPENAI_API_KEY)
    otel-genai traces show --last
"""

import json
import os
import requests
from openai import OpenAI
import otel_genai
from otel_genai import SpanType
from otel_genai.demo.endpoint import serve_unless_live

serve_unless_live("openai")  # the local demo endpoint, unless --live
otel_genai.autolog()
OPEN_METEO_URL = os.environ.get("OPEN_METEO_URL", "https://api.open-meteo.com")

client = OpenAI()


# Define the tool function. Decorate it with `@otel_genai.trace` to create a span for its execution.
@otel_genai.trace(span_type=SpanType.TOOL)
def get_weather(latitude, longitude):
    response = requests.get(
        f"{OPEN_METEO_URL}/v1/forecast?latitude={latitude}&longitude={longitude}&current=temperature_2m,wind_speed_10m&hourly=temperature_2m,relative_humidity_2m,wind_speed_10m"
    )
    data = response.json()
    return data["current"]["temperature_2m"]


tools = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Get current temperature for provided coordinates in celsius.",
        "parameters": {
            "type": "object",
            "properties": {
                "latitude": {"type": "number"},
                "longitude": {"type": "number"},
            },
            "required": ["latitude", "longitude"],
            "additionalProperties": False,
        },
        "strict": True,
    }
]


# Define a simple tool calling agent
@otel_genai.trace(span_type=SpanType.AGENT)
def run_tool_agent(question: str):
    messages = [{"role": "user", "content": question}]

    # Invoke the model with the given question and available tools
    response = client.responses.create(
        model="gpt-4o-mini",
        input=question,
        tools=tools,
    )

    # Invoke the function with the specified arguments
    tool_call = response.output[0]
    args = json.loads(tool_call.arguments)
    result = get_weather(args["latitude"], args["longitude"])

    # Sent the tool results to the model and get a new response
    messages.append(tool_call)
    messages.append(
        {
            "type": "function_call_output",
            "call_id": tool_call.call_id,
            "output": str(result),
        }
    )

    response = client.responses.create(
        model="gpt-4o-mini",
        input=messages,
        tools=tools,
    )

    return response.output[0].content[0].text


if __name__ == "__main__":
    # Run the tool calling agent
    question = "What's the weather like in Paris today?"
    answer = run_tool_agent(question)
    print(answer)
