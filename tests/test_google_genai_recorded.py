"""Every recorded Gemini exchange (``../shared/recorded/gemini``) replayed through the real
``google-genai`` client, sync and ``client.aio``, from a loopback server: the SDK sends the recorded
request (compared, keys normalised to camel case: the SDK 3.x writes ``mime_type`` where the
recordings have ``mimeType``, which the API accepts both ways), and the span says what the recorded
response says: ids, model, finish reasons, usage, output text and tool calls, and content valid
against the vendored semconv v1.41.1 schemas."""

from __future__ import annotations

import json
import re

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import gemini_support as G
from conftest import validate_content
from otel_genai.instrumentation.google_genai import GoogleGenAIInstrumentor

CASSETTES = G.load_cassettes()
CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions")


@pytest.fixture(scope="module")
def replayer():
    server = G.GeminiReplayer()
    yield server
    server.stop()


@pytest.fixture
def instrumented(instrumentors, monkeypatch):
    for name in G.GEMINI_ENV:
        monkeypatch.delenv(name, raising=False)
    return instrumentors(GoogleGenAIInstrumentor)


def _camel(value):
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _validated(span) -> dict:
    """The span's content attributes, decoded and validated against their schemas."""
    return {key: validate_content(key, span.attributes[key]) for key in CONTENT_KEYS if key in span.attributes}


def _assert_attributes(span, expected: dict) -> None:
    for key, value in expected.items():
        actual = span.attributes.get(key)
        assert (tuple(actual) if isinstance(value, tuple) else actual) == value, (span.name, key, actual)


def _assert_usage_key(span) -> None:
    attrs = span.attributes
    if "gen_ai.usage.input_tokens" in attrs and "gen_ai.usage.output_tokens" in attrs:
        usage = json.loads(attrs["mlflow.chat.tokenUsage"])
        assert usage["input_tokens"] == attrs["gen_ai.usage.input_tokens"]
        assert usage["output_tokens"] == attrs["gen_ai.usage.output_tokens"]
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    else:
        assert "mlflow.chat.tokenUsage" not in attrs or attrs["gen_ai.operation.name"] == "embeddings"


async def _run(call, is_async: bool):
    result = call()
    return await result if is_async else result


async def _drain(stream, is_async: bool) -> list:
    if is_async:
        return [item async for item in stream]
    return list(stream)


def _sent(replayer) -> list:
    return [json.loads(request.body) for request in replayer.requests]


def _assert_generation_span(span, exchange, base_url_port: int) -> None:
    expected = G.expected_generation(exchange)
    assert (span.name, span.kind, span.status.status_code) == (f"chat {exchange.model}", SpanKind.CLIENT, StatusCode.UNSET)
    attrs = span.attributes
    assert attrs["gen_ai.provider.name"] == "gcp.gemini"
    assert (attrs["server.address"], attrs["server.port"]) == ("127.0.0.1", base_url_port)
    assert attrs["gen_ai.request.model"] == exchange.model
    assert attrs.get("gen_ai.request.stream") is (True if exchange.api == "streamGenerateContent" else None)
    _assert_attributes(span, expected["attributes"])
    for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
                "gen_ai.usage.reasoning.output_tokens"):
        assert (key in attrs) == (key in expected["attributes"]), key
    _assert_usage_key(span)
    content = _validated(span)
    messages = content["gen_ai.output.messages"]
    for index, message in enumerate(messages):
        texts = expected["texts"].get(index, {})
        assert "".join(p["content"] for p in message["parts"] if p["type"] == "text") == texts.get("text", "")
        assert "".join(p["content"] for p in message["parts"] if p["type"] == "reasoning") == texts.get("thought", "")
        calls = [(p["name"], p["arguments"]) for p in message["parts"] if p["type"] == "tool_call"]
        assert calls == expected["calls"].get(index, [])
    # the input: every recorded text of the request is in the input messages or system instruction
    recorded_texts = [p["text"] for c in exchange.request_body["contents"] for p in c["parts"] if "text" in p]
    captured = json.dumps(content.get("gen_ai.input.messages")) + json.dumps(content.get("gen_ai.system_instructions"))
    for text in recorded_texts:
        assert json.dumps(text)[1:-1] in captured
    system = exchange.request_body.get("systemInstruction")
    if system:
        assert [p["content"] for p in content["gen_ai.system_instructions"]] == [p["text"] for p in system["parts"]]
    # function declarations by name, built-in tools ({"codeExecution": {}}) by their snake-case type
    declarations = [
        name
        for t in exchange.request_body.get("tools", ())
        for name in ([d["name"] for d in t["functionDeclarations"]] if "functionDeclarations" in t
                     else [re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), k) for k in t])
    ]
    assert [d["name"] for d in content.get("gen_ai.tool.definitions", ())] == declarations


GENERATION = [c for c in CASSETTES if c.api in ("generateContent", "streamGenerateContent") and "automatic" not in c.name]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("cassette", GENERATION, ids=[c.name for c in GENERATION])
async def test_generate_content_replays_with_the_recorded_attributes_usage_and_content(cassette, is_async, replayer, telemetry, instrumented):
    base_url = replayer.play(*cassette.exchanges)
    client = G.client(base_url)
    models = client.aio.models if is_async else client.models
    for exchange in cassette.exchanges:
        kwargs = G.generate_kwargs(exchange.request_body)
        if exchange.api == "streamGenerateContent":
            stream = await _run(lambda: models.generate_content_stream(model=exchange.model, **kwargs), is_async)
            chunks = await _drain(stream, is_async)
            assert chunks and all(type(c).__name__ == "GenerateContentResponse" for c in chunks)
        else:
            result = await _run(lambda: models.generate_content(model=exchange.model, **kwargs), is_async)
            assert result.response_id == exchange.json().get("responseId")
    assert [_camel(b) for b in _sent(replayer)] == [_camel(e.request_body) for e in cassette.exchanges]
    spans = telemetry.spans()
    assert len(spans) == len(cassette.exchanges)
    port = int(base_url.rsplit(":", 1)[1])
    for span, exchange in zip(spans, cassette.exchanges):
        _assert_generation_span(span, exchange, port)


AFC = next(c for c in CASSETTES if "automatic_tool_calling" in c.name)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_automatic_function_calling_replays_as_an_agent_span_over_turns_and_the_tool(is_async, replayer, telemetry, instrumented):
    first, second = AFC.exchanges
    base_url = replayer.play(*AFC.exchanges)
    client = G.client(base_url)
    kwargs = G.generate_kwargs(first.request_body)
    kwargs["config"].tools = [G.get_weather]  # the recorded declaration was made by the SDK from this function
    models = client.aio.models if is_async else client.models
    result = await _run(lambda: models.generate_content(model=first.model, **kwargs), is_async)
    assert result.text == second.json()["candidates"][0]["content"]["parts"][0]["text"]
    sent = _sent(replayer)
    assert [_camel(b["contents"]) for b in sent] == [_camel(e.request_body["contents"]) for e in AFC.exchanges]

    spans = {s.name: s for s in telemetry.spans() if s.name != "chat gemini-2.0-flash"}
    turns = [s for s in telemetry.spans() if s.name == "chat gemini-2.0-flash"]
    agent, tool = spans["invoke_agent"], spans["execute_tool get_weather"]
    assert agent.parent is None and agent.kind is SpanKind.INTERNAL  # an in-process agent (semconv "Invoke agent" span)
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.request.model"] == "gemini-2.0-flash"
    assert agent.attributes["gen_ai.response.id"] == second.json()["responseId"]
    assert not [k for k in agent.attributes if k.startswith("gen_ai.usage.") or k == "mlflow.chat.tokenUsage"]
    assert [d["name"] for d in _validated(agent)["gen_ai.tool.definitions"]] == ["get_weather"]
    port = int(base_url.rsplit(":", 1)[1])
    assert len(turns) == 2
    for turn, exchange in zip(sorted(turns, key=lambda s: s.start_time), AFC.exchanges):
        assert turn.parent.span_id == agent.context.span_id
        _assert_attributes(turn, G.expected_generation(exchange)["attributes"])
        assert turn.attributes["server.port"] == port
        _validated(turn)
    # the second turn's input carries the function call and the SDK's function response
    second_input = _validated(sorted(turns, key=lambda s: s.start_time)[1])["gen_ai.input.messages"]
    assert [p["type"] for m in second_input for p in m["parts"]] == ["text", "tool_call", "tool_call_response"]
    assert tool.parent.span_id == agent.context.span_id and tool.kind is SpanKind.INTERNAL
    assert tool.attributes["gen_ai.tool.type"] == "function"
    assert json.loads(tool.attributes["gen_ai.tool.call.arguments"]) == {"location": "San Francisco"}
    assert json.loads(tool.attributes["gen_ai.tool.call.result"]) == G.get_weather("San Francisco")
    assert "gen_ai.tool.call.id" not in tool.attributes  # the recorded function call has no id


EMBED = [c for c in CASSETTES if c.api == "batchEmbedContents"]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("cassette", EMBED, ids=[c.name for c in EMBED])
async def test_embed_content_replays_as_an_embeddings_span(cassette, is_async, replayer, telemetry, instrumented):
    (exchange,) = cassette.exchanges
    client = G.client(replayer.play(exchange))
    models = client.aio.models if is_async else client.models
    result = await _run(lambda: models.embed_content(model=exchange.model, **G.embed_kwargs(exchange.request_body)), is_async)
    assert len(result.embeddings) == len(exchange.json()["embeddings"])
    assert _sent(replayer) == [exchange.request_body]
    (span,) = telemetry.spans()
    assert (span.name, span.kind) == (f"embeddings {exchange.model}", SpanKind.CLIENT)
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert span.attributes["gen_ai.embeddings.dimension.count"] == len(exchange.json()["embeddings"][0]["values"])
    # the Gemini Developer API reports no token count for embeddings, and the embeddings span has no content
    assert not [k for k in span.attributes if k.startswith("gen_ai.usage.") or k in CONTENT_KEYS]


CACHES = [c for c in CASSETTES if c.api == "cachedContents"]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("cassette", CACHES, ids=[c.name for c in CACHES])
async def test_caches_create_replays_with_the_cached_token_count(cassette, is_async, replayer, telemetry, instrumented):
    (exchange,) = cassette.exchanges
    client = G.client(replayer.play(exchange))
    caches = client.aio.caches if is_async else client.caches
    result = await _run(lambda: caches.create(**G.cache_kwargs(exchange.request_body)), is_async)
    recorded = exchange.json()
    assert result.name == recorded["name"]
    assert _camel(_sent(replayer)) == [_camel(exchange.request_body)]
    (span,) = telemetry.spans()
    assert span.name == f"create_cache {exchange.request_body['model']}"
    tokens = recorded["usageMetadata"]["totalTokenCount"]
    _assert_attributes(span, {
        "gen_ai.operation.name": "create_cache", "gen_ai.response.id": recorded["name"], "gen_ai.response.model": recorded["model"],
        "gen_ai.usage.input_tokens": tokens, "gen_ai.usage.cache_write.input_tokens": tokens,
    })
    content = _validated(span)
    assert content["gen_ai.input.messages"][0]["parts"][0]["content"] == exchange.request_body["contents"][0]["parts"][0]["text"]
    assert content["gen_ai.system_instructions"][0]["content"] == exchange.request_body["systemInstruction"]["parts"][0]["text"]


INTERACTIONS = [c for c in CASSETTES if c.api == "interactions"]
_STATUS = {"completed": "stop", "incomplete": "length", "failed": "error", "requires_action": "tool_call"}


def _expected_interaction(exchange) -> tuple[dict, str]:
    """(attributes, output text) a recorded interaction says: id, model, finish reason, usage."""
    usage, text, interaction = None, "", {}
    if exchange.is_sse:
        for event in exchange.events():
            usage = (event.get("metadata") or {}).get("usage") or usage
            if "interaction" in event:
                interaction = {**interaction, **{k: v for k, v in event["interaction"].items() if v is not None}}
                usage = event["interaction"].get("usage") or usage
            if event.get("event_type") == "interaction.status_update":
                interaction["status"] = event["status"]
            delta = event.get("delta") or {}
            if delta.get("type") == "text":
                text += delta["text"]
    else:
        interaction = exchange.json()
        usage = interaction.get("usage")
        items = interaction.get("steps") or interaction.get("outputs") or ()
        for item in items:
            if item["type"] == "text":
                text += item["text"]
            for content in item.get("content") or () if item["type"] == "model_output" else ():
                text += content.get("text", "")
    attrs = {"gen_ai.response.id": interaction["id"]}
    if interaction.get("model"):
        attrs["gen_ai.response.model"] = interaction["model"]
    if interaction.get("status") in _STATUS:
        attrs["gen_ai.response.finish_reasons"] = (_STATUS[interaction["status"]],)
    if usage:
        attrs["gen_ai.usage.input_tokens"] = usage["total_input_tokens"] + usage.get("total_tool_use_tokens", 0)
        attrs["gen_ai.usage.output_tokens"] = usage["total_output_tokens"] + usage.get("total_thought_tokens", 0)
        attrs["gen_ai.usage.reasoning.output_tokens"] = usage.get("total_thought_tokens", 0)
        assert attrs["gen_ai.usage.input_tokens"] + attrs["gen_ai.usage.output_tokens"] == usage["total_tokens"]
    return attrs, text


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("cassette", INTERACTIONS, ids=[c.name for c in INTERACTIONS])
async def test_interactions_create_replays_with_the_recorded_attributes_and_usage(cassette, is_async, replayer, telemetry, instrumented):
    (exchange,) = cassette.exchanges
    body = exchange.request_body
    client = G.client(replayer.play(exchange))
    interactions = client.aio.interactions if is_async else client.interactions
    result = await _run(lambda: interactions.create(**body), is_async)
    if body.get("stream"):
        events = await _drain(result, is_async)
        assert events
    else:
        assert result.id == exchange.json()["id"]
    (sent,) = _sent(replayer)
    if isinstance(body["input"], list) and sent["input"] != body["input"]:
        # recorded with an older SDK: content items at the top level; the SDK now wraps them in one user turn
        assert sent["input"] == [{"type": "user_input", "content": body["input"]}]
        sent = {**sent, "input": body["input"]}
    assert sent == body
    (span,) = telemetry.spans()
    expected, text = _expected_interaction(exchange)
    if body.get("agent"):
        assert span.name == f"invoke_agent {body['agent']}"
        assert span.attributes["gen_ai.agent.name"] == body["agent"]
    else:
        assert span.name == f"chat {body['model']}"
        assert span.attributes["gen_ai.request.model"] == body["model"]
    assert span.kind is SpanKind.CLIENT and span.status.status_code is StatusCode.UNSET
    assert span.attributes.get("gen_ai.request.stream") is (True if body.get("stream") else None)
    assert span.attributes["gen_ai.request.temperature" if "generation_config" in body else "gen_ai.provider.name"]
    _assert_attributes(span, expected)
    _assert_usage_key(span)
    content = _validated(span)
    if text:
        (message,) = content["gen_ai.output.messages"]
        assert "".join(p["content"] for p in message["parts"] if p["type"] == "text") == text
    assert content["gen_ai.input.messages"][0]["role"] == "user"
