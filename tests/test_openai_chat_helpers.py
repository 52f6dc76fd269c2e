"""Every other way to call chat completions: ``parse`` (structured outputs), the
``chat.completions.stream()`` helper, ``with_raw_response`` / ``with_streaming_response`` (sync and
async, streamed and not), and Azure clients. One span per call, with usage however the body is read."""

from __future__ import annotations

import json

import openai
import pydantic
import pytest

from otel_genai.demo import fixture
from otel_genai.demo.server import LoopbackServer, Response

USER = [{"role": "user", "content": "Where is it sunny?"}]


class Weather(pydantic.BaseModel):
    city: str
    temperature_c: int


def structured(request):
    body = json.loads(request.body)
    if body.get("stream"):
        return fixture.respond(request)
    content = json.dumps({"city": "Paris", "temperature_c": 21})
    answer = fixture.chat_completion("chatcmpl-parse", {"role": "assistant", "content": content}, "stop", 9, 11)
    return Response(200, json.dumps(answer).encode(), [("Content-Type", "application/json")])


@pytest.fixture(scope="module")
def endpoint():
    with LoopbackServer(structured) as server:
        yield server.base_url + "/v1"


def client(base_url):
    return openai.OpenAI(api_key="test", base_url=base_url, max_retries=0)


def aclient(base_url):
    return openai.AsyncOpenAI(api_key="test", base_url=base_url, max_retries=0)


def one_span(telemetry):
    spans = telemetry.spans()
    assert [s.name for s in spans] == ["chat gpt-4o-mini"]
    return spans[0]


def assert_usage(span, input_tokens, output_tokens):
    assert span.attributes["gen_ai.usage.input_tokens"] == input_tokens
    assert span.attributes["gen_ai.usage.output_tokens"] == output_tokens
    assert json.loads(span.attributes["mlflow.chat.tokenUsage"])["total_tokens"] == input_tokens + output_tokens


def test_parse_structured_output_is_one_span_with_json_output_type(endpoint, telemetry, instrument):
    instrument()
    completion = client(endpoint).chat.completions.parse(model="gpt-4o-mini", messages=USER, response_format=Weather)
    assert completion.choices[0].message.parsed == Weather(city="Paris", temperature_c=21)
    span = one_span(telemetry)
    assert span.attributes["gen_ai.output.type"] == "json"
    assert_usage(span, 9, 11)


async def test_async_parse_is_one_span(endpoint, telemetry, instrument):
    instrument()
    completion = await aclient(endpoint).chat.completions.parse(model="gpt-4o-mini", messages=USER, response_format=Weather)
    assert completion.choices[0].message.parsed.city == "Paris"
    assert one_span(telemetry).attributes["gen_ai.response.id"] == "chatcmpl-parse"


def test_stream_helper_events_and_final_completion(endpoint, telemetry, instrument):
    instrument()
    with client(endpoint).chat.completions.stream(
        model="gpt-4o-mini", messages=USER, stream_options={"include_usage": True}
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == fixture.STREAMED_ANSWER == final.choices[0].message.content
    span = one_span(telemetry)
    assert_usage(span, final.usage.prompt_tokens, final.usage.completion_tokens)
    assert json.loads(span.attributes["gen_ai.output.messages"])[0]["parts"][0]["content"] == fixture.STREAMED_ANSWER


def test_stream_helper_left_early_ends_span_when_the_with_block_exits(endpoint, telemetry, instrument):
    instrument()
    with client(endpoint).chat.completions.stream(model="gpt-4o-mini", messages=USER) as stream:
        for event in stream:
            if event.type == "content.delta":
                break
        assert telemetry.spans() == []
    span = one_span(telemetry)  # ended by the helper's close(), not left for garbage collection
    assert "gen_ai.usage.input_tokens" not in span.attributes


async def test_async_stream_helper_until_done_records_output(endpoint, telemetry, instrument):
    instrument()
    async with aclient(endpoint).chat.completions.stream(
        model="gpt-4o-mini", messages=USER, stream_options={"include_usage": True}
    ) as stream:
        await stream.until_done()
        final = await stream.get_final_completion()
    span = one_span(telemetry)
    assert_usage(span, final.usage.prompt_tokens, final.usage.completion_tokens)


def test_with_raw_response_parse_and_headers(endpoint, telemetry, instrument):
    instrument()
    raw = client(endpoint).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER)
    assert raw.headers["content-type"] == "application/json"
    span = one_span(telemetry)  # the body was already read: the span ended with its usage
    assert_usage(span, 9, 11)
    assert raw.parse().id == "chatcmpl-parse" == span.attributes["gen_ai.response.id"]


def test_with_raw_response_of_a_stream_records_the_parsed_stream(endpoint, telemetry, instrument):
    instrument()
    raw = client(endpoint).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    stream = raw.parse()
    assert isinstance(stream, openai.Stream) and raw.parse() is stream
    usage = [c.usage for c in stream if c.usage][0]
    assert_usage(one_span(telemetry), usage.prompt_tokens, usage.completion_tokens)


async def test_async_with_raw_response(endpoint, telemetry, instrument):
    instrument()
    raw = await aclient(endpoint).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER)
    assert raw.parse().id == "chatcmpl-parse"
    assert_usage(one_span(telemetry), 9, 11)


@pytest.mark.parametrize("read", ["parse", "json", "text", "iter_lines"])
def test_with_streaming_response_records_usage_however_the_body_is_read(endpoint, telemetry, instrument, read):
    instrument()
    with client(endpoint).chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=USER) as response:
        assert response.headers["content-type"] == "application/json"
        if read == "parse":
            assert response.parse().id == "chatcmpl-parse"
        elif read == "json":
            assert response.json()["id"] == "chatcmpl-parse"
        elif read == "text":
            assert "chatcmpl-parse" in response.text()
        else:
            assert "chatcmpl-parse" in "".join(response.iter_lines())
    span = one_span(telemetry)
    if read == "iter_lines":  # raw bytes the user consumed himself: the span ends at close, without usage
        assert "gen_ai.usage.input_tokens" not in span.attributes
    else:
        assert_usage(span, 9, 11)


async def test_async_with_streaming_response_parse_is_a_coroutine(endpoint, telemetry, instrument):
    instrument()
    async with aclient(endpoint).chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=USER) as response:
        completion = await response.parse()
    assert completion.id == "chatcmpl-parse"
    assert_usage(one_span(telemetry), 9, 11)


def test_with_streaming_response_of_a_stream(endpoint, telemetry, instrument):
    instrument()
    with client(endpoint).chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    ) as response:
        chunks = list(response.parse())
    usage = [c.usage for c in chunks if c.usage][0]
    span = one_span(telemetry)
    assert_usage(span, usage.prompt_tokens, usage.completion_tokens)
    assert span.attributes["gen_ai.request.stream"] is True


def test_azure_client_reports_azure_provider_and_its_endpoint(telemetry, instrument):
    instrument()
    with LoopbackServer(fixture.respond) as server:
        azure = openai.AzureOpenAI(api_key="k", api_version="2024-10-21", azure_endpoint=server.base_url, max_retries=0)
        azure.chat.completions.create(model="gpt-4o-mini", messages=USER)
        port = int(server.base_url.rsplit(":", 1)[1])
    span = one_span(telemetry)
    assert span.attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert (span.attributes["server.address"], span.attributes["server.port"]) == ("127.0.0.1", port)
    assert span.attributes["mlflow.llm.provider"] == "azure.ai.openai"


def test_cached_with_raw_response_stops_tracing_after_uninstrument(endpoint, telemetry, instrument):
    instrumentor = instrument()
    c = client(endpoint)
    raw_create = c.chat.completions.with_raw_response.create  # captures the wrapped create
    raw_create(model="gpt-4o-mini", messages=USER)
    instrumentor.uninstrument()
    raw_create(model="gpt-4o-mini", messages=USER).parse()
    assert len(telemetry.spans()) == 1


def test_reasoning_content_of_openai_compatible_servers_becomes_a_reasoning_part(telemetry, instrument):
    def compat(request):
        if json.loads(request.body).get("stream"):
            chunks = [
                {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "deepseek-r1",
                 "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": piece}, "finish_reason": None}]}
                for piece in ("Think", "ing.")
            ] + [{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "deepseek-r1",
                  "choices": [{"index": 0, "delta": {"content": "Done."}, "finish_reason": "stop"}]}]
            body = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]
            return Response(200, body, [("Content-Type", "text/event-stream")])
        message = {"role": "assistant", "content": "Done.", "reasoning_content": "Thinking."}
        return Response(200, json.dumps(fixture.chat_completion("c0", message, "stop", 3, 4)).encode(),
                        [("Content-Type", "application/json")])

    instrument()
    with LoopbackServer(compat) as server:
        c = client(server.base_url + "/v1")
        c.chat.completions.create(model="deepseek-r1", messages=USER)
        list(c.chat.completions.create(model="deepseek-r1", messages=USER, stream=True))
    for span in telemetry.spans():
        (message,) = json.loads(span.attributes["gen_ai.output.messages"])
        assert message["parts"] == [{"type": "reasoning", "content": "Thinking."}, {"type": "text", "content": "Done."}]
