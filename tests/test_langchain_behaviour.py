"""LangChainInstrumentor beyond the recorded programs: a model with no SDK instrumentor traced from the
callback alone (usage, metrics, streams, errors), parents across ``asyncio.gather`` and thread pools,
inside the app's own span, SDK calls made inside tools and runnables, several prompts in one
``generate()`` each claimed by its own SDK call, faults of ours swallowed, and instrument / uninstrument.
Real LangChain runnables and model classes, the real ``openai`` client over a loopback server, the real
OTel SDK."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from opentelemetry.trace import SpanKind, StatusCode

from conftest import validate_content
from otel_genai.demo import fixture
from otel_genai.demo.server import Response
from otel_genai.instrumentation.langchain import LangChainInstrumentor
from otel_genai.instrumentation.langchain import models as lc_models
from otel_genai.instrumentation.openai import OpenAIInstrumentor

USAGE = {"input_tokens": 30, "output_tokens": 7, "total_tokens": 37,
         "input_token_details": {"cache_read": 10}, "output_token_details": {"reasoning": 2}}
ANSWER = "Spans all the way down."
JSON = [("Content-Type", "application/json")]


def fake_model(*texts: str, usage: dict | None = USAGE) -> GenericFakeChatModel:
    """LangChain's own fake chat model (no SDK under it) answering ``texts`` in turn."""
    metadata = {"model_name": "fake-1", "finish_reason": "stop"}
    messages = [AIMessage(t, id=f"resp-{i}", usage_metadata=usage, response_metadata=metadata) for i, t in enumerate(texts)]
    return GenericFakeChatModel(messages=iter(messages))


def chain_of(model) -> object:
    return PromptTemplate.from_template("Tell me about {topic}") | model | StrOutputParser()


def by_name(spans) -> dict:
    return {span.name: span for span in spans}


def chat_body(completion_id: str, text: str = ANSWER, prompt: int = 11, completion: int = 5) -> Response:
    body = fixture.chat_completion(completion_id, {"role": "assistant", "content": text}, "stop", prompt, completion)
    return Response(200, json.dumps(body).encode(), JSON)


# --- a model with no SDK instrumentor ------------------------------------------------------------------
def test_a_model_without_an_sdk_instrumentor_is_traced_from_the_callback(telemetry, instrumentors):
    instrumentors(LangChainInstrumentor, "SPAN_ONLY")
    assert chain_of(fake_model(ANSWER)).invoke({"topic": "tracing"}) == ANSWER
    spans = by_name(telemetry.spans())
    assert set(spans) == {"RunnableSequence", "PromptTemplate", "chat", "StrOutputParser"}
    chat, root = spans["chat"], spans["RunnableSequence"]
    assert chat.kind is SpanKind.CLIENT and chat.parent.span_id == root.context.span_id
    attrs = chat.attributes
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["mlflow.spanType"] == "CHAT_MODEL"
    assert attrs["gen_ai.provider.name"] == "genericfakechatmodel"  # LangChain's ls_provider, as it is
    assert attrs["gen_ai.response.id"] == "resp-0" and attrs["gen_ai.response.model"] == "fake-1"
    assert list(attrs["gen_ai.response.finish_reasons"]) == ["stop"]
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (30, 7)
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 10 and attrs["gen_ai.usage.reasoning.output_tokens"] == 2
    assert json.loads(attrs["mlflow.chat.tokenUsage"]) == {"input_tokens": 30, "output_tokens": 7, "total_tokens": 37,
                                                           "cache_read_input_tokens": 10}
    (message,) = validate_content("gen_ai.input.messages", attrs["gen_ai.input.messages"])
    assert message == {"role": "user", "parts": [{"type": "text", "content": "Tell me about tracing"}]}
    (output,) = validate_content("gen_ai.output.messages", attrs["gen_ai.output.messages"])
    assert output == {"role": "assistant", "parts": [{"type": "text", "content": ANSWER}], "finish_reason": "stop"}
    assert chat.start_time >= root.start_time and chat.end_time <= root.end_time
    (duration,) = telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.count == 1 and duration.attributes["gen_ai.provider.name"] == "genericfakechatmodel"
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in telemetry.metric_points("gen_ai.client.token.usage")}
    assert tokens == {"input": 30, "output": 7}


def test_a_streamed_fake_model_records_its_first_chunk(telemetry, instrumentors):
    instrumentors(LangChainInstrumentor, "NO_CONTENT")
    chunks = list(chain_of(fake_model("one two three")).stream({"topic": "streams"}))
    assert "".join(chunks) == "one two three"
    chat = by_name(telemetry.spans())["chat"]
    assert chat.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert "gen_ai.input.messages" not in chat.attributes and "gen_ai.output.messages" not in chat.attributes
    assert [key for s in telemetry.spans() for key in s.attributes if key in ("mlflow.spanInputs", "mlflow.spanOutputs")] == []


def test_a_streamed_chain_records_its_real_inputs_and_outputs(telemetry, instrumentors):
    instrumentors(LangChainInstrumentor, "SPAN_ONLY")
    assert "".join(chain_of(fake_model("one two three")).stream({"topic": "streams"})) == "one two three"
    spans = by_name(telemetry.spans())
    # a streamed run starts with {"input": ""}: its inputs arrive with its end
    assert json.loads(spans["RunnableSequence"].attributes["mlflow.spanInputs"]) == {"topic": "streams"}
    assert json.loads(spans["RunnableSequence"].attributes["mlflow.spanOutputs"]) == "one two three"
    assert json.loads(spans["StrOutputParser"].attributes["mlflow.spanOutputs"]) == "one two three"
    (first_chunk,) = telemetry.metric_points("gen_ai.client.operation.time_to_first_chunk")
    assert first_chunk.count == 1


def test_a_failing_model_marks_its_span_and_the_chain_and_the_exception_passes_unchanged(telemetry, instrumentors):
    instrumentors(LangChainInstrumentor)
    boom = RuntimeError("model down")

    class Broken(GenericFakeChatModel):
        def _generate(self, *args, **kwargs):
            raise boom

    with pytest.raises(RuntimeError) as caught:
        chain_of(Broken(messages=iter([]))).invoke({"topic": "x"})
    assert caught.value is boom
    spans = by_name(telemetry.spans())
    for name in ("chat", "RunnableSequence"):
        assert spans[name].status.status_code is StatusCode.ERROR
        assert spans[name].attributes["error.type"] == "RuntimeError"
    assert spans["PromptTemplate"].status.status_code is StatusCode.UNSET
    (duration,) = telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "RuntimeError"


def test_a_tool_run_is_an_execute_tool_span_with_its_call_id(telemetry, instrumentors):
    instrumentors(LangChainInstrumentor, "SPAN_ONLY")

    @tool
    def get_weather(city: str) -> str:
        """The weather of a city."""
        return "rainy"

    result = get_weather.invoke({"type": "tool_call", "name": "get_weather", "args": {"city": "Paris"}, "id": "call_7"})
    assert result.content == "rainy"
    (span,) = telemetry.spans()
    assert span.name == "execute_tool get_weather"
    assert span.attributes["gen_ai.tool.call.id"] == "call_7"
    assert span.attributes["gen_ai.tool.description"] == "The weather of a city."
    assert json.loads(span.attributes["gen_ai.tool.call.arguments"]) == {"city": "Paris"}
    assert span.attributes["gen_ai.tool.call.result"] == "rainy"
    assert span.attributes["mlflow.spanType"] == "TOOL"


# --- parents ------------------------------------------------------------------------------------------
def _trees_are_separate(spans, roots: int) -> None:
    traces: dict[int, list] = {}
    for span in spans:
        traces.setdefault(span.context.trace_id, []).append(span)
    assert len(traces) == roots
    for members in traces.values():
        ids = {s.context.span_id for s in members}
        (root,) = [s for s in members if s.parent is None]
        assert root.name == "RunnableSequence"
        assert all(s.parent.span_id in ids for s in members if s is not root)
        assert len(members) == 4


def test_parents_are_right_under_asyncio_gather(telemetry, instrumentors):
    instrumentors(LangChainInstrumentor)
    chains = [chain_of(fake_model(f"answer {i}")) for i in range(5)]

    async def main():
        return await asyncio.gather(*(c.ainvoke({"topic": str(i)}) for i, c in enumerate(chains)))

    assert asyncio.run(main()) == [f"answer {i}" for i in range(5)]
    _trees_are_separate(telemetry.spans(), 5)


def test_parents_are_right_in_a_thread_pool_and_under_batch(telemetry, instrumentors):
    instrumentors(LangChainInstrumentor)
    chains = [chain_of(fake_model(f"answer {i}")) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda c: c.invoke({"topic": "t"}), chains)) == [f"answer {i}" for i in range(4)]
    _trees_are_separate(telemetry.spans(), 4)
    telemetry.exporter.clear()
    batched = chain_of(fake_model("a", "b", "c"))
    assert sorted(batched.batch([{"topic": "1"}, {"topic": "2"}, {"topic": "3"}])) == ["a", "b", "c"]
    _trees_are_separate(telemetry.spans(), 3)


def test_a_chain_inside_the_apps_own_span_nests_under_it(telemetry, instrumentors):
    instrumentors(LangChainInstrumentor)
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as outer:
        chain_of(fake_model(ANSWER)).invoke({"topic": "x"})
    spans = by_name(telemetry.spans())
    assert spans["RunnableSequence"].parent.span_id == outer.get_span_context().span_id
    assert {s.context.trace_id for s in spans.values()} == {outer.get_span_context().trace_id}


# --- the seam with the SDK instrumentors -----------------------------------------------------------
def test_an_sdk_call_inside_a_runnable_or_a_tool_nests_under_its_span(telemetry, instrumentors, canned):
    instrumentors(LangChainInstrumentor)
    instrumentors(OpenAIInstrumentor)
    url = canned.play(chat_body("chatcmpl-in-lambda"), chat_body("chatcmpl-in-tool")) + "/v1"
    client = openai.OpenAI(base_url=url, api_key="k", max_retries=0)

    def ask(_: dict) -> str:
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        return reply.choices[0].message.content

    @tool
    def lookup(query: str) -> str:
        """Look something up with a model."""
        return ask({})

    (RunnableLambda(ask, name="ask") | RunnableLambda(lambda text: lookup.invoke({"query": text}), name="use_tool")).invoke({})
    spans = by_name(telemetry.spans())
    chats = [s for s in telemetry.spans() if s.name == "chat gpt-4o-mini"]
    assert len(chats) == 2
    in_lambda, in_tool = sorted(chats, key=lambda s: s.start_time)
    assert in_lambda.parent.span_id == spans["ask"].context.span_id
    assert in_tool.parent.span_id == spans["execute_tool lookup"].context.span_id
    assert spans["execute_tool lookup"].parent.span_id == spans["use_tool"].context.span_id
    assert {s.attributes["gen_ai.response.id"] for s in chats} == {"chatcmpl-in-lambda", "chatcmpl-in-tool"}


def test_generate_over_several_prompts_gives_each_model_run_its_own_sdk_span(telemetry, instrumentors, canned):
    instrumentors(LangChainInstrumentor)
    instrumentors(OpenAIInstrumentor)
    url = canned.play(chat_body("chatcmpl-first", "first", 11, 3), chat_body("chatcmpl-second", "second", 13, 4)) + "/v1"
    model = ChatOpenAI(model="gpt-4o-mini", base_url=url, api_key="k", max_retries=0)
    result = model.generate([[HumanMessage("one")], [HumanMessage("two")]])
    assert [g[0].text for g in result.generations] == ["first", "second"]
    chats = sorted(telemetry.spans(), key=lambda s: s.start_time)
    assert [s.name for s in chats] == ["chat gpt-4o-mini", "chat gpt-4o-mini"]  # no callback-made duplicate
    assert [s.instrumentation_scope.name for s in chats] == ["otel_genai.instrumentation.openai"] * 2
    assert [s.attributes["gen_ai.response.id"] for s in chats] == ["chatcmpl-first", "chatcmpl-second"]
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in telemetry.metric_points("gen_ai.client.token.usage")}
    assert tokens == {"input": 24, "output": 7}


def test_a_model_run_that_fails_before_its_sdk_call_is_still_one_span(telemetry, instrumentors, canned):
    instrumentors(LangChainInstrumentor)
    instrumentors(OpenAIInstrumentor)
    url = canned.play(Response(429, b'{"error": {"message": "slow down", "type": "requests"}}', JSON)) + "/v1"
    model = ChatOpenAI(model="gpt-4o-mini", base_url=url, api_key="k", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        chain_of(model).invoke({"topic": "x"})
    chats = [s for s in telemetry.spans() if s.name.startswith("chat")]
    assert len(chats) == 1
    assert chats[0].instrumentation_scope.name == "otel_genai.instrumentation.openai"
    assert chats[0].attributes["error.type"] == "openai.RateLimitError"
    (duration,) = telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.count == 1


# --- never break the app; instrument / uninstrument ---------------------------------------------------
def test_a_fault_of_ours_is_swallowed_and_the_result_is_unchanged(telemetry, instrumentors, swallow_faults, monkeypatch):
    instrumentors(LangChainInstrumentor, "SPAN_ONLY")

    def broken(*args, **kwargs):
        raise ValueError("our bug")

    monkeypatch.setattr(lc_models, "response", broken)
    monkeypatch.setattr(lc_models, "input_messages", broken)
    assert chain_of(fake_model(ANSWER)).invoke({"topic": "x"}) == ANSWER
    spans = by_name(telemetry.spans())
    assert set(spans) == {"RunnableSequence", "PromptTemplate", "StrOutputParser"}  # the model run lost, nothing else
    assert all(s.end_time is not None for s in spans.values())


def test_uninstrument_removes_the_handler_and_instrument_twice_adds_one(telemetry, instrumentors):
    from langchain_core.tracers import context as lc_context

    hooks_before = list(lc_context._configure_hooks)
    instrumentor = instrumentors(LangChainInstrumentor)
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider)  # a second time: no second handler
    assert len(lc_context._configure_hooks) == len(hooks_before) + 1
    chain_of(fake_model("a")).invoke({"topic": "x"})
    assert len(telemetry.spans()) == 4
    instrumentor.uninstrument()
    assert lc_context._configure_hooks == hooks_before
    telemetry.exporter.clear()
    assert chain_of(fake_model("b")).invoke({"topic": "x"}) == "b"
    assert telemetry.spans() == []


def test_provider_names_follow_the_model_class():
    assert lc_models.provider(None, {"ls_provider": "openai"}, {}) == "openai"
    assert lc_models.provider(None, {"ls_provider": "azure"}, {}) == "azure.ai.openai"
    assert lc_models.provider(None, {"ls_provider": "google_genai"}, {}) == "gcp.gemini"
    assert lc_models.provider({"id": ["langchain", "chat_models", "anthropic", "ChatAnthropic"]}, {}, {}) == "anthropic"
    assert lc_models.provider(None, None, {"_type": "mistralai-chat"}) == "mistral_ai"
    assert lc_models.provider(None, None, {}) is None


def test_request_parameters_come_from_the_invocation_params():
    attrs = lc_models.request_attributes("chat", None, {"ls_provider": "anthropic", "ls_temperature": 0.2}, {
        "model": "claude-x", "max_tokens": 100, "top_k": 5, "stop": "END", "stream": True, "n": None, "temperature": None})
    assert attrs == {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-x",
                     "gen_ai.request.max_tokens": 100, "gen_ai.request.top_k": 5, "gen_ai.request.temperature": 0.2,
                     "gen_ai.request.stop_sequences": ["END"], "gen_ai.request.stream": True}


def test_streamed_chunks_of_a_real_stream_keep_the_message_id(telemetry, instrumentors):
    """A fake model whose chunks carry the response id and usage on the last chunk (as ChatOpenAI's do)."""
    instrumentors(LangChainInstrumentor)

    class Chunky(GenericFakeChatModel):
        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            from langchain_core.outputs import ChatGenerationChunk

            for piece, last in (("a", False), ("b", True)):
                chunk = AIMessageChunk(piece, id="resp-9", usage_metadata=USAGE if last else None,
                                       response_metadata={"finish_reason": "stop"} if last else {})
                if run_manager:
                    run_manager.on_llm_new_token(piece, chunk=ChatGenerationChunk(message=chunk))
                yield ChatGenerationChunk(message=chunk)

    assert "".join(chunk.content for chunk in Chunky(messages=iter([])).stream("hi")) == "ab"
    (chat,) = telemetry.spans()
    assert chat.attributes["gen_ai.response.id"] == "resp-9"
    assert chat.attributes["gen_ai.usage.output_tokens"] == 7
    assert list(chat.attributes["gen_ai.response.finish_reasons"]) == ["stop"]


def test_a_stream_left_early_ends_the_sdks_one_span_once(telemetry, instrumentors, canned):
    instrumentors(LangChainInstrumentor)
    instrumentors(OpenAIInstrumentor)
    pieces = fixture.split_words(fixture.STREAMED_ANSWER)
    events = fixture.chat_chunks("chatcmpl-stream-left", pieces, 10, include_usage=True)
    url = canned.play(Response(200, events, [("Content-Type", "text/event-stream")])) + "/v1"
    chain = chain_of(ChatOpenAI(model="gpt-4o-mini", base_url=url, api_key="k", max_retries=0, streaming=True))
    stream = chain.stream({"topic": "x"})
    first = next(text for text in stream if text)
    assert fixture.STREAMED_ANSWER.startswith(first) and first != fixture.STREAMED_ANSWER
    stream.close()
    chats = [s for s in telemetry.spans() if s.name.startswith("chat")]
    assert len(chats) == 1 and chats[0].instrumentation_scope.name == "otel_genai.instrumentation.openai"
    assert chats[0].attributes["gen_ai.response.id"] == "chatcmpl-stream-left"
    (duration,) = telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.count == 1
    root = by_name(telemetry.spans())["RunnableSequence"]
    assert chats[0].parent.span_id == root.context.span_id


async def test_astream_of_a_fake_model_in_a_chain_is_one_chat_span_under_the_chain(telemetry, instrumentors):
    instrumentors(LangChainInstrumentor, "SPAN_ONLY")
    chunks = [chunk async for chunk in chain_of(fake_model("one two")).astream({"topic": "x"})]
    assert "".join(chunks) == "one two"
    spans = by_name(telemetry.spans())
    assert spans["chat"].parent.span_id == spans["RunnableSequence"].context.span_id
    (output,) = json.loads(spans["chat"].attributes["gen_ai.output.messages"])
    assert output["parts"] == [{"type": "text", "content": "one two"}]


@pytest.mark.parametrize("sdk", [False, True], ids=["langchain", "langchain+google_genai"])
def test_chat_google_generative_ai_is_one_chat_span_with_or_without_the_sdk_instrumentor(sdk, telemetry, instrumentors):
    from langchain_google_genai import ChatGoogleGenerativeAI

    from otel_genai.demo.server import LoopbackServer
    from otel_genai.instrumentation.google_genai import GoogleGenAIInstrumentor

    instrumentors(LangChainInstrumentor)
    if sdk:
        instrumentors(GoogleGenAIInstrumentor)
    with LoopbackServer(fixture.respond) as server:
        model = ChatGoogleGenerativeAI(model="gemini-2.5-flash", base_url=server.base_url, google_api_key="k", max_retries=0)
        assert chain_of(model).invoke({"topic": "tracing"})
    spans = by_name(telemetry.spans())
    assert set(spans) == {"RunnableSequence", "PromptTemplate", "chat gemini-2.5-flash", "StrOutputParser"}
    chat = spans["chat gemini-2.5-flash"]
    assert chat.parent.span_id == spans["RunnableSequence"].context.span_id
    assert chat.attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert chat.instrumentation_scope.name == f"otel_genai.instrumentation.{'google_genai' if sdk else 'langchain'}"
    assert chat.attributes["gen_ai.usage.input_tokens"] > 0 and chat.attributes["gen_ai.usage.output_tokens"] > 0
    if sdk:
        assert chat.attributes["server.address"] == "127.0.0.1"
    (duration,) = telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.count == 1


def test_a_retriever_run_is_a_retriever_span_with_its_documents_as_outputs(telemetry, instrumentors):
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    class Shelf(BaseRetriever):
        def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
            return [Document("Spans nest.", metadata={"source": "a.md"}), Document("Traces tell.", metadata={"source": "b.md"})]

    instrumentors(LangChainInstrumentor, "SPAN_ONLY")
    assert len(Shelf().invoke("how do spans relate?")) == 2
    (span,) = telemetry.spans()
    assert (span.name, span.attributes["mlflow.spanType"]) == ("Shelf", "RETRIEVER")
    assert json.loads(span.attributes["mlflow.spanInputs"]) == "how do spans relate?"
    assert json.loads(span.attributes["mlflow.spanOutputs"]) == [
        {"page_content": "Spans nest.", "metadata": {"source": "a.md"}},
        {"page_content": "Traces tell.", "metadata": {"source": "b.md"}},
    ]


def test_a_compiled_graph_is_an_agent_span_with_its_nodes_under_it(telemetry, instrumentors):
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        text: str

    instrumentors(LangChainInstrumentor)
    graph = StateGraph(State)
    graph.add_node("draft", lambda state: {"text": state["text"] + " drafted"})
    graph.add_node("review", lambda state: {"text": state["text"] + " reviewed"})
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "review")
    graph.add_edge("review", END)
    app = graph.compile(name="writer")
    assert app.invoke({"text": "memo"}, {"configurable": {"thread_id": "t-1"}}) == {"text": "memo drafted reviewed"}
    spans = telemetry.spans()
    (root,) = [s for s in spans if s.parent is None]
    assert root.name == "invoke_agent writer"
    assert root.attributes["gen_ai.agent.name"] == "writer" and root.attributes["mlflow.spanType"] == "AGENT"
    assert root.attributes["gen_ai.conversation.id"] == "t-1"
    steps = sorted((s for s in spans if s.parent and s.parent.span_id == root.context.span_id), key=lambda s: s.start_time)
    assert [s.name for s in steps] == ["draft", "review"]


def test_what_a_tool_traces_itself_nests_under_its_span_and_the_context_is_restored(telemetry, instrumentors):
    instrumentors(LangChainInstrumentor)
    tracer = telemetry.tracer_provider.get_tracer("app")

    @tool
    def search(query: str) -> str:
        """Search."""
        with tracer.start_as_current_span("http GET /search"):
            return "found"

    async def asearch_body(query: str) -> str:
        with tracer.start_as_current_span("http GET /asearch"):
            return "found"

    from langchain_core.tools import StructuredTool

    asearch = StructuredTool.from_function(coroutine=asearch_body, name="asearch", description="Search, async.")
    before = trace_current()
    assert search.invoke({"query": "q"}) == "found"
    assert asyncio.run(asearch.ainvoke({"query": "q"})) == "found"
    assert trace_current() is before  # nothing of ours left current
    spans = by_name(telemetry.spans())
    assert spans["http GET /search"].parent.span_id == spans["execute_tool search"].context.span_id
    assert spans["http GET /asearch"].parent.span_id == spans["execute_tool asearch"].context.span_id
    with tracer.start_as_current_span("after"):
        pass
    assert by_name(telemetry.spans())["after"].parent is None


def trace_current():
    from opentelemetry import context as otel_context

    return otel_context.get_current()


@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_every_way_of_running_a_chain_gives_the_sdks_one_chat_span(provider, how, telemetry, instrumentors):
    from langchain_anthropic import ChatAnthropic

    from otel_genai.demo.server import LoopbackServer
    from otel_genai.instrumentation.anthropic import AnthropicInstrumentor

    instrumentors(LangChainInstrumentor)
    instrumentors(OpenAIInstrumentor)
    instrumentors(AnthropicInstrumentor)
    with LoopbackServer(fixture.respond) as server:
        if provider == "openai":
            model = ChatOpenAI(model="gpt-4o-mini", base_url=server.base_url + "/v1", api_key="k", max_retries=0,
                               stream_usage=True)
        else:
            model = ChatAnthropic(model="claude-x", base_url=server.base_url, api_key="k", max_retries=0, max_tokens=100)
        chain = chain_of(model)
        value = {"topic": "tracing"}
        if how == "invoke":
            text = chain.invoke(value)
        elif how == "stream":
            text = "".join(chain.stream(value))
        else:
            async def main():
                if how == "ainvoke":
                    return await chain.ainvoke(value)
                return "".join([chunk async for chunk in chain.astream(value)])

            text = asyncio.run(main())
    assert text
    spans = telemetry.spans()
    chats = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(chats) == 1, [(s.name, s.instrumentation_scope.name) for s in spans]
    (chat,) = chats
    assert chat.instrumentation_scope.name == f"otel_genai.instrumentation.{provider}"
    assert chat.parent.span_id == by_name(spans)["RunnableSequence"].context.span_id
    assert chat.attributes["gen_ai.usage.input_tokens"] > 0 and chat.attributes["gen_ai.usage.output_tokens"] > 0
    (duration,) = telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.count == 1


def test_suppressed_instrumentation_traces_nothing(telemetry, instrumentors):
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    instrumentors(LangChainInstrumentor)
    with suppress_instrumentation():
        assert chain_of(fake_model(ANSWER)).invoke({"topic": "x"}) == ANSWER
    assert telemetry.spans() == []
    chain_of(fake_model(ANSWER)).invoke({"topic": "x"})
    assert len(telemetry.spans()) == 4
