"""A LangChain agent (``create_agent`` with one tool) on an OpenAI-compatible endpoint, traced by otel-genai.

Seed: the MLflow documentation, "AI Gateway" > "Use the gateway with LangChain", ported: its
``create_agent(llm, tools=[get_weather], system_prompt=...)`` agent with ``ChatOpenAI`` pointed at an
OpenAI-compatible endpoint. What differs from it: ``otel_genai.autolog()`` for
``mlflow.langchain.autolog()``; the endpoint is the local demo endpoint (``serve_unless_live()`` sets
``OPENAI_BASE_URL``), or with ``--live`` the real API; the tool answers from a fixed table, as in the
other agent examples; and the answer is printed.

The trace reads: ``invoke_agent LangGraph`` > ``chat gpt-4o-mini`` (asks for ``get_weather``) >
``execute_tool get_weather`` (with the model's ``gen_ai.tool.call.id``) > ``chat gpt-4o-mini`` (the
answer), the trace's token total the sum of the two model calls::

    python examples/langchain_agent.py            # the local demo endpoint, no key needed
    python examples/langchain_agent.py --live     # the real API (OPENAI_API_KEY)
    otel-genai traces show --last
"""

from langchain.agents import create_agent
from langchain_openai import ChatOpenAI

import otel_genai
from otel_genai.demo.endpoint import serve_unless_live

serve_unless_live("openai")  # the local demo endpoint, unless --live
otel_genai.autolog()

llm = ChatOpenAI(model="gpt-4o-mini")


def get_weather(city: str) -> str:
    """Get the current weather of a city."""
    if city == "Tokyo":
        return "sunny"
    elif city == "Paris":
        return "rainy"
    return "unknown"


agent = create_agent(llm, tools=[get_weather], system_prompt="You are a helpful assistant. Use the tools to answer.")

result = agent.invoke({"messages": [{"role": "user", "content": "What's the weather like in Paris today?"}]})
print(result["messages"][-1].content)
