"""Every LangChain program of ../shared/recorded/langchain that runs on the installed model classes,
rebuilt on LangChain's real classes (``ChatOpenAI``, ``AzureChatOpenAI``, ``OpenAI``, ``ChatAnthropic``,
``OpenAIEmbeddings``, ``create_agent``) pointed with ``base_url`` at a loopback server replaying the
recorded responses. Each runs with LangChain alone instrumented and with the SDK instrumentors too, with
content off and on, and must give:

* the span tree LangChain's runs make (names, parents, ``mlflow.spanType``);
* exactly one inference span per recorded model request, carrying the recorded usage (the trace's
  token total is the sum over the recorded requests), and GenAI metrics recorded once per call;
* with the SDK instrumentors on, that one span is the SDK's (response id, ``server.address``);
* content (inputs, outputs, messages) only when the policy captures it, the messages valid against
  semconv v1.41.1.

The Cohere, Bedrock and TGI recordings are rebuilt in ``tests/test_langchain_recorded_providers.py``;
two are not, because no LangChain class sends what they recorded: ``test_lcel/test_anthropic``
(the legacy Anthropic ``/v1/complete`` API, which ``langchain-anthropic`` 1.x no longer calls) and
``test_chains/test_astream_with_events_with_no_content`` (Cohere API v1 streamed asynchronously,
which ``langchain-cohere`` 0.6 sends through v2 only).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
from langchain.agents import create_agent
from langchain_anthropic import ChatAnthropic
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.output_parsers.openai_functions import JsonOutputFunctionsParser
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnablePassthrough
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_function
from langchain_openai import AzureChatOpenAI, ChatOpenAI, OpenAI, OpenAIEmbeddings
from pydantic import BaseModel, Field

import otel_genai
from conftest import validate_content
from langchain_support import Undecodable, expected, inference_spans, load, tree
from otel_genai.exporters.store import TraceStoreSpanExporter
from otel_genai.instrumentation.anthropic import AnthropicInstrumentor
from otel_genai.instrumentation.langchain import LangChainInstrumentor
from otel_genai.instrumentation.openai import OpenAIInstrumentor

KEY = "test"


# --- the model classes, pointed at the replay ------------------------------------------------------
def chat_openai(url: str, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, **kwargs)


def chat_anthropic(url: str, **kwargs: Any) -> ChatAnthropic:
    return ChatAnthropic(base_url=url, api_key=KEY, max_retries=0, **kwargs)


def openai_llm(url: str, **kwargs: Any) -> OpenAI:
    return OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, **kwargs)


def call(runnable: Any, value: Any, how: str, **config: Any) -> Any:
    """Run ``runnable`` on ``value`` by ``invoke`` / ``ainvoke`` / ``stream`` / ``astream``."""
    config = config or None
    if how == "invoke":
        return runnable.invoke(value, config)
    if how == "ainvoke":
        return run_async(runnable.ainvoke(value, config))
    if how == "stream":
        return list(runnable.stream(value, config))

    async def consume() -> list:
        return [chunk async for chunk in runnable.astream(value, config)]

    return run_async(consume())


_LOOP = asyncio.new_event_loop()


def run_async(coroutine: Any) -> Any:
    """Run ``coroutine`` on the module's one event loop: the LangChain model classes cache their async
    HTTP clients per base URL, and a client must stay on the loop it was made on."""
    return _LOOP.run_until_complete(coroutine)


# --- the expected trees -------------------------------------------------------------------------------
def _type(name: str) -> str:
    for prefix, span_type in (("chat ", "CHAT_MODEL"), ("text_completion ", "LLM"), ("embeddings ", "EMBEDDING"),
                              ("invoke_agent ", "AGENT"), ("execute_tool ", "TOOL")):
        if name.startswith(prefix):
            return span_type
    return "CHAIN"


def node(name: str, *children: tuple, span_type: str | None = None) -> tuple:
    return (name, span_type or _type(name), list(children))


def leaf(name: str) -> tuple:
    return node(name)


def sequence(*names: str, root: str = "RunnableSequence") -> tuple:
    return node(root, *(leaf(n) for n in names))


# --- the programs --------------------------------------------------------------------------------------
PRODUCT = {"product": "colorful socks"}


def lcel_chain(model: Any) -> Any:
    """``PromptTemplate | model | StrOutputParser`` (test_lcel)."""
    return PromptTemplate.from_template("write 10 lines of random text about ${product}") | model | StrOutputParser()


def joke_prompt(system: str = "You are a helpful assistant", human: str = "Tell me a joke about {subject}") -> ChatPromptTemplate:
    return ChatPromptTemplate.from_messages([("system", system), ("human", human)])


class Joke(BaseModel):
    """Joke to tell user."""

    setup: str = Field(description="question to set up a joke")
    punchline: str = Field(description="answer to resolve the joke")


def functions_chain(url: str) -> Any:
    """``ChatPromptTemplate | ChatOpenAI(functions=[Joke]) | JsonOutputFunctionsParser`` (test_simple_lcel)."""
    prompt = joke_prompt("You are helpful assistant", "tell me a short joke")
    model = chat_openai(url, model="gpt-3.5-turbo").bind(functions=[convert_to_openai_function(Joke)])
    return prompt | model | JsonOutputFunctionsParser()


class FoodAnalysis(BaseModel):
    name: str = Field(description="The name of the food item")
    healthy: bool = Field(description="Whether the food is good for you")
    calories: int = Field(description="Estimated calories per serving")
    taste_profile: list[str] = Field(description="List of taste characteristics")


@tool
def food_analysis(name: str, healthy: bool, calories: int, taste_profile: list[str]) -> str:
    """Analyze a food item."""
    return "done"


@tool
def get_weather(location: str) -> str:
    """Get the weather of a location."""
    return "Sunny as always!"


@tool
def get_news(location: str) -> str:
    """Get the news of a location."""
    return "Nothing new."


@tool
def sample_tool(query: str) -> str:
    """A sample tool."""
    return "Tool executed successfully"


TAVILY_ERROR = "HTTPError('401 Client Error: Unauthorized for url: https://api.tavily.com/search')"


@tool("tavily_search_results_json")
def tavily_search(query: str) -> str:
    """A search engine optimized for comprehensive, accurate, and trusted results. Input should be a search query."""
    return TAVILY_ERROR  # what the recorded Tavily search answered (401), as the recorded agent passed it on


def agent_program(url: str) -> Any:
    """The tool-calling agent of test_agents on ``create_agent`` (AgentExecutor's successor): the Hub
    prompt's system message in code, the search tool returning the recorded error."""
    agent = create_agent(chat_openai(url, model="gpt-3.5-turbo", streaming=True), tools=[tavily_search],
                         system_prompt="You are a helpful assistant")
    return agent.invoke({"messages": [HumanMessage("What is OpenLLMetry?")]})


class EmbeddingRetriever(BaseRetriever):
    """A retriever that embeds the query (``OpenAIEmbeddings``) and finds nothing: the recorded RAG
    program's PGVector store was empty (its prompt's context is blank)."""

    embeddings: Any

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        self.embeddings.embed_query(query)
        return []


def retriever_program(url: str) -> Any:
    embeddings = OpenAIEmbeddings(model="text-embedding-ada-002", base_url=url + "/v1", api_key=KEY, max_retries=0,
                                  check_embedding_ctx_length=False)
    retriever = EmbeddingRetriever(embeddings=embeddings)

    def format_docs(docs: list[Document]) -> str:
        return "\n\n".join(doc.page_content for doc in docs)

    prompt = PromptTemplate.from_template(
        "You are an assistant for question-answering tasks.\n\nQuestion: {question}\n\nContext: {context}\n\nAnswer:")
    inputs = {"context": retriever | format_docs, "question": RunnablePassthrough()}
    chain = inputs | prompt | chat_openai(url) | StrOutputParser()
    return chain.invoke("What are autonomous agents?")


def sequential_program(url: str, how: str) -> Any:
    """test_chains' SequentialChain (synopsis, then review) as one LCEL sequence on the completions model."""
    llm = openai_llm(url, temperature=0.7)
    synopsis = PromptTemplate.from_template(
        "You are a playwright. Given the title of play and the era it is set in, it is your job to write a synopsis for "
        "that title.\n\nTitle: {title}\nEra: {era}\nPlaywright: This is a synopsis for the above play:")
    review = PromptTemplate.from_template(
        "You are a play critic from the New York Times. Given the synopsis of play, it is your job to write a review "
        "for that play.\n\nPlay Synopsis:\n{synopsis}\nReview from a New York Times play critic of the above play:")
    chain = synopsis | llm | (lambda text: {"synopsis": text}) | review | llm
    return call(chain.with_config(run_name="SequentialChain"), {"title": "Tragedy at sunset on the beach",
                                                                "era": "Victorian England"}, how)


WEATHER_AND_NEWS = "Hey, what's the weather in San Francisco? Also, any news in town?"
ANTHROPIC_HISTORY = [
    HumanMessage(WEATHER_AND_NEWS),
    AIMessage(content=[
        {"type": "text", "text": "I'll help you with that by checking the weather and news for San Francisco right away.\n\n"
                                 "First, let's check the weather:"},
        {"type": "tool_use", "name": "get_weather", "input": {"location": "San Francisco"},
         "id": "toolu_016q9vtSd8CY2vnZSpEp1j4o"},
    ], tool_calls=[{"name": "get_weather", "args": {"location": "San Francisco"}, "id": "toolu_016q9vtSd8CY2vnZSpEp1j4o"}]),
    ToolMessage("Sunny as always!", tool_call_id="toolu_016q9vtSd8CY2vnZSpEp1j4o"),
]


@dataclass(frozen=True)
class Program:
    """One recorded LangChain program: its cassette, how to run it (``url -> result``), the span
    forest it makes, the spans only an SDK instrumentor adds (an embeddings call has no LangChain run),
    and whether its traces are one per model call (``batch``)."""

    cassette: str
    run: Callable[[str], Any]
    forest: list[tuple]
    sdk_forest: list[tuple] | None = None
    concurrent: bool = False
    providers: tuple[str, ...] = field(default=("openai",))


LCEL = ["PromptTemplate", "chat gpt-4", "StrOutputParser"]
TRACE_PROPAGATION = ["ChatPromptTemplate", "chat facebook/opt-125m"]
LEGACY = ["ChatPromptTemplate", "text_completion facebook/opt-125m"]


def _lcel(how: str, streaming: bool = False, times: int = 1) -> Callable[[str], Any]:
    def run(url: str) -> Any:
        chain = lcel_chain(chat_openai(url, model="gpt-4", temperature=0, streaming=streaming))
        return [call(chain, PRODUCT, how) for _ in range(times)]

    return run


def _propagation(how: str, completions: bool) -> Callable[[str], Any]:
    def run(url: str) -> Any:
        model = (openai_llm(url, model="facebook/opt-125m", max_tokens=20) if completions
                 else chat_openai(url, model="facebook/opt-125m", max_tokens=20))
        return call(joke_prompt("You are a helpful assistant ") | model, {"subject": "OpenTelemetry"}, how)

    return run


def _azure(url: str) -> Any:
    model = AzureChatOpenAI(azure_endpoint=url, azure_deployment="openllmetry-testing", model="openllmetry-testing",
                            api_version="2023-12-01-preview",
                            api_key=KEY, max_retries=0, temperature=0, streaming=True)
    return lcel_chain(model).invoke(PRODUCT)


def _tools(model: Callable[[str], Any], tools: list, messages: Any) -> Callable[[str], Any]:
    return lambda url: model(url).bind_tools(tools).invoke(messages)


def _batch(how: str, questions: list[str]) -> Callable[[str], Any]:
    def run(url: str) -> Any:
        model = chat_openai(url, model="gpt-3.5-turbo", temperature=0)
        inputs = [[HumanMessage(q)] for q in questions]
        config = {"metadata": {"user_id": "u-1", "batch": True}}
        return model.batch(inputs, config) if how == "batch" else run_async(model.abatch(inputs, config))

    return run


AGENT_2 = [node("invoke_agent LangGraph", leaf("chat gpt-3.5-turbo"), leaf("execute_tool tavily_search_results_json"),
                leaf("chat gpt-3.5-turbo"))]
AGENT_3 = [node("invoke_agent LangGraph", leaf("chat gpt-3.5-turbo"), leaf("execute_tool tavily_search_results_json"),
                leaf("chat gpt-3.5-turbo"), leaf("execute_tool tavily_search_results_json"), leaf("chat gpt-3.5-turbo"))]
SEQUENTIAL = [sequence("PromptTemplate", "text_completion gpt-3.5-turbo-instruct", "RunnableLambda", "PromptTemplate",
                       "text_completion gpt-3.5-turbo-instruct", root="SequentialChain")]


def _retriever_forest(sdk: bool) -> list[tuple]:
    retriever = node("EmbeddingRetriever", *([leaf("embeddings text-embedding-ada-002")] if sdk else []), span_type="RETRIEVER")
    parallel = node("RunnableParallel<context,question>", leaf("RunnablePassthrough"),
                    node("RunnableSequence", retriever, leaf("format_docs")))
    return [node("RunnableSequence", parallel, leaf("PromptTemplate"), leaf("chat gpt-3.5-turbo"), leaf("StrOutputParser"))]


PROGRAMS = [
    # test_lcel: PromptTemplate | ChatOpenAI(gpt-4) | StrOutputParser, every way of running it
    Program("test_lcel/test_invoke", _lcel("invoke", streaming=True, times=2), [sequence(*LCEL)] * 2),
    Program("test_lcel/test_langchain_streaming", _lcel("invoke", streaming=True), [sequence(*LCEL)]),
    Program("test_lcel/test_streaming", _lcel("invoke", streaming=True), [sequence(*LCEL)]),
    Program("test_lcel/test_stream", _lcel("stream", streaming=True), [sequence(*LCEL)]),
    Program("test_lcel/test_async_invoke", _lcel("ainvoke", streaming=True), [sequence(*LCEL)]),
    Program("test_lcel/test_async_lcel", _lcel("ainvoke"), [sequence(*LCEL)]),
    Program("test_lcel/test_async_lcel_with_events_with_content", _lcel("ainvoke"), [sequence(*LCEL)]),
    Program("test_lcel/test_azure", _azure, [sequence("PromptTemplate", "chat openllmetry-testing", "StrOutputParser")]),
    Program("test_lcel/test_simple_lcel", lambda url: functions_chain(url).invoke({}),
            [sequence("ChatPromptTemplate", "chat gpt-3.5-turbo", "JsonOutputFunctionsParser")]),
    Program("test_lcel/test_lcel_with_datetime_with_events_with_content",
            lambda url: functions_chain(url).invoke({}, {"run_name": "DateTimeTestChain", "tags": ["datetime"],
                                                         "metadata": {"timestamp": "2025-01-01T00:00:00"}}),
            [sequence("ChatPromptTemplate", "chat gpt-3.5-turbo", "JsonOutputFunctionsParser", root="DateTimeTestChain")]),
    # test_llms
    Program("test_llms/test_openai",
            lambda url: (joke_prompt() | chat_openai(url, model="gpt-3.5-turbo")).invoke({"subject": "OpenTelemetry"}),
            [sequence("ChatPromptTemplate", "chat gpt-3.5-turbo")]),
    Program("test_llms/test_openai_with_events_with_no_content",
            lambda url: (joke_prompt(human="Summarize: {subject}") | chat_openai(url, model="gpt-4o-mini")).invoke(
                {"subject": "OpenTelemetry " * 300}),
            [sequence("ChatPromptTemplate", "chat gpt-4o-mini")]),
    Program("test_llms/test_openai_functions_with_events_with_content", lambda url: functions_chain(url).invoke({}),
            [sequence("ChatPromptTemplate", "chat gpt-3.5-turbo", "JsonOutputFunctionsParser")]),
    Program("test_llms/test_anthropic_with_events_with_content",
            lambda url: (joke_prompt(human="tell me a short joke") | chat_anthropic(url, model="claude-2.1", temperature=0.5))
            .invoke({}), [sequence("ChatPromptTemplate", "chat claude-2.1")], providers=("anthropic",)),
    Program("test_llms/test_anthropic_prompt_caching_usage",
            lambda url: chat_anthropic(url, model="claude-3-5-sonnet-20241022").invoke([
                SystemMessage([{"type": "text", "text": "You are a helpful assistant.", "cache_control": {"type": "ephemeral"}}]),
                HumanMessage("Summarize the cached document.")]),
            [leaf("chat claude-3-5-sonnet-20241022")], providers=("anthropic",)),
    Program("test_llms/test_trace_propagation_with_events_with_content[ChatOpenAI]", _propagation("invoke", False),
            [sequence(*TRACE_PROPAGATION)]),
    Program("test_llms/test_trace_propagation_async_with_events_with_content[ChatOpenAI]", _propagation("ainvoke", False),
            [sequence(*TRACE_PROPAGATION)]),
    Program("test_llms/test_trace_propagation_stream_with_events_with_content[ChatOpenAI]", _propagation("stream", False),
            [sequence(*TRACE_PROPAGATION)]),
    Program("test_llms/test_trace_propagation_stream_async_with_events_with_no_content[ChatOpenAI]",
            _propagation("astream", False), [sequence(*TRACE_PROPAGATION)]),
    *[
        Program(f"test_llms/test_trace_propagation{suffix}", _propagation(how, True), [sequence(*LEGACY)])
        for suffix, how in (
            ("[OpenAI]", "invoke"),
            ("_with_events_with_no_content[VLLMOpenAI]", "invoke"),
            ("_async_with_events_with_no_content[OpenAI]", "ainvoke"),
            ("_async_with_events_with_no_content[VLLMOpenAI]", "ainvoke"),
            ("_stream_with_events_with_content[OpenAI]", "stream"),
            ("_stream_with_events_with_no_content[VLLMOpenAI]", "stream"),
            ("_stream_async_with_events_with_no_content[OpenAI]", "astream"),
            ("_stream_async_with_events_with_no_content[VLLMOpenAI]", "astream"),
        )
    ],
    # test_tool_calls, test_structured_output
    Program("test_tool_calls/test_tool_calls_with_events_with_no_content",
            _tools(lambda url: chat_openai(url, model="gpt-3.5-turbo", temperature=0), [food_analysis],
                   "Analyze the following food item: avocado"), [leaf("chat gpt-3.5-turbo")]),
    Program("test_tool_calls/test_parallel_tool_calls_with_events_with_no_content",
            _tools(lambda url: chat_openai(url, model="gpt-4.1-nano"), [get_weather, get_news], WEATHER_AND_NEWS),
            [leaf("chat gpt-4.1-nano")]),
    Program("test_tool_calls/test_tool_calls_with_history",
            _tools(lambda url: chat_openai(url, model="gpt-4.1-nano", temperature=0), [get_weather], [
                SystemMessage("Be crisp and friendly."), HumanMessage("Hey, what's the weather in San Francisco?"),
                AIMessage("", tool_calls=[{"name": "get_weather", "args": {"location": "San Francisco"}, "id": "tool_123"}]),
                ToolMessage("Sunny as always!", tool_call_id="tool_123"), HumanMessage("What's the weather in London?")]),
            [leaf("chat gpt-4.1-nano")]),
    Program("test_tool_calls/test_tool_message_with_tool_call_id",
            _tools(lambda url: chat_openai(url, model="gpt-4.1-nano", temperature=0), [sample_tool], [
                HumanMessage("Use the tool"),
                AIMessage("", tool_calls=[{"name": "sample_tool", "args": {"query": "test"}, "id": "call_12345"}]),
                ToolMessage("Tool executed successfully", tool_call_id="call_12345")]),
            [leaf("chat gpt-4.1-nano")]),
    Program("test_tool_calls/test_tool_calls_anthropic_text_block_with_events_with_content",
            _tools(lambda url: chat_anthropic(url, model="claude-3-5-haiku-latest"), [get_weather, get_news], WEATHER_AND_NEWS),
            [leaf("chat claude-3-5-haiku-latest")], providers=("anthropic",)),
    Program("test_tool_calls/test_tool_calls_anthropic_text_block_and_history_with_events_with_content",
            _tools(lambda url: chat_anthropic(url, model="claude-3-5-haiku-latest"), [get_weather, get_news], ANTHROPIC_HISTORY),
            [leaf("chat claude-3-5-haiku-latest")], providers=("anthropic",)),
    Program("test_structured_output/test_structured_output",
            lambda url: chat_openai(url, model="gpt-4o-mini", temperature=0).with_structured_output(FoodAnalysis).invoke(
                "Analyze the following food item: avocado"),
            [sequence("chat gpt-4o-mini", "_check_refusal", "RunnableLambda")]),
    # test_batch_metadata: one trace per input
    Program("test_batch_metadata/test_batch_metadata_in_span_attributes", _batch("batch", ["Hello", "How are you?"]),
            [leaf("chat gpt-3.5-turbo")] * 2, concurrent=True),
    Program("test_batch_metadata/test_async_batch_metadata_in_span_attributes",
            _batch("abatch", ["What is AI?", "Explain machine learning"]), [leaf("chat gpt-3.5-turbo")] * 2, concurrent=True),
    # test_chains: the SequentialChain, sync and async
    Program("test_chains/test_sequential_chain", lambda url: sequential_program(url, "invoke"), SEQUENTIAL),
    Program("test_chains/test_asequential_chain", lambda url: sequential_program(url, "ainvoke"), SEQUENTIAL),
    # test_agents: a tool-calling agent, the tool failing
    Program("test_agents/test_agents", agent_program, AGENT_2),
    Program("test_agents/test_agents_with_events_with_no_content", agent_program, AGENT_2),
    Program("test_agents/test_agents_with_events_with_content", agent_program, AGENT_3),
    # test_retriever: a RAG chain; the embeddings call is a span only when the SDK is instrumented
    Program("test_retriever/test_pgvector_retriever", retriever_program, _retriever_forest(False), _retriever_forest(True)),
]

CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.definitions", "gen_ai.system_instructions",
                "mlflow.spanInputs", "mlflow.spanOutputs", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result")
SDK_SCOPES = {"openai": "otel_genai.instrumentation.openai", "anthropic": "otel_genai.instrumentation.anthropic"}


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


@pytest.mark.parametrize("capture", ["NO_CONTENT", "SPAN_ONLY"])
@pytest.mark.parametrize("sdk", [False, True], ids=["langchain", "langchain+sdk"])
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.cassette)
def test_recorded_program_traces_its_tree_with_one_span_per_model_call(program, sdk, capture, telemetry, instrumentors, replayer,
                                                                       tmp_path):
    try:
        interactions = load(program.cassette)
    except Undecodable as missing:
        pytest.skip(f"{program.cassette}: the recorded body needs the {missing} module to decode")
    instrumentors(LangChainInstrumentor, capture)
    if sdk:
        instrumentors(OpenAIInstrumentor, capture)
        instrumentors(AnthropicInstrumentor, capture)
    url = replayer.play(*interactions)
    program.run(url)
    assert replayer.queue == []  # every recorded request was made
    spans = telemetry.spans()

    # the tree LangChain's runs make
    forest = tree(spans)
    want = program.sdk_forest if sdk and program.sdk_forest is not None else program.forest
    assert (sorted(forest) if program.concurrent else forest) == (sorted(want) if program.concurrent else want)
    assert len({span.context.trace_id for span in spans}) == len(want)

    # one inference span per recorded model request, with the recorded usage
    models = [(i, expected(i)) for i in interactions]
    calls = [e for _, e in models if e.operation != "embeddings"]
    inference = inference_spans(spans)
    assert len(inference) == len(calls)
    for span in inference:
        assert span.attributes["gen_ai.operation.name"] in {e.operation for e in calls}
    attrs = [s.attributes for s in inference]
    assert _sum([a.get("gen_ai.usage.input_tokens") for a in attrs]) == _sum([e.input_tokens for e in calls])
    assert _sum([a.get("gen_ai.usage.output_tokens") for a in attrs]) == _sum([e.output_tokens for e in calls])
    assert _sum([a.get("gen_ai.usage.cache_read.input_tokens") for a in attrs]) == _sum([e.cache_read for e in calls])
    assert _sum([a.get("gen_ai.usage.cache_write.input_tokens") for a in attrs]) == _sum([e.cache_write for e in calls])
    usage_spans = [s for s in spans if "gen_ai.usage.input_tokens" in s.attributes or "mlflow.chat.tokenUsage" in s.attributes]
    assert all(s.attributes.get("gen_ai.operation.name") in ("chat", "text_completion", "embeddings") for s in usage_spans)
    if sdk:  # the one span is the SDK's: SDK-level facts inside the LangChain structure
        assert {s.instrumentation_scope.name for s in inference} == {SDK_SCOPES[p] for p in program.providers}
        assert all(a["server.address"] == "127.0.0.1" for a in attrs)
        ids = {e.response_id for e in calls if e.response_id}
        assert {a.get("gen_ai.response.id") for a in attrs if a.get("gen_ai.response.id")} == ids
    else:
        assert {s.instrumentation_scope.name for s in spans} == {"otel_genai.instrumentation.langchain"}
    provider = "azure.ai.openai" if "azure" in program.cassette else program.providers[0]
    assert {span.attributes["gen_ai.provider.name"] for span in inference} == {provider}

    # the trace token total the store reads back (its rule: a span's usage counts unless an ancestor
    # carries usage) is the sum of the recorded usages
    if capture == "SPAN_ONLY":
        store = tmp_path / "traces.db"
        exporter = TraceStoreSpanExporter(store)
        exporter.export(spans)
        exporter.shutdown()
        traces = otel_genai.search_traces(path=store, max_results=100)
        totals = [t.info.token_usage or {} for t in traces]
        traced = [e for _, e in models if sdk or e.operation != "embeddings"]  # an embeddings call is the SDK's span
        assert sum(u.get("input_tokens", 0) for u in totals) == sum(e.input_tokens or 0 for e in traced)
        assert sum(u.get("output_tokens", 0) for u in totals) == sum(e.output_tokens or 0 for e in traced)

    # GenAI metrics: each model call once
    durations = telemetry.metric_points("gen_ai.client.operation.duration")
    assert sum(p.count for p in durations) == len(calls) + (len(models) - len(calls) if sdk else 0)
    tokens = [p for p in telemetry.metric_points("gen_ai.client.token.usage") if p.attributes["gen_ai.token.type"] == "input"]
    assert sum(p.sum for p in tokens) == (_sum([e.input_tokens for _, e in models if sdk or e.operation != "embeddings"]) or 0)

    # content under the policy
    if capture == "NO_CONTENT":
        assert not [key for span in spans for key in CONTENT_KEYS if key in span.attributes]
        return
    for span in inference:
        messages = validate_content("gen_ai.input.messages", span.attributes["gen_ai.input.messages"])
        assert messages and all(m["parts"] or m["role"] == "assistant" for m in messages)
        (output,) = validate_content("gen_ai.output.messages", span.attributes["gen_ai.output.messages"])
        assert output["role"] == "assistant"
        if "gen_ai.tool.definitions" in span.attributes:
            validate_content("gen_ai.tool.definitions", span.attributes["gen_ai.tool.definitions"])
    for span in spans:
        if span.attributes.get("mlflow.spanType") in ("CHAIN", "AGENT", "RETRIEVER", "TOOL"):
            assert "mlflow.spanInputs" in span.attributes and "mlflow.spanOutputs" in span.attributes, span.name
