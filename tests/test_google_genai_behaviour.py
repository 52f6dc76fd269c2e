"""What is Gemini's own, on the real ``google-genai`` client over the loopback server: chat sessions
(the history is the input), automatic function calling (``invoke_agent`` > ``chat`` turns and
``execute_tool`` spans, in ``models`` and in chats, sync and async, streamed or not), the request
parameters of ``config`` (model or dict), the content parts (blobs by the blob policy, Files API
and URI references, thoughts), finish reasons, Vertex AI, and the stream proxies' ``with`` /
``aclose`` surface. The generic guarantees are in ``tests/contract`` (``providers/google_genai.py``)."""

from __future__ import annotations

import json
import types as pytypes

import pytest
from google import genai
from google.genai import types
from opentelemetry.trace import SpanKind, StatusCode

import gemini_support as G
from conftest import validate_content
from otel_genai.instrumentation.google_genai import GoogleGenAIInstrumentor

MODEL = "gemini-2.5-flash"
USAGE = {"promptTokenCount": 8, "candidatesTokenCount": 4, "totalTokenCount": 12}
CALL = {"id": "call_paris", "name": "get_weather", "args": {"location": "Paris"}}


@pytest.fixture
def instrument(instrumentors, monkeypatch):
    for name in G.GEMINI_ENV:
        monkeypatch.delenv(name, raising=False)

    def _instrument(capture_content: str = "SPAN_ONLY"):
        return instrumentors(GoogleGenAIInstrumentor, capture_content=capture_content)

    return _instrument


def text(response_id: str, words: str, **kwargs) -> G.Response:
    return G.json_response(G.generation(response_id, [{"text": words}], usage=USAGE, **kwargs))


_LIVE: list = []  # a genai.Client closes its HTTP client when collected: one-line calls keep it here


@pytest.fixture(autouse=True)
def _release_clients():
    yield
    _LIVE.clear()


def client(base_url: str, **kwargs) -> genai.Client:
    options = types.HttpOptions(base_url=base_url, api_version="v1beta", retry_options=types.HttpRetryOptions(attempts=1))
    _LIVE.append(genai.Client(api_key="test", http_options=options, **kwargs))
    return _LIVE[-1]


def content(span, key: str):
    return validate_content(key, span.attributes[key])


def by_name(telemetry) -> dict[str, list]:
    found: dict[str, list] = {}
    for span in sorted(telemetry.spans(), key=lambda s: s.start_time):
        found.setdefault(span.name, []).append(span)
    return found


async def call(value, is_async: bool):
    return await value if is_async else value


# --- chat sessions ------------------------------------------------------------------------------------
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_chat_turn_is_one_chat_span_whose_input_is_the_history(is_async, canned, telemetry, instrument):
    instrument()
    c = client(canned.play(text("r1", "Hello."), text("r2", "Then spans.")))
    chats = c.aio.chats if is_async else c.chats
    chat = chats.create(model=MODEL, config={"system_instruction": "Be brief.", "temperature": 0.2})
    await call(chat.send_message("Hi"), is_async)
    await call(chat.send_message("And then?"), is_async)
    first, second = telemetry.spans()
    assert first.name == second.name == f"chat {MODEL}"
    assert second.attributes["gen_ai.request.temperature"] == 0.2
    assert second.attributes["gen_ai.response.id"] == "r2"
    history = content(second, "gen_ai.input.messages")
    assert [(m["role"], m["parts"][0]["content"]) for m in history] == [("user", "Hi"), ("assistant", "Hello."), ("user", "And then?")]
    assert content(second, "gen_ai.system_instructions") == [{"type": "text", "content": "Be brief."}]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_streamed_chat_turn_is_one_span_ended_with_the_stream(is_async, canned, telemetry, instrument):
    instrument()
    events = [G.generation("rs", [{"text": t}], finish=f, usage=USAGE) for t, f in (("Spans ", None), ("everywhere.", "STOP"))]
    c = client(canned.play(G.sse_response(events)))
    chat = (c.aio.chats if is_async else c.chats).create(model=MODEL)
    if is_async:
        pieces = [chunk.text async for chunk in await chat.send_message_stream("Go")]
    else:
        pieces = [chunk.text for chunk in chat.send_message_stream("Go")]
    assert "".join(pieces) == "Spans everywhere."
    (span,) = telemetry.spans()
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert content(span, "gen_ai.output.messages")[0]["parts"] == [{"type": "text", "content": "Spans everywhere."}]
    history = chat.get_history()  # the SDK recorded the turn as without us: the user's, then each chunk's content
    assert [h.role for h in history] == ["user", "model", "model"]
    assert "".join(p.text for h in history[1:] for p in h.parts) == "Spans everywhere."


# --- automatic function calling -----------------------------------------------------------------------
def get_weather(location: str) -> dict:
    """Current weather for a city."""
    return {"location": location, "sky": "clear"}


def broken_weather(location: str) -> dict:
    """Always fails."""
    raise RuntimeError("weather service down")


def _afc_responses() -> list:
    return [
        G.json_response(G.generation("turn1", [{"functionCall": CALL}], usage={"promptTokenCount": 20, "candidatesTokenCount": 5})),
        text("turn2", "It is clear in Paris."),
    ]


def _assert_agent_trace(telemetry, streamed: bool = False) -> dict[str, list]:
    """The AFC trace: one agent span over two turns and the tool between them (streamed: the SDK runs
    the tool as soon as the first turn's chunk asking for it arrives, before that stream ends)."""
    tool_name = "get_weather"
    spans = by_name(telemetry)
    (agent,) = spans["invoke_agent"]
    turns = spans[f"chat {MODEL}"]
    (tool,) = spans[f"execute_tool {tool_name}"]
    assert len(turns) == 2 and agent.parent is None
    # the loop runs in the app's process: INTERNAL (semconv v1.41.1 "Invoke agent" span); each turn calls the API: CLIENT
    assert agent.kind is SpanKind.INTERNAL and {t.kind for t in turns} == {SpanKind.CLIENT}
    assert {s.parent.span_id for s in turns + [tool]} == {agent.context.span_id}
    assert (turns[0].start_time if streamed else turns[0].end_time) <= tool.start_time and tool.end_time <= turns[1].start_time
    assert [t.attributes["gen_ai.response.id"] for t in turns] == ["turn1", "turn2"]
    assert [t.attributes["gen_ai.usage.input_tokens"] for t in turns] == [20, 8]
    assert agent.attributes["gen_ai.response.id"] == "turn2"
    assert agent.attributes["gen_ai.request.model"] == MODEL
    assert not [k for k in agent.attributes if k.startswith("gen_ai.usage.")]
    assert tool.attributes["gen_ai.tool.call.id"] == "call_paris"
    assert json.loads(tool.attributes["gen_ai.tool.call.arguments"]) == {"location": "Paris"}
    return spans


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_automatic_function_calling_in_a_chat_reads_like_an_agent_trace(is_async, canned, telemetry, instrument):
    instrument()
    c = client(canned.play(*_afc_responses()))
    chat = (c.aio.chats if is_async else c.chats).create(model=MODEL, config={"tools": [get_weather]})
    result = await call(chat.send_message("Weather in Paris?"), is_async)
    assert result.text == "It is clear in Paris."
    spans = _assert_agent_trace(telemetry)
    (tool,) = spans["execute_tool get_weather"]
    assert json.loads(tool.attributes["gen_ai.tool.call.result"]) == {"location": "Paris", "sky": "clear"}
    second_input = content(spans[f"chat {MODEL}"][1], "gen_ai.input.messages")
    assert [p["type"] for m in second_input for p in m["parts"]] == ["text", "tool_call", "tool_call_response"]
    assert second_input[1]["parts"][0]["id"] == "call_paris"
    (agent,) = spans["invoke_agent"]
    assert content(agent, "gen_ai.tool.definitions") == [{"type": "function", "name": "get_weather", "description": "Current weather for a city."}]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_tool_that_raises_fails_its_span_and_the_loop_goes_on(is_async, canned, telemetry, instrument):
    instrument()
    config = types.GenerateContentConfig(tools=[broken_weather])
    call_ = {**CALL, "name": "broken_weather"}
    c = client(canned.play(
        G.json_response(G.generation("turn1", [{"functionCall": call_}], usage={"promptTokenCount": 20, "candidatesTokenCount": 5})),
        text("turn2", "It is clear in Paris."),
    ))
    models = c.aio.models if is_async else c.models
    await call(models.generate_content(model=MODEL, contents="Weather in Paris?", config=config), is_async)
    (tool,) = by_name(telemetry)["execute_tool broken_weather"]
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes["error.type"] == "google.genai.errors.FunctionInvocationError"
    assert "gen_ai.tool.call.result" not in tool.attributes
    (agent,) = by_name(telemetry)["invoke_agent"]
    assert agent.status.status_code is StatusCode.UNSET  # the SDK sent the error to the model and went on


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_automatic_function_calling_in_a_stream(is_async, canned, telemetry, instrument):
    instrument()
    first = G.sse_response([G.generation("turn1", [{"functionCall": CALL}], usage={"promptTokenCount": 20, "candidatesTokenCount": 5})])
    second = G.sse_response([G.generation("turn2", [{"text": "It is clear in Paris."}], usage=USAGE)])
    c = client(canned.play(first, second))
    config = types.GenerateContentConfig(tools=[get_weather])
    if is_async:
        stream = await c.aio.models.generate_content_stream(model=MODEL, contents="Weather?", config=config)
        chunks = [chunk async for chunk in stream]
    else:
        chunks = list(c.models.generate_content_stream(model=MODEL, contents="Weather?", config=config))
    assert chunks[-1].text == "It is clear in Paris."
    spans = _assert_agent_trace(telemetry, streamed=True)
    assert all(s.attributes["gen_ai.request.stream"] is True for s in spans["invoke_agent"] + spans[f"chat {MODEL}"])


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_automatic_function_calling_in_a_streamed_chat_turn(is_async, canned, telemetry, instrument):
    instrument()
    first = G.sse_response([G.generation("turn1", [{"functionCall": CALL}], usage={"promptTokenCount": 20, "candidatesTokenCount": 5})])
    second = G.sse_response([G.generation("turn2", [{"text": "It is clear in Paris."}], usage=USAGE)])
    c = client(canned.play(first, second))
    chat = (c.aio.chats if is_async else c.chats).create(model=MODEL, config={"tools": [get_weather]})
    if is_async:
        chunks = [chunk async for chunk in await chat.send_message_stream("Weather in Paris?")]
    else:
        chunks = list(chat.send_message_stream("Weather in Paris?"))
    assert chunks[-1].text == "It is clear in Paris."
    spans = _assert_agent_trace(telemetry, streamed=True)
    (agent,) = spans["invoke_agent"]
    assert content(agent, "gen_ai.output.messages")[0]["parts"][-1] == {"type": "text", "content": "It is clear in Paris."}


def test_without_automatic_function_calling_a_chat_with_declarations_is_one_span(canned, telemetry, instrument):
    instrument()
    tools = [types.Tool(function_declarations=[types.FunctionDeclaration(name="get_weather", description="Weather")])]
    c = client(canned.play(G.json_response(G.generation("t", [{"functionCall": CALL}], usage=USAGE))))
    disabled = types.GenerateContentConfig(tools=[get_weather], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    c.models.generate_content(model=MODEL, contents="Weather?", config=types.GenerateContentConfig(tools=tools))
    c = client(canned.play(G.json_response(G.generation("t2", [{"functionCall": CALL}], usage=USAGE))))
    c.models.generate_content(model=MODEL, contents="Weather?", config=disabled)
    assert [s.name for s in telemetry.spans()] == [f"chat {MODEL}", f"chat {MODEL}"]
    assert telemetry.spans()[0].attributes["gen_ai.response.finish_reasons"] == ("tool_call",)


# --- request parameters, providers --------------------------------------------------------------------
@pytest.mark.parametrize("as_dict", [False, True], ids=["model", "dict"])
def test_config_parameters_become_request_attributes(as_dict, canned, telemetry, instrument):
    instrument()
    config = {
        "temperature": 0.3, "top_p": 0.9, "top_k": 20, "max_output_tokens": 64, "stop_sequences": ["END"], "seed": 7,
        "candidate_count": 2, "presence_penalty": 0.1, "frequency_penalty": 0.2, "response_mime_type": "application/json",
    }
    client(canned.play(text("p", "{}"))).models.generate_content(
        model=MODEL, contents="JSON please", config=config if as_dict else types.GenerateContentConfig(**config)
    )
    attrs = telemetry.spans()[0].attributes
    assert {k: (tuple(v) if isinstance(v, tuple) else v) for k, v in attrs.items() if k.startswith("gen_ai.request.") or k == "gen_ai.output.type"} == {
        "gen_ai.request.model": MODEL, "gen_ai.request.temperature": 0.3, "gen_ai.request.top_p": 0.9, "gen_ai.request.top_k": 20.0,
        "gen_ai.request.max_tokens": 64, "gen_ai.request.stop_sequences": ("END",), "gen_ai.request.seed": 7,
        "gen_ai.request.choice.count": 2, "gen_ai.request.presence_penalty": 0.1, "gen_ai.request.frequency_penalty": 0.2,
        "gen_ai.output.type": "json",
    }


def test_vertex_ai_client_is_gcp_vertex_ai_at_its_base_url(canned, telemetry, instrument):
    instrument()
    base_url = canned.play(text("v", "Hi from Vertex."))
    vertex = genai.Client(vertexai=True, api_key="test", http_options=types.HttpOptions(base_url=base_url))
    vertex.models.generate_content(model=MODEL, contents="Hi")
    (span,) = telemetry.spans()
    assert span.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert (span.attributes["server.address"], span.attributes["server.port"]) == ("127.0.0.1", int(base_url.rsplit(":", 1)[1]))
    assert canned.requests[-1].path.startswith("/v1beta1/publishers/google/models/") or "models/" in canned.requests[-1].path


def test_the_default_base_url_is_the_gemini_api_host(instrument):
    from otel_genai.instrumentation.google_genai._common import GeminiClients

    api = genai.Client(api_key="test")._api_client
    assert GeminiClients().client_attributes(api) == {
        "gen_ai.provider.name": "gcp.gemini", "server.address": "generativelanguage.googleapis.com", "server.port": 443,
    }


# --- content ------------------------------------------------------------------------------------------
PNG = bytes.fromhex("89504e470d0a1a0a")


@pytest.mark.parametrize("keep_blobs", [False, True], ids=["blob-blanked", "blob-kept"])
def test_input_parts_map_to_semconv_parts_with_blobs_by_the_blob_policy(keep_blobs, canned, telemetry, instrument, monkeypatch):
    if keep_blobs:
        monkeypatch.setenv("OTEL_GENAI_CAPTURE_BLOB_CONTENT", "1")
    instrument()
    contents = [
        types.Content(role="user", parts=[
            types.Part.from_text(text="Compare these."),
            types.Part.from_bytes(data=PNG, mime_type="image/png"),
            types.Part.from_uri(file_uri="https://generativelanguage.googleapis.com/v1beta/files/abc", mime_type="application/pdf"),
            types.Part.from_uri(file_uri="gs://bucket/cat.jpg", mime_type="image/jpeg"),
        ]),
    ]
    thought = {"text": "Looking closely.", "thought": True}
    body = G.generation("c", [thought, {"text": "They differ."}], usage={**USAGE, "thoughtsTokenCount": 3})
    client(canned.play(G.json_response(body))).models.generate_content(model=MODEL, contents=contents)
    span = telemetry.spans()[0]
    (message,) = content(span, "gen_ai.input.messages")
    import base64

    assert message["parts"] == [
        {"type": "text", "content": "Compare these."},
        {"type": "blob", "modality": "image", "mime_type": "image/png", "content": base64.b64encode(PNG).decode() if keep_blobs else ""},
        {"type": "file", "modality": "application", "file_id": "https://generativelanguage.googleapis.com/v1beta/files/abc", "mime_type": "application/pdf"},
        {"type": "uri", "modality": "image", "uri": "gs://bucket/cat.jpg", "mime_type": "image/jpeg"},
    ]
    (output,) = content(span, "gen_ai.output.messages")
    assert output["parts"] == [{"type": "reasoning", "content": "Looking closely."}, {"type": "text", "content": "They differ."}]
    assert span.attributes["gen_ai.usage.output_tokens"] == 7 and span.attributes["gen_ai.usage.reasoning.output_tokens"] == 3


def test_no_content_by_default(canned, telemetry, instrumentors, monkeypatch):
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        client(canned.play(text("n", "Secret."))).models.generate_content(model=MODEL, contents="Secret?")
    finally:
        instrumentor.uninstrument()
    attrs = telemetry.spans()[0].attributes
    assert attrs["gen_ai.response.id"] == "n"
    assert not [k for k in attrs if k in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")]


@pytest.mark.parametrize(
    "finish, expected", [("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("MALFORMED_FUNCTION_CALL", "error"), ("LANGUAGE", "LANGUAGE")]
)
def test_finish_reasons_map_to_semconv_values_or_stay_as_sent(finish, expected, canned, telemetry, instrument):
    instrument()
    client(canned.play(text("f", "Cut", finish=finish))).models.generate_content(model=MODEL, contents="Go")
    span = telemetry.spans()[0]
    assert span.attributes["gen_ai.response.finish_reasons"] == (expected,)
    assert content(span, "gen_ai.output.messages")[0]["finish_reason"] == expected


def test_a_blocked_prompt_finishes_with_content_filter(canned, telemetry, instrument):
    instrument()
    body = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}, "responseId": "b"}
    client(canned.play(G.json_response(body))).models.generate_content(model=MODEL, contents="Bad")
    attrs = telemetry.spans()[0].attributes
    assert attrs["gen_ai.response.finish_reasons"] == ("content_filter",)
    assert attrs["gen_ai.usage.input_tokens"] == 5 and "gen_ai.usage.output_tokens" not in attrs


# --- the stream proxies' surface ------------------------------------------------------------------------
def _stream_events() -> list[dict]:
    return [G.generation("s", [{"text": t}], finish=f, usage=USAGE) for t, f in (("One ", None), ("two ", None), ("three.", "STOP"))]


def test_a_sync_stream_is_still_a_generator_and_works_in_with(canned, telemetry, instrument):
    instrument()
    stream = client(canned.play(G.sse_response(_stream_events()))).models.generate_content_stream(model=MODEL, contents="Count")
    assert isinstance(stream, pytypes.GeneratorType)
    with stream as entered:
        assert entered is stream
        assert next(entered).text == "One "
    (span,) = telemetry.spans()
    assert span.attributes["gen_ai.response.finish_reasons"] == ("error",)  # left early
    assert span.status.status_code is StatusCode.UNSET


async def test_an_async_stream_is_still_an_async_generator_and_aclose_ends_its_span(canned, telemetry, instrument):
    instrument()
    stream = await client(canned.play(G.sse_response(_stream_events()))).aio.models.generate_content_stream(model=MODEL, contents="Count")
    assert isinstance(stream, pytypes.AsyncGeneratorType)
    assert (await stream.__anext__()).text == "One "
    await stream.aclose()
    await stream.aclose()
    (span,) = telemetry.spans()
    assert content(span, "gen_ai.output.messages")[0]["parts"] == [{"type": "text", "content": "One "}]


def test_uninstrument_restores_the_sdk_and_traces_nothing(canned, telemetry, instrument):
    instrumentor = instrument()
    instrumentor.uninstrument()
    c = client(canned.play(*_afc_responses()))
    result = c.chats.create(model=MODEL, config={"tools": [get_weather]}).send_message("Weather in Paris?")
    assert result.text == "It is clear in Paris."
    assert telemetry.spans() == []


def test_bare_parts_and_an_uploaded_file_are_one_user_message(canned, telemetry, instrument):
    instrument()
    uploaded = types.File(name="files/abc", uri="https://generativelanguage.googleapis.com/v1beta/files/abc", mime_type="application/pdf")
    client(canned.play(text("u", "A summary."))).models.generate_content(model=MODEL, contents=["Summarise this.", uploaded])
    sent = json.loads(canned.requests[-1].body)["contents"]
    assert len(sent) == 1 and sent[0]["role"] == "user"  # the SDK groups them into one user turn too
    (message,) = content(telemetry.spans()[0], "gen_ai.input.messages")
    assert message == {"role": "user", "parts": [
        {"type": "text", "content": "Summarise this."},
        {"type": "file", "modality": "application", "file_id": uploaded.uri, "mime_type": "application/pdf"},
    ]}


def test_a_config_the_sdk_refuses_raises_the_sdks_error_as_without_us(canned, telemetry, instrument):
    bad = {"tools": [get_weather], "automatic_function_calling": {"maximum_remote_calls": "many"}}

    def call():
        client(canned.play(text("x", "unused"))).models.generate_content(model=MODEL, contents="Hi", config=bad)

    with pytest.raises(Exception) as bare:
        call()
    instrument()
    with pytest.raises(Exception) as traced:
        call()
    assert type(traced.value) is type(bare.value) and str(traced.value) == str(bare.value)
    (span,) = telemetry.spans()  # traced as a plain call that failed, not skipped as a fault of ours
    assert span.status.status_code is StatusCode.ERROR and span.name == f"chat {MODEL}"
