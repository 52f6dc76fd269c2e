"""Read a trace's token usage back: the total on the trace, then each LLM call.

Seed: the MLflow documentation, "Tracing OpenAI" > "Token usage"
(https://mlflow.org/docs/latest/genai/tracing/integrations/listing/openai/#token-usage), ported: it
runs the tool-calling agent "defined in the previous section" (``openai_tool_agent.py``, imported),
then reads the last trace back. What differs from it: ``import otel_genai`` for ``import mlflow``,
``otel_genai.`` for ``mlflow.`` (``autolog()`` for ``openai.autolog()``, ``get_last_active_trace_id``,
``get_trace``), the agent's import, and the headings, printed as in MLflow's other token-usage
examples (``== Total token usage ==``, without the colon this page has).

The trace comes back from the embedded trace store: its ``info.token_usage`` is the sum of its LLM
spans' ``mlflow.chat.tokenUsage`` (the agent and tool spans carry none)::

    python examples/openai_token_usage.py            # the local demo endpoint
    python examples/openai_token_usage.py --live     # the real API (OPENAI_API_KEY)
"""

import json
import otel_genai

from openai_tool_agent import run_tool_agent

otel_genai.autolog()

# Run the tool calling agent defined in the previous section
question = "What's the weather like in Paris today?"
answer = run_tool_agent(question)

# Get the trace object just created
last_trace_id = otel_genai.get_last_active_trace_id()
trace = otel_genai.get_trace(trace_id=last_trace_id)

# Print the token usage
total_usage = trace.info.token_usage
print("== Total token usage ==")
print(f"  Input tokens: {total_usage['input_tokens']}")
print(f"  Output tokens: {total_usage['output_tokens']}")
print(f"  Total tokens: {total_usage['total_tokens']}")

# Print the token usage for each LLM call
print("\n== Detailed usage for each LLM call ==")
for span in trace.data.spans:
    if usage := span.get_attribute("mlflow.chat.tokenUsage"):
        print(f"{span.name}:")
        print(f"  Input tokens: {usage['input_tokens']}")
        print(f"  Output tokens: {usage['output_tokens']}")
        print(f"  Total tokens: {usage['total_tokens']}")
