"""The seeds' agent programs in ``examples/``, each run in a real subprocess against the local demo
endpoint it starts itself, then read back from the embedded trace store; plus the demo endpoint's
Responses and Anthropic wire formats through the real SDKs, and ``otel-genai traces show``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import anthropic
import openai
import pytest

import otel_genai
from otel_genai.cli import main as cli_main
from otel_genai.demo import fixture, weather
from otel_genai.demo.endpoint import serve_unless_live
from otel_genai.demo.run import instrument_command
from otel_genai.demo.server import LoopbackServer

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
AGENT = "invoke_agent run_tool_agent"
TOOL = "execute_tool get_weather"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "ANTHROPIC_", "OPEN_METEO"))}
    env.update(extra)
    return env


def run_example(name: str, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=clean_env(OTEL_GENAI_STORE_PATH=str(tmp_path / "traces.db"), **env),
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )


def usage_sum(spans) -> dict:
    total: Counter = Counter()
    for span in spans:
        total.update(span.get_attribute("mlflow.chat.tokenUsage"))
        reasoning = span.attributes.get("gen_ai.usage.reasoning.output_tokens")
        if reasoning is not None:  # counted in the trace total too (MLflow's usage JSON has no key for it)
            total["reasoning_output_tokens"] += reasoning
    return dict(total)


def assert_agent_trace(trace, llm_name: str, tool_arguments: dict, tool_result: str) -> None:
    """agent root; LLM, tool, LLM children in that order; the trace's usage = its LLM spans' sum."""
    spans = trace.data.spans
    assert len(spans) == 4, [s.name for s in spans]
    root = spans[0]
    assert (root.name, root.kind, root.parent_id) == (AGENT, "INTERNAL", None)
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.agent.name"] == "run_tool_agent"
    assert root.attributes["mlflow.spanType"] == "AGENT"
    assert "mlflow.chat.tokenUsage" not in root.attributes
    children = [s for s in spans if s.parent_id == root.span_id]
    assert [s.name for s in children] == [llm_name, TOOL, llm_name]
    first, tool, second = children
    assert first.kind == second.kind == "CLIENT"
    assert first.end_time_ns <= tool.start_time_ns and tool.end_time_ns <= second.start_time_ns
    assert tool.kind == "INTERNAL" and tool.attributes["mlflow.spanType"] == "TOOL"
    assert tool.attributes["gen_ai.tool.name"] == "get_weather"
    assert tool.attributes["gen_ai.agent.name"] == "run_tool_agent"
    assert tool.get_attribute("gen_ai.tool.call.arguments") == tool_arguments
    assert tool.attributes["gen_ai.tool.call.result"] == tool_result
    assert "mlflow.chat.tokenUsage" not in tool.attributes
    assert trace.info.token_usage == usage_sum([first, second])
    assert trace.info.token_usage["total_tokens"] > 0
    assert trace.info.root_span_name == AGENT


def test_openai_chat_completions_tool_agent(tmp_path):
    done = run_example("openai_tool_agent.py", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Right now it is rainy in Paris."
    (trace,) = otel_genai.search_traces(path=tmp_path / "traces.db")
    assert_agent_trace(trace, "chat gpt-4o-mini", {"city": "Paris"}, "rainy")
    llm = [s for s in trace.data.spans if s.name == "chat gpt-4o-mini"]
    assert [s.attributes["gen_ai.response.finish_reasons"] for s in llm] == [["tool_calls"], ["stop"]]


def test_the_agent_example_under_opentelemetry_instrument_stores_the_same_tree(tmp_path):
    """Zero-code and ``autolog()`` together (the example calls it): one tree, each span stored once."""
    done = subprocess.run(
        instrument_command() + [sys.executable, str(EXAMPLES / "openai_tool_agent.py")],
        env=clean_env(OTEL_GENAI_STORE_PATH=str(tmp_path / "traces.db")),
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (trace,) = otel_genai.search_traces(path=tmp_path / "traces.db")
    assert_agent_trace(trace, "chat gpt-4o-mini", {"city": "Paris"}, "rainy")


def test_openai_responses_tool_agent(tmp_path):
    pytest.importorskip("requests")
    done = run_example("openai_responses_tool_agent.py", tmp_path)
    assert done.returncode == 0, done.stderr
    temperature = weather.CITIES["Paris"][2]
    assert done.stdout.strip() == f"Right now it is {temperature}°C in Paris."
    (trace,) = otel_genai.search_traces(path=tmp_path / "traces.db")
    lat, lon = weather.CITIES["Paris"][:2]
    assert_agent_trace(trace, "chat gpt-4o-mini", {"latitude": lat, "longitude": lon}, str(temperature))
    llm = [s for s in trace.data.spans if s.name == "chat gpt-4o-mini"]
    assert all(s.attributes["openai.api.type"] == "responses" for s in llm)


def test_anthropic_async_agents_are_three_separate_traces(tmp_path):
    done = run_example("anthropic_async_tool_agent.py", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Tokyo: Right now it is sunny in Tokyo.",
        "Paris: Right now it is rainy in Paris.",
        "Sydney: Right now it is unknown in Sydney.",
    ]
    traces = otel_genai.search_traces(path=tmp_path / "traces.db")
    assert len(traces) == 3
    results = {"Tokyo": "sunny", "Paris": "rainy", "Sydney": "unknown"}
    cities = set()
    for trace in traces:
        spans = trace.data.spans
        city = json.loads(spans[0].attributes["mlflow.spanInputs"])["question"].split(" in ")[1].split()[0]
        cities.add(city)
        assert_agent_trace(trace, "chat claude-sonnet-4-5-20250929", {"city": city}, results[city])
        assert {s.trace_id for s in spans} == {trace.info.trace_id}
        ids = {s.span_id for s in spans}
        assert all(s.parent_id in ids for s in spans[1:])  # no span points into another agent's trace
        llm = [s for s in spans if s.name.startswith("chat ")]
        assert all(s.attributes["gen_ai.provider.name"] == "anthropic" for s in llm)
    assert cities == set(results)
    starts = sorted(t.info.start_time_ns for t in traces)
    ends = sorted(t.info.end_time_ns for t in traces)
    assert starts[-1] < ends[0]  # the three ran concurrently


def test_token_usage_program_prints_the_stored_usage(tmp_path):
    done = run_example("openai_token_usage.py", tmp_path)
    assert done.returncode == 0, done.stderr
    (trace,) = otel_genai.search_traces(path=tmp_path / "traces.db")
    assert trace.info.root_span_name == AGENT
    total = trace.info.token_usage
    llm = [s.get_attribute("mlflow.chat.tokenUsage") for s in trace.data.spans if s.name == "chat gpt-4o-mini"]
    assert len(llm) == 2
    expected = ["== Total token usage ==",
                f"  Input tokens: {total['input_tokens']}",
                f"  Output tokens: {total['output_tokens']}",
                f"  Total tokens: {total['total_tokens']}",
                "",
                "== Detailed usage for each LLM call =="]
    for usage in llm:
        expected += ["chat gpt-4o-mini:", f"  Input tokens: {usage['input_tokens']}",
                     f"  Output tokens: {usage['output_tokens']}", f"  Total tokens: {usage['total_tokens']}"]
    assert done.stdout.splitlines() == expected
    assert total["total_tokens"] == sum(u["total_tokens"] for u in llm)
    assert total["input_tokens"] == sum(u["input_tokens"] for u in llm)


@pytest.mark.parametrize("name,key", [
    ("openai_tool_agent.py", "OPENAI_API_KEY"),
    ("openai_responses_tool_agent.py", "OPENAI_API_KEY"),
    ("anthropic_async_tool_agent.py", "ANTHROPIC_API_KEY"),
    ("openai_token_usage.py", "OPENAI_API_KEY"),
    ("langchain_chain.py", "OPENAI_API_KEY"),
    ("langchain_agent.py", "OPENAI_API_KEY"),
])
def test_live_without_an_api_key_is_a_one_line_error(tmp_path, name, key):
    if name == "openai_responses_tool_agent.py":
        pytest.importorskip("requests")
    done = run_example(name, tmp_path, "--live")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith(f"--live needs {key} in the environment")
    assert not (tmp_path / "traces.db").exists()


def test_traces_show_renders_the_agent_tree(tmp_path, capsys):
    done = run_example("openai_tool_agent.py", tmp_path)
    assert done.returncode == 0, done.stderr
    assert cli_main(["traces", "show", "--last", "--store", str(tmp_path / "traces.db")]) == 0
    out = capsys.readouterr().out.splitlines()
    (trace,) = otel_genai.search_traces(path=tmp_path / "traces.db")
    tree = out[2:6]
    assert tree[0].startswith(f"{AGENT}  [AGENT]  ")
    assert tree[1].startswith("  chat gpt-4o-mini  [CHAT_MODEL]  ") and "  tokens: input " in tree[1]
    assert tree[2].startswith(f"  {TOOL}  [TOOL]  ") and tree[2].endswith('  {"city":"Paris"} -> rainy')
    assert tree[3].startswith("  chat gpt-4o-mini  [CHAT_MODEL]  ") and "  tokens: input " in tree[3]
    total = trace.info.token_usage
    assert out[-1].startswith(f"Total tokens: input {total['input_tokens']}, output {total['output_tokens']}, "
                              f"total {total['total_tokens']}")


def test_traces_show_labels_nested_agents_with_their_subtotal(tmp_path, capsys):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from otel_genai.exporters.store import TraceStoreSpanExporter

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(TraceStoreSpanExporter(tmp_path / "t.db")))
    tracer = provider.get_tracer("t")
    usage = json.dumps({"input_tokens": 5, "output_tokens": 2, "total_tokens": 7})
    with tracer.start_as_current_span("invoke_agent planner", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with tracer.start_as_current_span("invoke_agent researcher", attributes={"gen_ai.operation.name": "invoke_agent"}):
            for _ in range(2):
                with tracer.start_as_current_span("chat m", attributes={"gen_ai.operation.name": "chat",
                                                                        "mlflow.chat.tokenUsage": usage}):
                    pass
        with tracer.start_as_current_span("rerank", attributes={"mlflow.spanType": "RERANKER"}):
            pass
        with tracer.start_as_current_span("execute_tool search", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.call.id": "call_9"}):
            pass
    provider.shutdown()
    assert cli_main(["traces", "show", "--last", "--store", str(tmp_path / "t.db")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("invoke_agent planner  [AGENT]") and "subtotal" not in lines[2]
    assert lines[3].startswith("  invoke_agent researcher  [AGENT]")
    assert lines[3].endswith("  subtotal: input 10, output 4, total 14")
    assert lines[4].startswith("    chat m  [CHAT_MODEL]") and lines[4].endswith("tokens: input 5, output 2, total 7")
    assert lines[6].startswith("  rerank  [RERANKER]")
    assert lines[7].startswith("  execute_tool search  [TOOL]") and lines[7].endswith("  call call_9")
    assert lines[-1] == "Total tokens: input 10, output 4, total 14"


# --- the demo endpoint's new APIs, through the real SDKs ----------------------------------------------


@pytest.fixture(scope="module")
def endpoint():
    with LoopbackServer(fixture.respond) as server:
        yield server.base_url


WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "Weather of a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def test_responses_function_call_round_trip_streamed_and_not(endpoint):
    client = openai.OpenAI(base_url=endpoint + "/v1", api_key="k", max_retries=0)
    question = "What's the weather like in Tokyo today?"
    first = client.responses.create(model="gpt-4o-mini", input=question, tools=[WEATHER_TOOL])
    (call,) = first.output
    assert (call.type, call.name, json.loads(call.arguments)) == ("function_call", "get_weather", {"city": "Tokyo"})
    assert first.usage.total_tokens == first.usage.input_tokens + first.usage.output_tokens
    followup = [{"role": "user", "content": question}, call,
                {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}]
    final = client.responses.create(model="gpt-4o-mini", input=followup, tools=[WEATHER_TOOL])
    assert final.output_text == "Right now it is sunny in Tokyo."

    with client.responses.stream(model="gpt-4o-mini", input=question, tools=[WEATHER_TOOL]) as stream:
        events = [e.type for e in stream]
        streamed = stream.get_final_response()
    assert events[0] == "response.created" and events[-1] == "response.completed"
    assert "response.function_call_arguments.delta" in events
    assert streamed.output[0].arguments == call.arguments and streamed.usage == first.usage
    deltas = [e.delta for e in client.responses.create(model="gpt-4o-mini", input=followup, stream=True)
              if e.type == "response.output_text.delta"]
    assert "".join(deltas) == final.output_text


def test_anthropic_tool_use_round_trip_streamed_and_not(endpoint):
    client = anthropic.Anthropic(base_url=endpoint, api_key="k", max_retries=0)
    tool = {"name": "get_weather", "description": "Weather of a city.",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    messages = [{"role": "user", "content": "What's the weather like in Sydney today?"}]
    first = client.messages.create(model="claude-x", max_tokens=100, messages=messages, tools=[tool])
    assert first.stop_reason == "tool_use" and first.model == "claude-x"
    use = first.content[-1]
    assert (use.type, use.name, use.input) == ("tool_use", "get_weather", {"city": "Sydney"})
    with client.messages.stream(model="claude-x", max_tokens=100, messages=messages, tools=[tool]) as stream:
        streamed = stream.get_final_message()
    assert [b.model_dump(exclude={"parsed_output"}) for b in streamed.content] == [b.model_dump() for b in first.content]
    assert streamed.usage.output_tokens == first.usage.output_tokens
    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "windy"}]}]
    final = client.messages.create(model="claude-x", max_tokens=100, messages=messages)
    assert (final.stop_reason, final.content[-1].text) == ("end_turn", "Right now it is windy in Sydney.")
    with client.messages.stream(model="claude-x", max_tokens=100, messages=messages) as stream:
        assert "".join(stream.text_stream) == final.content[-1].text


def test_forecast_and_unknown_paths(endpoint):
    import urllib.error
    import urllib.request

    lat, lon, temperature, _ = weather.CITIES["Tokyo"]
    with urllib.request.urlopen(f"{endpoint}/v1/forecast?latitude={lat}&longitude={lon}&current=temperature_2m") as r:
        assert json.loads(r.read())["current"]["temperature_2m"] == temperature
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{endpoint}/v1/models")
    assert caught.value.code == 404


def test_serve_unless_live_points_the_sdks_at_the_local_endpoint(monkeypatch):
    for key in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "OPEN_METEO_URL"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(SystemExit) as caught:
        serve_unless_live("openai", ["--live"])
    assert caught.value.code == 2
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    assert serve_unless_live("openai", ["--live"]) is None
    assert "OPENAI_BASE_URL" not in os.environ
    base = serve_unless_live("anthropic", [])
    assert base.startswith("http://127.0.0.1:") and serve_unless_live("openai", []) == base
    assert os.environ["OPENAI_BASE_URL"] == base + "/v1" and os.environ["ANTHROPIC_BASE_URL"] == base
    assert os.environ["OPEN_METEO_URL"] == base and os.environ["OPENAI_API_KEY"] == "demo-key"
