"""``otel_genai.trace``: the decorator (bare and with arguments) and context manager on plain, async,
generator and async-generator functions; agent / tool / plain kinds; content policy; exceptions;
nesting and concurrency; generator early exit; the no-SDK fast path."""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import time

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import otel_genai
from otel_genai import SpanType, tracing
from otel_genai.tracing import current_span, record_tool_calls, set_content_capture

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


@pytest.fixture
def exporter(monkeypatch):
    """A global SDK TracerProvider with an in-memory exporter, for this test only."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)
    monkeypatch.delenv(CAPTURE_ENV, raising=False)
    yield exporter
    set_content_capture(None)


@pytest.fixture
def no_sdk(monkeypatch):
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", None)
    monkeypatch.delenv("OTEL_PYTHON_TRACER_PROVIDER", raising=False)


def by_name(exporter) -> dict:
    return {s.name: s for s in exporter.get_finished_spans()}


def attrs(span) -> dict:
    return dict(span.attributes)


# --- kinds, names, attributes ---------------------------------------------------------------------


def test_bare_decorator_makes_a_plain_chain_span_with_inputs_and_outputs(exporter):
    @otel_genai.trace
    def add(x, y=2):
        """Adds."""
        return x + y

    assert add(1) == 3
    assert add.__name__ == "add" and add.__doc__ == "Adds." and add.__wrapped__(1) == 3
    (span,) = exporter.get_finished_spans()
    assert span.name == "add" and span.kind == SpanKind.INTERNAL
    assert attrs(span) == {"mlflow.spanType": "CHAIN", "mlflow.spanInputs": '{"x":1,"y":2}', "mlflow.spanOutputs": "3"}
    assert span.status.status_code == StatusCode.UNSET


@pytest.mark.parametrize("how", [{"kind": "agent"}, {"span_type": "AGENT"}, {"span_type": SpanType.AGENT}, {"kind": "Agent"}])
def test_agent_kind_and_its_mlflow_aliases(exporter, how):
    @otel_genai.trace(**how)
    def run_tool_agent(question: str):
        return "answer"

    run_tool_agent("What's the weather?")
    (span,) = exporter.get_finished_spans()
    assert span.name == "invoke_agent run_tool_agent" and span.kind == SpanKind.INTERNAL
    a = attrs(span)
    assert a["gen_ai.operation.name"] == "invoke_agent"
    assert a["gen_ai.agent.name"] == "run_tool_agent"
    assert a["mlflow.spanType"] == "AGENT"
    assert json.loads(a["mlflow.spanInputs"]) == {"question": "What's the weather?"}
    assert json.loads(a["mlflow.spanOutputs"]) == "answer"
    assert "gen_ai.provider.name" not in a  # unknown unless given


def test_tool_kind_records_semconv_tool_attributes(exporter):
    @otel_genai.trace(span_type=SpanType.TOOL, description="Weather of a city.")
    def get_weather(city: str, unit: str = "C") -> str:
        return "rainy"

    assert get_weather("Paris") == "rainy"
    (span,) = exporter.get_finished_spans()
    assert span.name == "execute_tool get_weather" and span.kind == SpanKind.INTERNAL
    a = attrs(span)
    assert a["gen_ai.operation.name"] == "execute_tool"
    assert a["gen_ai.tool.name"] == "get_weather"
    assert a["gen_ai.tool.type"] == "function"
    assert a["gen_ai.tool.description"] == "Weather of a city."
    assert a["mlflow.spanType"] == "TOOL"
    assert json.loads(a["gen_ai.tool.call.arguments"]) == {"city": "Paris", "unit": "C"}
    assert a["gen_ai.tool.call.result"] == "rainy"  # a string result is recorded as it is
    assert json.loads(a["mlflow.spanOutputs"]) == "rainy"
    assert "gen_ai.tool.call.id" not in a and "gen_ai.agent.name" not in a


def test_tool_result_that_is_not_a_string_is_json(exporter):
    @otel_genai.trace(kind="tool")
    def forecast(lat: float, lon: float):
        return {"temperature": 14.3, "conditions": ["rain"]}

    forecast(48.8, 2.3)
    (span,) = exporter.get_finished_spans()
    assert json.loads(span.attributes["gen_ai.tool.call.result"]) == {"temperature": 14.3, "conditions": ["rain"]}


def test_names_other_mlflow_types_agent_extras_and_attributes(exporter):
    @otel_genai.trace("fetch_docs", span_type=SpanType.RETRIEVER, attributes={"k": 1, "tags": ["a", "b"], "obj": {"x": 1}})
    def retrieve():
        return []

    @otel_genai.trace(name="planner", kind="agent", description="Plans trips.", provider="openai")
    def plan():
        return None

    retrieve()
    plan()
    spans = by_name(exporter)
    a = attrs(spans["fetch_docs"])
    assert a["mlflow.spanType"] == "RETRIEVER" and "gen_ai.operation.name" not in a
    assert a["k"] == 1 and list(a["tags"]) == ["a", "b"] and json.loads(a["obj"]) == {"x": 1}
    b = attrs(spans["invoke_agent planner"])
    assert (b["gen_ai.agent.name"], b["gen_ai.agent.description"], b["gen_ai.provider.name"]) == ("planner", "Plans trips.", "openai")
    assert json.loads(b["mlflow.spanOutputs"]) is None


def test_kind_and_span_type_must_agree():
    with pytest.raises(TypeError, match="disagree"):
        otel_genai.trace(kind="tool", span_type="AGENT")
    otel_genai.trace(kind="tool", span_type="TOOL")  # same thing twice is fine
    with pytest.raises(TypeError):
        otel_genai.trace("a", name="b")


def test_methods_leave_self_out_of_the_inputs(exporter):
    class Agent:
        @otel_genai.trace(kind="agent")
        def run(self, question):
            return question.upper()

    assert Agent().run("hi") == "HI"
    (span,) = exporter.get_finished_spans()
    assert json.loads(span.attributes["mlflow.spanInputs"]) == {"question": "hi"}


def test_inputs_bind_positional_keyword_default_and_variadic_arguments(exporter):
    @otel_genai.trace
    def simple(city, unit="C", days=1):
        return None

    @otel_genai.trace
    def variadic(first, *rest, flag=False, **options):
        return None

    simple("Paris", days=3)
    simple(city="Tokyo")
    variadic(1, 2, 3, verbose=True)
    inputs = [json.loads(s.attributes["mlflow.spanInputs"]) for s in exporter.get_finished_spans()]
    assert inputs == [
        {"city": "Paris", "unit": "C", "days": 3},
        {"city": "Tokyo", "unit": "C", "days": 1},
        {"first": 1, "rest": [2, 3], "flag": False, "options": {"verbose": True}},
    ]
    with pytest.raises(TypeError):
        simple("Paris", city="Tokyo")  # the call's own error, unchanged


# --- nesting, parenting, the agent's tool calls ---------------------------------------------------


def test_nested_decorators_form_one_tree_and_tools_know_their_agent(exporter):
    tracer = otel_trace.get_tracer("test")

    @otel_genai.trace(kind="tool")
    def get_weather(city):
        with tracer.start_as_current_span("http GET"):  # a span made inside the tool nests under it
            return "rainy"

    @otel_genai.trace
    def summarize(text):
        return text.upper()

    @otel_genai.trace(kind="agent")
    def run_tool_agent(question):
        assert current_span().name == "run_tool_agent"
        with tracer.start_as_current_span("chat gpt-4o-mini"):
            pass
        return summarize(get_weather("Paris"))

    assert run_tool_agent("q") == "RAINY"
    spans = by_name(exporter)
    agent = spans["invoke_agent run_tool_agent"]
    assert agent.parent is None
    for child in ("chat gpt-4o-mini", "execute_tool get_weather", "summarize"):
        assert spans[child].parent.span_id == agent.context.span_id
        assert spans[child].context.trace_id == agent.context.trace_id
    assert spans["http GET"].parent.span_id == spans["execute_tool get_weather"].context.span_id
    assert spans["execute_tool get_weather"].attributes["gen_ai.agent.name"] == "run_tool_agent"
    assert current_span() is None
    assert otel_genai.get_last_active_trace_id() == format(agent.context.trace_id, "032x")


def test_tool_call_ids_come_from_the_agents_recorded_tool_calls(exporter):
    @otel_genai.trace(kind="tool")
    def get_weather(city):
        return "sunny"

    @otel_genai.trace(kind="agent")
    def agent():
        # what an instrumented LLM call reports when the model asks for tools
        record_tool_calls([("call_paris", "get_weather", '{"city": "Paris"}'), ("call_tokyo", "get_weather", {"city": "Tokyo"})])
        get_weather("Tokyo")  # matched by arguments, not order
        get_weather(city="Paris")
        get_weather("Sydney")  # no call left: no id

    agent()
    record_tool_calls([("call_x", "get_weather", "{}")])  # outside an agent: ignored
    tools = [s for s in exporter.get_finished_spans() if s.name == "execute_tool get_weather"]
    assert [s.attributes.get("gen_ai.tool.call.id") for s in tools] == ["call_tokyo", "call_paris", None]


def test_explicit_tool_call_id_and_the_context_manager(exporter):
    with otel_genai.trace(kind="agent", name="weather_agent"):
        with otel_genai.trace("get_weather", kind="tool", tool_call_id="call_1") as span:
            assert current_span() is span
            span.set_inputs({"city": "Paris"})
            span.set_outputs("rainy")
            span.set_attribute("weather.source", "demo")
            span.set_attributes({"weather.cached": False, "weather.raw": {"t": 1}})
            assert len(span.trace_id) == 32 and len(span.span_id) == 16
        with otel_genai.trace("lookup", kind="tool") as later:
            later.set_tool_call_id("call_2")
    spans = by_name(exporter)
    tool = attrs(spans["execute_tool get_weather"])
    assert tool["gen_ai.tool.call.id"] == "call_1"
    assert json.loads(tool["gen_ai.tool.call.arguments"]) == {"city": "Paris"} and tool["gen_ai.tool.call.result"] == "rainy"
    assert tool["weather.source"] == "demo" and tool["weather.cached"] is False and json.loads(tool["weather.raw"]) == {"t": 1}
    assert tool["gen_ai.agent.name"] == "weather_agent"
    assert spans["execute_tool lookup"].attributes["gen_ai.tool.call.id"] == "call_2"
    assert spans["execute_tool get_weather"].parent.span_id == spans["invoke_agent weather_agent"].context.span_id


def test_context_manager_records_and_reraises_exceptions(exporter):
    error = KeyError("city")
    with pytest.raises(KeyError) as caught:
        with otel_genai.trace("step"):
            raise error
    assert caught.value is error
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "KeyError"
    assert [e.name for e in span.events] == ["exception"]


def test_async_context_manager(exporter):
    async def main():
        async with otel_genai.trace("async step", kind="agent") as span:
            await asyncio.sleep(0)
            return span

    asyncio.run(main())
    (span,) = exporter.get_finished_spans()
    assert span.name == "invoke_agent async step"


def test_the_same_spec_object_can_be_entered_nested_and_reused(exporter):
    step = otel_genai.trace("step")
    with step:
        with step:
            pass
    with step:
        pass
    spans = exporter.get_finished_spans()
    assert len(spans) == 3 and spans[0].parent.span_id == spans[1].context.span_id and spans[2].parent is None


# --- async functions and concurrency --------------------------------------------------------------


def test_async_functions_stay_coroutine_functions_and_parent_correctly(exporter):
    @otel_genai.trace(span_type="TOOL")
    async def get_weather(city: str) -> str:
        await asyncio.sleep(0)
        return {"Tokyo": "sunny", "Paris": "rainy"}.get(city, "unknown")

    @otel_genai.trace(span_type="AGENT")
    async def run_tool_agent(city: str):
        await asyncio.sleep(0.01)
        return await get_weather(city)

    assert inspect.iscoroutinefunction(get_weather) and inspect.iscoroutinefunction(run_tool_agent)

    async def main():
        return await asyncio.gather(*(run_tool_agent(c) for c in ("Tokyo", "Paris", "Sydney")))

    assert asyncio.run(main()) == ["sunny", "rainy", "unknown"]
    spans = exporter.get_finished_spans()
    agents = [s for s in spans if s.name == "invoke_agent run_tool_agent"]
    tools = [s for s in spans if s.name == "execute_tool get_weather"]
    assert len(agents) == 3 and len(tools) == 3
    assert len({a.context.trace_id for a in agents}) == 3  # three traces
    assert all(a.parent is None for a in agents)  # no cross-parenting
    by_trace = {a.context.trace_id: a for a in agents}
    for tool in tools:
        agent = by_trace[tool.context.trace_id]
        assert tool.parent.span_id == agent.context.span_id
        assert json.loads(agent.attributes["mlflow.spanInputs"])["city"] in tool.attributes["gen_ai.tool.call.arguments"]


# --- exceptions ---------------------------------------------------------------------------------


class WeatherError(Exception):
    pass


def _assert_failed(span, error_type="test_tracing.WeatherError", message="no data"):
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == message
    assert span.attributes["error.type"] == error_type
    (event,) = span.events
    assert event.name == "exception" and event.attributes["exception.message"] == message


def test_exceptions_are_recorded_and_reraised_unchanged_for_every_function_kind(exporter):
    error = WeatherError("no data")

    @otel_genai.trace(kind="tool")
    def plain():
        raise error

    @otel_genai.trace(kind="tool")
    async def coro():
        raise error

    @otel_genai.trace(kind="tool")
    def gen():
        yield 1
        raise error

    @otel_genai.trace(kind="tool")
    async def agen():
        yield 1
        raise error

    async def drain():
        return [x async for x in agen()]

    for call in (plain, lambda: asyncio.run(coro()), lambda: list(gen()), lambda: asyncio.run(drain())):
        with pytest.raises(WeatherError) as caught:
            call()
        assert caught.value is error
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["execute_tool plain", "execute_tool coro", "execute_tool gen", "execute_tool agen"]
    for span in spans:
        _assert_failed(span)
        assert "gen_ai.tool.call.result" not in span.attributes


def test_an_exception_fails_the_tool_and_its_agent(exporter):
    @otel_genai.trace(kind="tool")
    def get_weather(city):
        raise WeatherError("no data")

    @otel_genai.trace(kind="agent")
    def agent():
        return get_weather("Paris")

    with pytest.raises(WeatherError):
        agent()
    spans = by_name(exporter)
    _assert_failed(spans["execute_tool get_weather"])
    _assert_failed(spans["invoke_agent agent"])


def test_base_exceptions_and_cancellation_end_the_span(exporter):
    @otel_genai.trace
    def interrupted():
        raise KeyboardInterrupt

    @otel_genai.trace(kind="agent")
    async def slow():
        await asyncio.sleep(10)

    async def cancel():
        task = asyncio.ensure_future(slow())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    asyncio.run(cancel())
    spans = by_name(exporter)
    assert spans["interrupted"].attributes["error.type"] == "KeyboardInterrupt"
    assert spans["invoke_agent slow"].attributes["error.type"] == "asyncio.exceptions.CancelledError"
    assert all(s.end_time for s in spans.values())


# --- generators -----------------------------------------------------------------------------------


def test_generator_span_covers_the_iteration_and_records_what_it_yielded(exporter):
    seen = []

    @otel_genai.trace(kind="tool")
    def count(n):
        for i in range(n):
            seen.append(current_span().name)  # ours while the generator's own code runs
            yield i
        return "done"

    @otel_genai.trace
    def consume():
        result = yield from count(3)
        return result

    assert inspect.isgeneratorfunction(count)
    gen = count(3)
    assert exporter.get_finished_spans() == ()  # nothing starts before iteration
    assert next(gen) == 0
    assert current_span() is None  # between items, the consumer's context is untouched
    assert list(gen) == [1, 2]
    assert seen == ["count"] * 3
    (span,) = exporter.get_finished_spans()
    assert json.loads(span.attributes["gen_ai.tool.call.result"]) == [0, 1, 2]

    exporter.clear()
    outer = consume()
    assert list(outer) == [0, 1, 2]
    spans = by_name(exporter)
    assert spans["execute_tool count"].parent.span_id == spans["consume"].context.span_id
    assert json.loads(spans["consume"].attributes["mlflow.spanOutputs"]) == [0, 1, 2]


def test_generator_return_value_send_and_throw_pass_through(exporter):
    @otel_genai.trace
    def echo():
        received = []
        try:
            while len(received) < 2:
                received.append((yield len(received)))
        except ValueError:
            yield "caught"
        return received

    gen = echo()
    assert next(gen) == 0
    assert gen.send("a") == 1
    with pytest.raises(StopIteration) as stop:
        gen.send("b")
    assert stop.value.value == ["a", "b"]

    gen = echo()
    next(gen)
    assert gen.throw(ValueError("x")) == "caught"
    gen.close()
    assert len(exporter.get_finished_spans()) == 2


def test_generator_early_exit_ends_the_span_once_without_error(exporter):
    cleaned = []

    @otel_genai.trace(kind="tool", output_reducer=lambda items: ",".join(map(str, items)))
    def stream():
        try:
            for i in range(100):
                yield i
        finally:
            cleaned.append(current_span().name if current_span() else None)

    for i in stream():
        if i == 2:
            break  # the for loop drops the generator: closed by garbage collection
    gen = stream()
    next(gen)
    gen.close()
    gen.close()  # twice: still one span
    abandoned = stream()
    next(abandoned)
    del abandoned
    gc.collect()

    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    assert cleaned == ["stream"] * 3  # the generator's finally ran with its span current
    for span, result in zip(spans, ["0,1,2", "0", "0"]):
        assert span.status.status_code == StatusCode.UNSET and "error.type" not in span.attributes
        assert span.attributes["gen_ai.tool.call.result"] == result


def test_async_generator_full_run_early_exit_and_athrow(exporter):
    @otel_genai.trace(kind="tool")
    async def ticks(n):
        for i in range(n):
            assert current_span().name == "ticks"
            await asyncio.sleep(0)
            yield i

    assert inspect.isasyncgenfunction(ticks)

    async def main():
        full = [i async for i in ticks(3)]
        async for i in ticks(10):
            if i == 1:
                break
        agen = ticks(10)
        await agen.__anext__()
        await agen.aclose()
        agen = ticks(10)
        await agen.__anext__()
        with pytest.raises(WeatherError):
            await agen.athrow(WeatherError("no data"))
        return full

    async def run():
        result = await main()
        await asyncio.sleep(0)  # let the loop finalize the generator left by `break`
        return result

    assert asyncio.run(run()) == [0, 1, 2]
    spans = exporter.get_finished_spans()
    assert len(spans) == 4
    failed = [s for s in spans if s.status.status_code == StatusCode.ERROR]
    assert len(failed) == 1
    _assert_failed(failed[0])
    ended = sorted(s.attributes["gen_ai.tool.call.result"] for s in spans if s is not failed[0])
    assert ended == sorted(["[0,1,2]", "[0,1]", "[0]"])  # exhausted, break (finalized by the loop), aclose()


# --- content policy -------------------------------------------------------------------------------


class Loud:
    """An argument whose serialization would be visible."""

    touched = 0

    def model_dump(self, **kwargs):
        Loud.touched += 1
        return {"loud": True}

    def __str__(self):
        Loud.touched += 1
        return "loud"


@pytest.mark.parametrize("setting", ["env", "override"])
def test_content_capture_off_records_no_content_and_serializes_nothing(exporter, monkeypatch, setting):
    if setting == "env":
        monkeypatch.setenv(CAPTURE_ENV, "NO_CONTENT")
    else:
        monkeypatch.setenv(CAPTURE_ENV, "SPAN_ONLY")
        set_content_capture("false")
    Loud.touched = 0

    @otel_genai.trace(kind="tool")
    def use(thing):
        return thing

    @otel_genai.trace
    def gen(thing):
        yield thing

    with otel_genai.trace("manual", kind="tool") as span:
        span.set_inputs(Loud())
        span.set_outputs(Loud())
    use(Loud())
    list(gen(Loud()))
    assert Loud.touched == 0
    for span in exporter.get_finished_spans():
        assert not {"mlflow.spanInputs", "mlflow.spanOutputs", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"} & set(span.attributes)
        assert span.attributes["gen_ai.operation.name" if span.name.startswith("execute_tool") else "mlflow.spanType"]


def test_content_capture_default_is_span_only_and_event_only_keeps_spans_clean(exporter, monkeypatch):
    @otel_genai.trace(kind="tool")
    def use(thing):
        return thing

    use(Loud())
    monkeypatch.setenv(CAPTURE_ENV, "EVENT_ONLY")
    use(Loud())
    first, second = exporter.get_finished_spans()
    assert json.loads(first.attributes["gen_ai.tool.call.arguments"]) == {"thing": {"loud": True}}
    assert "gen_ai.tool.call.arguments" not in second.attributes


def test_our_faults_never_reach_the_traced_code(exporter, caplog, swallow_faults):
    loop = []
    loop.append(loop)  # not JSON-serializable

    def bad_reducer(items):
        raise RuntimeError("reducer bug")

    @otel_genai.trace(kind="tool")
    def cyclic(value):
        return value

    @otel_genai.trace(output_reducer=bad_reducer)
    def gen():
        yield 1

    assert cyclic(loop) is loop
    assert list(gen()) == [1]
    spans = by_name(exporter)
    assert "gen_ai.tool.call.arguments" not in spans["execute_tool cyclic"].attributes
    assert spans["gen"].status.status_code == StatusCode.UNSET
    assert "otel-genai: internal error" in caplog.text


# --- no SDK -------------------------------------------------------------------------------------


def test_without_an_sdk_everything_runs_untraced_at_negligible_cost(no_sdk):
    def bare(city):
        return "rainy"

    traced = otel_genai.trace(kind="tool")(bare)

    @otel_genai.trace
    def gen():
        received = yield 1
        yield received

    @otel_genai.trace(kind="agent")
    async def coro():
        return 5

    @otel_genai.trace
    async def agen():
        yield 1

    async def drain():
        return [x async for x in agen()]

    assert traced("Paris") == "rainy"
    g = gen()
    assert next(g) == 1 and g.send("x") == "x"
    assert asyncio.run(coro()) == 5 and asyncio.run(drain()) == [1]
    with otel_genai.trace("step", kind="tool") as span:
        span.set_inputs({"a": 1})
        span.set_outputs(1)
        span.set_attribute("k", "v")
        span.set_tool_call_id("c")
        assert current_span() is None

    n = 20000
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            traced("Paris")
        middle = time.perf_counter()
        for _ in range(n):
            bare("Paris")
        best = min(best, ((middle - start) - (time.perf_counter() - middle)) / n)
    assert best < 5e-6  # measured ~0.2 µs per call on the CI machines


def test_provider_set_after_decoration_is_picked_up(no_sdk, monkeypatch):
    @otel_genai.trace(kind="tool")
    def get_weather(city):
        return "rainy"

    get_weather("Paris")  # no SDK yet
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)
    get_weather("Paris")
    assert [s.name for s in exporter.get_finished_spans()] == ["execute_tool get_weather"]


def test_public_names():
    assert otel_genai.trace is tracing.trace and otel_genai.SpanType is tracing.SpanType
    assert {"trace", "SpanType"} <= set(otel_genai.__all__)
    with pytest.raises(AttributeError):
        otel_genai.no_such_name  # noqa: B018


# --- the tool-call seam: tool_calls.offer, as the instrumentation core calls it ---------------------


def test_offered_tool_calls_give_the_agents_tool_spans_their_ids_by_name(exporter):
    from otel_genai.tracing import tool_calls

    @otel_genai.trace(kind="tool")
    def get_weather(city):
        return "rainy"

    @otel_genai.trace(kind="tool")
    def get_time(city):
        return "noon"

    @otel_genai.trace
    def step():
        return get_weather("Paris")  # inside a plain span of the agent: still the agent's tool

    @otel_genai.trace(kind="agent")
    def agent():
        # (tool_name, call_id) pairs, in the response's order, as the core offers them
        tool_calls.offer([("get_time", "call_time"), ("get_weather", "call_w1"), ("get_weather", "call_w2"), ("", "x"), ("get_weather", "")])
        get_weather("Tokyo")  # the oldest call of that name
        with otel_genai.trace("get_weather", kind="tool", tool_call_id="mine"):
            pass  # an explicit id wins and takes nothing
        step()
        get_time("Paris")
        get_weather("Oslo")  # none left: no id

    agent()
    spans = exporter.get_finished_spans()
    ids = [(s.name, s.attributes.get("gen_ai.tool.call.id")) for s in spans if s.name.startswith("execute_tool")]
    assert ids == [
        ("execute_tool get_weather", "call_w1"),
        ("execute_tool get_weather", "mine"),
        ("execute_tool get_weather", "call_w2"),
        ("execute_tool get_time", "call_time"),
        ("execute_tool get_weather", None),
    ]


def test_offer_tells_calls_of_one_tool_apart_by_their_arguments(exporter):
    from otel_genai.tracing import tool_calls

    @otel_genai.trace(kind="tool")
    def get_weather(city):
        return "rainy"

    with otel_genai.trace(kind="agent", name="a"):
        tool_calls.offer([("get_weather", "call_paris", '{"city": "Paris"}'), ("get_weather", "call_tokyo", {"city": "Tokyo"})])
        get_weather("Tokyo")
        get_weather("Paris")
    ids = [s.attributes.get("gen_ai.tool.call.id") for s in exporter.get_finished_spans() if s.name == "execute_tool get_weather"]
    assert ids == ["call_tokyo", "call_paris"]


def test_offer_outside_an_agent_does_nothing_and_reads_nothing(exporter):
    from otel_genai.tracing import tool_calls

    def never_read():
        raise AssertionError("offer iterated its calls outside an agent")
        yield

    tool_calls.offer(never_read())
    with otel_genai.trace("step"):  # a traced span, but no agent
        tool_calls.offer(never_read())
    with otel_genai.trace("lookup", kind="tool"):
        tool_calls.offer(never_read())
    assert [s.name for s in exporter.get_finished_spans()] == ["step", "execute_tool lookup"]


def test_offer_reaches_the_agent_of_the_given_context_and_keeps_the_newest_calls(exporter):
    from otel_genai.tracing import tool_calls
    from otel_genai.tracing.context import HANDLE_KEY

    @otel_genai.trace(kind="tool")
    def get_weather(city):
        return "rainy"

    with otel_genai.trace(kind="agent", name="a"):
        inference_context = otel_context.get_current()  # what the core's Invocation keeps
    # the response ends later, outside the agent (a stream read after it returned): still its agent's
    tool_calls.offer([("get_weather", f"call_{i}") for i in range(100)], inference_context)
    agent = otel_context.get_value(HANDLE_KEY, inference_context)
    assert len(agent.pending_tool_calls) == tool_calls.MAX_PENDING
    assert agent.pending_tool_calls[0][1] == f"call_{100 - tool_calls.MAX_PENDING}"
    token = otel_context.attach(inference_context)
    try:
        get_weather("Paris")
    finally:
        otel_context.detach(token)
    (tool,) = [s for s in exporter.get_finished_spans() if s.name == "execute_tool get_weather"]
    assert tool.attributes["gen_ai.tool.call.id"] == f"call_{100 - tool_calls.MAX_PENDING}"


def test_offer_swallows_malformed_calls(exporter, caplog, swallow_faults):
    from otel_genai.tracing import tool_calls

    with otel_genai.trace(kind="agent", name="a"):
        tool_calls.offer([("get_weather",)])  # no id: our fault, logged
        tool_calls.offer(None)  # type: ignore[arg-type]
    assert "otel-genai: internal error in tool_calls.offer" in caplog.text
    assert [s.name for s in exporter.get_finished_spans()] == ["invoke_agent a"]


def test_no_agent_check_costs_one_context_lookup(exporter):
    from otel_genai.tracing import tool_calls

    calls = [("get_weather", "call_1")]
    n = 20000
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            tool_calls.offer(calls)
        best = min(best, (time.perf_counter() - start) / n)
    assert best < 2e-6  # measured ~0.2 µs per call
