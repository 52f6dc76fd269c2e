"""The recorded LangChain programs of ../shared/recorded/langchain whose model classes come from
``langchain-cohere`` (``ChatCohere``), ``langchain-aws`` (``ChatBedrock``) and ``langchain-huggingface``
(``HuggingFaceEndpoint``), rebuilt on those real classes over a loopback server replaying the recorded
responses: Cohere's SDK with ``base_url``, boto3's ``bedrock-runtime`` client with ``endpoint_url`` and
fake credentials (SigV4 signs the request; the loopback does not check it), the Hugging Face
``InferenceClient`` with ``endpoint_url``. As in tests/test_langchain_recorded.py, each runs with
LangChain alone instrumented and with the OpenAI and Anthropic instrumentors too (these SDKs have no
instrumentor of ours, so the callback's span is still the only one), with content off and on, and must
give the span tree LangChain's runs make, exactly one inference span per recorded request with the
usage the model class passes on (``langchain_support.expected_provider``), the provider name
(semconv v1.41.1 ``gen_ai.provider.name``: ``cohere``, ``aws.bedrock``; ``huggingface``, a custom value,
see ``models.PROVIDERS``), GenAI metrics once per call, and content only under a capturing policy.

Rebuilt with a difference, and not rebuilt:

* ``test_chains/test_stream_with_events_with_no_content`` was recorded by an older langchain-cohere
  whose ``ChatCohere`` streamed on Cohere's API v1 (``/v1/chat``, NDJSON); langchain-cohere 0.6 streams
  on v1 only when called with ``raw_prompting=True`` (its ``_stream_v1``), which the program here binds.
* ``test_chains/test_astream_with_events_with_no_content`` (the same, ``.astream``): langchain-cohere
  0.6's ``_astream`` has no v1 path, so no installed class sends that request.
* ``test_lcel/test_anthropic``: the legacy ``/v1/complete`` API; ``langchain-anthropic`` 1.x calls
  ``/v1/messages`` only and has no completions class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from langchain_aws import ChatBedrock
from langchain_cohere import ChatCohere
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_huggingface import HuggingFaceEndpoint

import otel_genai
from conftest import validate_content
from langchain_support import PROVIDER_HOSTS, expected_provider, inference_spans, load, tree
from otel_genai.exporters.store import TraceStoreSpanExporter
from otel_genai.instrumentation.anthropic import AnthropicInstrumentor
from otel_genai.instrumentation.langchain import LangChainInstrumentor
from otel_genai.instrumentation.openai import OpenAIInstrumentor
from test_langchain_recorded import CONTENT_KEYS, PRODUCT, _sum, call, leaf, node, sequence

KEY = "test"
COHERE = "command-r-08-2024"
BEDROCK_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


# --- the model classes, pointed at the replay ------------------------------------------------------
def chat_cohere(url: str, model: str = COHERE) -> ChatCohere:
    return ChatCohere(model=model, temperature=0.75, base_url=url, cohere_api_key=KEY, max_retries=0)


def chat_bedrock(url: str) -> ChatBedrock:
    return ChatBedrock(model_id=BEDROCK_MODEL, region_name="us-east-1", endpoint_url=url,
                       aws_access_key_id=KEY, aws_secret_access_key=KEY)


def tgi(url: str) -> HuggingFaceEndpoint:
    # the recorded request's parameters (do_sample false, max_new_tokens 512, temperature 0.8, ...)
    return HuggingFaceEndpoint(endpoint_url=url, max_new_tokens=512, temperature=0.8, top_p=0.95, typical_p=0.95,
                               huggingfacehub_api_token=KEY)


# --- the programs --------------------------------------------------------------------------------------
def socks_chain(model: Any) -> Any:
    """``PromptTemplate | ChatCohere | StrOutputParser`` (test_chains' stream programs)."""
    return PromptTemplate.from_template("write 2 lines of random text about ${product}") | model | StrOutputParser()


def _socks(how: str, v1: bool = False) -> Callable[[str], Any]:
    def run(url: str) -> Any:
        model = chat_cohere(url, "command") if v1 else chat_cohere(url)
        return call(socks_chain(model.bind(raw_prompting=True) if v1 else model), PRODUCT, how)

    return run


SUMMARY = 'Write a concise summary of the following:\n\n\n"{text}"\n\n\nCONCISE SUMMARY:'


def _summarize(cassette: str) -> Callable[[str], Any]:
    """test_documents_chains: ``load_summarize_chain(ChatCohere, chain_type="stuff")`` (the documents
    joined into one prompt, one model call) as the LCEL sequence it stands for; the document is the
    text the recorded request summarized (langchain-classic, which has ``load_summarize_chain``, and
    the recorded text splitter are not installed)."""
    (interaction,) = load(cassette, PROVIDER_HOSTS)
    content = interaction.request_body["messages"][0]["content"]
    text = re.fullmatch(re.escape(SUMMARY).replace(re.escape("{text}"), "(.*)"), content, re.S).group(1)

    def format_docs(docs: list[Document]) -> dict[str, str]:
        return {"text": "\n\n".join(doc.page_content for doc in docs)}

    def run(url: str) -> Any:
        chain = RunnableLambda(format_docs) | PromptTemplate.from_template(SUMMARY) | chat_cohere(url) | StrOutputParser()
        return chain.with_config(run_name="StuffDocumentsChain").invoke([Document(page_content=text)])

    return run


def joke_chain(model: Any) -> Any:
    """``ChatPromptTemplate (system + user) | model``, invoked with "tell me a short joke" (test_lcel's
    Bedrock program, test_llms' custom-LLM program)."""
    prompt = ChatPromptTemplate.from_messages([("system", "You are helpful assistant"), ("user", "{input}")])
    return prompt | model


@dataclass(frozen=True)
class Program:
    """One recorded program: its cassette, how to run it (``url -> result``), its span forest, the
    ``gen_ai.provider.name`` of its model spans, and whether the model class passes the response id on
    (``ChatCohere`` does when not streaming; its streams, ``ChatBedrock`` and ``HuggingFaceEndpoint`` do
    not, so the span has none)."""

    cassette: str
    run: Callable[[str], Any]
    forest: list[tuple]
    provider: str
    response_id: bool = False


SOCKS = [sequence("PromptTemplate", f"chat {COHERE}", "StrOutputParser")]
SUMMARIZE = [sequence("format_docs", "PromptTemplate", f"chat {COHERE}", "StrOutputParser", root="StuffDocumentsChain")]

PROGRAMS = [
    Program("test_chains/test_stream", _socks("stream"), SOCKS, "cohere"),
    Program("test_chains/test_stream_with_events_with_content", _socks("stream"), SOCKS, "cohere"),
    Program("test_chains/test_astream", _socks("astream"), SOCKS, "cohere"),
    Program("test_chains/test_astream_with_events_with_content", _socks("astream"), SOCKS, "cohere"),
    Program("test_chains/test_stream_with_events_with_no_content", _socks("stream", v1=True),
            [sequence("PromptTemplate", "chat command", "StrOutputParser")], "cohere"),
    *[
        Program(f"test_documents_chains/{name}", _summarize(f"test_documents_chains/{name}"), SUMMARIZE, "cohere",
                response_id=True)
        for name in ("test_sequential_chain", "test_sequential_chain_with_events_with_content",
                     "test_sequential_chain_with_events_with_no_content")
    ],
    Program("test_lcel/test_bedrock", lambda url: joke_chain(chat_bedrock(url)).invoke({"input": "tell me a short joke"}),
            [sequence("ChatPromptTemplate", f"chat {BEDROCK_MODEL}")], "aws.bedrock"),
    Program("test_llms/test_custom_llm_with_events_with_no_content",
            lambda url: joke_chain(tgi(url)).invoke({"input": "tell me a short joke"}),
            [node("RunnableSequence", leaf("ChatPromptTemplate"), node("text_completion", span_type="LLM"))], "huggingface"),
]


@pytest.mark.parametrize("capture", ["NO_CONTENT", "SPAN_ONLY"])
@pytest.mark.parametrize("sdk", [False, True], ids=["langchain", "langchain+sdk"])
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.cassette)
def test_recorded_provider_program_traces_its_tree_with_one_span_per_model_call(program, sdk, capture, telemetry,
                                                                                instrumentors, replayer, tmp_path):
    interactions = load(program.cassette, PROVIDER_HOSTS)
    assert interactions
    instrumentors(LangChainInstrumentor, capture)
    if sdk:  # instrumentors of other SDKs change nothing: the callback's span is the only one
        instrumentors(OpenAIInstrumentor, capture)
        instrumentors(AnthropicInstrumentor, capture)
    url = replayer.play(*interactions)
    program.run(url)
    assert replayer.queue == []  # every recorded request was made
    spans = telemetry.spans()

    # the tree LangChain's runs make, one trace
    assert tree(spans) == program.forest
    assert len({span.context.trace_id for span in spans}) == 1
    assert {s.instrumentation_scope.name for s in spans} == {"otel_genai.instrumentation.langchain"}

    # one inference span per recorded request, with the usage the model class passed on
    calls = [expected_provider(i) for i in interactions]
    inference = inference_spans(spans)
    assert len(inference) == len(calls)
    attrs = [s.attributes for s in inference]
    assert [a["gen_ai.operation.name"] for a in attrs] == [e.operation for e in calls]
    assert [a.get("gen_ai.request.model", "") for a in attrs] == [e.model for e in calls]
    assert {a["gen_ai.provider.name"] for a in attrs} == {program.provider}
    assert [a.get("gen_ai.response.id") for a in attrs] == [e.response_id if program.response_id else None for e in calls]
    assert _sum([a.get("gen_ai.usage.input_tokens") for a in attrs]) == _sum([e.input_tokens for e in calls])
    assert _sum([a.get("gen_ai.usage.output_tokens") for a in attrs]) == _sum([e.output_tokens for e in calls])
    assert _sum([a.get("gen_ai.usage.cache_read.input_tokens") for a in attrs]) == _sum([e.cache_read for e in calls])
    assert _sum([a.get("gen_ai.usage.cache_write.input_tokens") for a in attrs]) == _sum([e.cache_write for e in calls])
    usage_spans = [s for s in spans if "gen_ai.usage.input_tokens" in s.attributes or "mlflow.chat.tokenUsage" in s.attributes]
    assert usage_spans == [s for s in inference if calls[0].input_tokens is not None]

    # the trace token total the store reads back is the sum of the recorded usages
    if capture == "SPAN_ONLY":
        store = tmp_path / "traces.db"
        exporter = TraceStoreSpanExporter(store)
        exporter.export(spans)
        exporter.shutdown()
        (trace,) = otel_genai.search_traces(path=store, max_results=100)
        usage = trace.info.token_usage or {}
        assert usage.get("input_tokens", 0) == sum(e.input_tokens or 0 for e in calls)
        assert usage.get("output_tokens", 0) == sum(e.output_tokens or 0 for e in calls)

    # GenAI metrics: each model call once
    durations = telemetry.metric_points("gen_ai.client.operation.duration")
    assert sum(p.count for p in durations) == len(calls)
    tokens = [p for p in telemetry.metric_points("gen_ai.client.token.usage") if p.attributes["gen_ai.token.type"] == "input"]
    assert sum(p.sum for p in tokens) == sum(e.input_tokens or 0 for e in calls)

    # content under the policy
    if capture == "NO_CONTENT":
        assert not [key for span in spans for key in CONTENT_KEYS if key in span.attributes]
        return
    for span in inference:
        messages = validate_content("gen_ai.input.messages", span.attributes["gen_ai.input.messages"])
        assert messages and all(m["parts"] for m in messages)
        (output,) = validate_content("gen_ai.output.messages", span.attributes["gen_ai.output.messages"])
        assert output["role"] == "assistant" and output["parts"]
    for span in spans:
        if span.attributes.get("mlflow.spanType") == "CHAIN":
            assert "mlflow.spanInputs" in span.attributes and "mlflow.spanOutputs" in span.attributes, span.name
