"""The seeds' two LangChain programs in ``examples/`` (``langchain_chain.py``, ``langchain_agent.py``),
each run in a real subprocess against the local demo endpoint it starts itself, read back from the
embedded trace store and through ``otel-genai traces show --last``: the chain as MLflow shows it
(``RunnableSequence`` > ``PromptTemplate``, ``chat gpt-4o-mini``, ``StrOutputParser``), the agent as
agent > chat > tool > chat with the trace's token total the sum of its two model calls."""

from __future__ import annotations

import json

import otel_genai
from otel_genai.cli import main as cli_main
from test_examples import run_example, usage_sum


def _children(spans, parent):
    return [s for s in spans if s.parent_id == parent.span_id]


def test_the_chain_is_a_runnable_sequence_of_its_three_steps_with_one_chat_span(tmp_path, capsys):
    done = run_example("langchain_chain.py", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    (trace,) = otel_genai.search_traces(path=tmp_path / "traces.db")
    spans = trace.data.spans
    root = spans[0]
    assert (root.name, root.parent_id, root.attributes["mlflow.spanType"]) == ("RunnableSequence", None, "CHAIN")
    assert [(s.name, s.attributes["mlflow.spanType"]) for s in _children(spans, root)] == [
        ("PromptTemplate", "CHAIN"), ("chat gpt-4o-mini", "CHAT_MODEL"), ("StrOutputParser", "CHAIN")]
    assert len(spans) == 4
    chat = _children(spans, root)[1]
    # the one chat span is the openai SDK's, inside the LangChain structure
    assert chat.attributes["server.address"] == "127.0.0.1"
    assert chat.attributes["gen_ai.response.id"] == "chatcmpl-demo-plain"
    assert chat.attributes["gen_ai.request.temperature"] == 0.7 and chat.attributes["gen_ai.request.max_tokens"] == 1000
    assert "Linus Torvalds" in chat.attributes["gen_ai.input.messages"]
    assert trace.info.token_usage == usage_sum([chat]) and trace.info.token_usage["total_tokens"] > 0
    question = "Can I just set everyone's access to sudo to make things easier?"
    assert root.get_attribute("mlflow.spanInputs") == {"person": "Linus Torvalds", "question": question}
    assert json.loads(root.attributes["mlflow.spanOutputs"]) == done.stdout.strip()

    assert cli_main(["traces", "show", "--last", "--store", str(tmp_path / "traces.db")]) == 0
    tree = capsys.readouterr().out.splitlines()[2:6]
    assert tree[0].startswith("RunnableSequence  [CHAIN]  ")
    assert tree[1].startswith("  PromptTemplate  [CHAIN]  ")
    assert tree[2].startswith("  chat gpt-4o-mini  [CHAT_MODEL]  ") and "  tokens: input " in tree[2]
    assert tree[3].startswith("  StrOutputParser  [CHAIN]  ")


def test_the_agent_is_agent_chat_tool_chat_with_the_total_of_its_two_model_calls(tmp_path, capsys):
    done = run_example("langchain_agent.py", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Right now it is rainy in Paris."
    (trace,) = otel_genai.search_traces(path=tmp_path / "traces.db")
    spans = trace.data.spans
    root = spans[0]
    assert (root.name, root.parent_id) == ("invoke_agent LangGraph", None)
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent" and root.attributes["mlflow.spanType"] == "AGENT"
    assert root.attributes["gen_ai.agent.name"] == "LangGraph"
    children = _children(spans, root)
    assert [s.name for s in children] == ["chat gpt-4o-mini", "execute_tool get_weather", "chat gpt-4o-mini"]
    assert len(spans) == 4
    first, tool, second = children
    assert first.end_time_ns <= tool.start_time_ns and tool.end_time_ns <= second.start_time_ns
    assert [s.attributes["gen_ai.response.finish_reasons"] for s in (first, second)] == [["tool_calls"], ["stop"]]
    assert tool.attributes["gen_ai.tool.call.id"] == "call_demo_weather"
    assert tool.attributes["gen_ai.agent.name"] == "LangGraph"
    assert tool.get_attribute("gen_ai.tool.call.arguments") == {"city": "Paris"}
    assert tool.attributes["gen_ai.tool.call.result"] == "rainy"
    assert "mlflow.chat.tokenUsage" not in root.attributes and "mlflow.chat.tokenUsage" not in tool.attributes
    assert trace.info.token_usage == usage_sum([first, second])
    totals = [s.get_attribute("mlflow.chat.tokenUsage")["total_tokens"] for s in (first, second)]
    assert trace.info.token_usage["total_tokens"] == sum(totals)

    assert cli_main(["traces", "show", "--last", "--store", str(tmp_path / "traces.db")]) == 0
    out = capsys.readouterr().out.splitlines()
    tree = out[2:6]
    assert tree[0].startswith("invoke_agent LangGraph  [AGENT]  ")
    assert tree[1].startswith("  chat gpt-4o-mini  [CHAT_MODEL]  ")
    assert tree[2].startswith("  execute_tool get_weather  [TOOL]  ") and tree[2].endswith('  {"city":"Paris"} -> rainy')
    assert tree[3].startswith("  chat gpt-4o-mini  [CHAT_MODEL]  ")
    total = trace.info.token_usage
    assert out[-1].startswith(f"Total tokens: input {total['input_tokens']}, output {total['output_tokens']}, "
                              f"total {total['total_tokens']}")
