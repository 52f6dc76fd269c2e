"""OpenAI Embeddings, legacy Completions and Images through the real ``openai`` client.

1. Every recorded interaction on ``/embeddings``, ``/v1/completions`` (exactly; not
   ``/chat/completions``) and ``/images/generations`` (../shared/recorded/openai, minus test_azure),
   replayed from a loopback server, sync and async: one CLIENT span whose attributes and usage match
   the recorded response; content JSON valid against semconv v1.41.1 and equal to what was sent and
   received.
2. Behaviour against a small OpenAI-compatible loopback endpoint defined here: stream early exit,
   ``include_usage`` and multi-choice streams, base64 embeddings, image streams and edits, omitted
   parameters, and no base64 image or embedding vector in any attribute.
"""

from __future__ import annotations

import array
import asyncio
import base64
import gc
import inspect
import json
import logging
from typing import Any

import openai
import pytest
import wrapt
from openai.resources.completions import Completions
from openai.resources.embeddings import Embeddings
from openai.resources.images import Images
from opentelemetry.trace import SpanKind, StatusCode

from conftest import validate_content
from otel_genai.demo.server import LoopbackServer, Request, Response
from recorded import Interaction, Replayer, load_interactions

EMBEDDINGS = load_interactions("openai", "/embeddings")
COMPLETIONS = [i for i in load_interactions("openai", "/completions") if i.path == "/v1/completions"]
IMAGES = load_interactions("openai", "/images/generations")

CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions")


def test_recorded_material_is_found_and_filtered():
    assert len(EMBEDDINGS) >= 40 and len(COMPLETIONS) >= 50 and len(IMAGES) >= 5
    assert all(i.path == "/v1/completions" for i in COMPLETIONS)
    assert any(i.path.startswith("/openai/deployments/") for i in EMBEDDINGS)  # Azure-style, in test_embeddings
    assert any(i.is_stream for i in COMPLETIONS) and any(i.status >= 400 for i in IMAGES)


# --- helpers ------------------------------------------------------------------------------------------
def _kwargs(interaction: Interaction, method: Any) -> dict[str, Any]:
    """The recorded request body as ``method`` kwargs (unknown keys go through ``extra_body``)."""
    params = set(inspect.signature(method).parameters)
    body = dict(interaction.request_body)
    extra = {k: body.pop(k) for k in list(body) if k not in params}
    return {**body, "extra_body": extra} if extra else body


def _is_azure(interaction: Interaction) -> bool:
    return interaction.path.startswith("/openai/deployments/")


def _sync_client(base_url: str, azure: bool = False) -> openai.OpenAI:
    if azure:
        return openai.AzureOpenAI(api_key="test", azure_endpoint=base_url, azure_deployment="test-deployment",
                                  api_version="2024-02-01", max_retries=0)
    return openai.OpenAI(api_key="test", base_url=base_url + "/v1", max_retries=0)


def _async_client(base_url: str, azure: bool = False) -> openai.AsyncOpenAI:
    if azure:
        return openai.AsyncAzureOpenAI(api_key="test", azure_endpoint=base_url, azure_deployment="test-deployment",
                                       api_version="2024-02-01", max_retries=0)
    return openai.AsyncOpenAI(api_key="test", base_url=base_url + "/v1", max_retries=0)


def _replay(replayer: Replayer, interaction: Interaction, mode: str, call: Any) -> Any:
    """Run ``call(client, is_async)`` against the replayed ``interaction``; returns its result."""
    base_url = replayer.play(interaction)
    azure = _is_azure(interaction)
    if mode.startswith("sync"):
        with _sync_client(base_url, azure) as client:
            return call(client, False)

    async def main() -> Any:
        async with _async_client(base_url, azure) as client:
            return await call(client, True)

    return asyncio.run(main())


def only_span(telemetry) -> Any:
    spans = telemetry.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def _assert_error_span(span: Any, exc: BaseException) -> None:
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == f"openai.{type(exc).__name__}"
    assert "mlflow.chat.tokenUsage" not in span.attributes
    assert [e.name for e in span.events] == ["exception"]


def _assert_common(span: Any, operation: str, model: str | None, provider: str = "openai") -> None:
    attrs = span.attributes
    assert span.name == (f"{operation} {model}" if model else operation)
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert attrs["gen_ai.operation.name"] == operation
    assert attrs["gen_ai.provider.name"] == provider
    assert attrs["mlflow.llm.provider"] == provider
    assert attrs["server.address"] == "127.0.0.1"
    assert isinstance(attrs["server.port"], int)
    if model:
        assert attrs["gen_ai.request.model"] == model
        assert attrs["mlflow.llm.model"] == model


def _flat_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _flat_strings(v)]
    return []


def _assert_no_payload(span: Any, payloads: list[str]) -> None:
    """No attribute holds a float vector, and no attribute text contains any of ``payloads``."""
    for key, value in span.attributes.items():
        if isinstance(value, (list, tuple)):
            assert not any(isinstance(v, float) for v in value), key
        for text in _flat_strings(value):
            for payload in payloads:
                assert payload[:64] not in text, key


def _float32_count(b64: str) -> int:
    return len(array.array("f", base64.b64decode(b64)))


# --- 1. recorded: embeddings -------------------------------------------------------------------------
def _embed(interaction: Interaction, mode: str):
    """Call ``embeddings.create`` as recorded; ``*-decoded`` omits ``encoding_format`` (the SDK then
    asks for base64 on the wire itself and hands the user decoded floats)."""
    kwargs = _kwargs(interaction, Embeddings.create)
    if mode.endswith("decoded"):
        kwargs.pop("encoding_format", None)
    raw = "raw_response" in interaction.cassette

    def call(client, is_async):
        method = client.embeddings.with_raw_response.create if raw else client.embeddings.create
        if not is_async:
            result = method(**kwargs)
            return result.parse() if raw else result

        async def run():
            result = await method(**kwargs)
            return result.parse() if raw else result

        return run()

    return kwargs, call


@pytest.mark.parametrize("mode", ["sync", "async", "sync-decoded"])
@pytest.mark.parametrize("interaction", EMBEDDINGS, ids=lambda i: i.id)
def test_recorded_embeddings_become_one_matching_span(interaction, mode, telemetry, instrument, replayer):
    instrument("SPAN_ONLY")
    kwargs, call = _embed(interaction, mode)
    provider = "azure.ai.openai" if _is_azure(interaction) else "openai"
    if interaction.status >= 400:
        with pytest.raises(openai.APIStatusError) as caught:
            _replay(replayer, interaction, mode, call)
        span = only_span(telemetry)
        _assert_error_span(span, caught.value)
        assert span.attributes["gen_ai.provider.name"] == provider
        return

    result = _replay(replayer, interaction, mode, call)
    body = interaction.json()
    span = only_span(telemetry)
    attrs = span.attributes
    _assert_common(span, "embeddings", kwargs["model"], provider)
    assert attrs["mlflow.spanType"] == "EMBEDDING"
    assert attrs["gen_ai.response.model"] == body["model"]
    recorded_vector = body["data"][0]["embedding"]
    assert attrs["gen_ai.embeddings.dimension.count"] == _float32_count(recorded_vector)
    if mode.endswith("decoded"):
        assert "gen_ai.request.encoding_formats" not in attrs  # the user asked for no format
        assert isinstance(result.data[0].embedding, list)
        assert attrs["gen_ai.embeddings.dimension.count"] == len(result.data[0].embedding)
    else:
        assert list(attrs["gen_ai.request.encoding_formats"]) == [interaction.request_body["encoding_format"]]
        assert result.data[0].embedding == recorded_vector  # the user got the base64 text untouched

    prompt_tokens = body["usage"]["prompt_tokens"]
    assert attrs["gen_ai.usage.input_tokens"] == prompt_tokens
    assert "gen_ai.usage.output_tokens" not in attrs
    assert json.loads(attrs["mlflow.chat.tokenUsage"]) == {
        "input_tokens": prompt_tokens, "output_tokens": 0, "total_tokens": prompt_tokens,
    }
    for key in CONTENT_KEYS:  # v1.41.1 defines no content attribute for embeddings
        assert key not in attrs
    _assert_no_payload(span, [recorded_vector, interaction.request_body["input"]])


# --- 1. recorded: legacy completions -----------------------------------------------------------------
def _expected_completion(interaction: Interaction) -> dict[str, Any]:
    """id, model, usage and (text, finish_reason) per choice index, from the recorded JSON or SSE."""
    if interaction.is_stream:
        events = interaction.sse_events()
        choices: dict[int, dict[str, Any]] = {}
        for event in events:
            for choice in event.get("choices") or ():
                # one recorded stream ends with {"delta": {}, "finish_reason": "stop"}: no index, choice 0
                state = choices.setdefault(choice.get("index", 0), {"text": "", "finish_reason": None})
                state["text"] += choice.get("text") or ""
                state["finish_reason"] = choice.get("finish_reason") or state["finish_reason"]
        return {
            "id": next(e["id"] for e in events if e.get("id")),
            "model": next((e["model"] for e in events if e.get("model")), None),
            "usage": next((e["usage"] for e in events if e.get("usage")), None),
            "choices": [choices[i] for i in sorted(choices)],
        }
    body = interaction.json()
    return {
        "id": body["id"],
        "model": body["model"],
        "usage": body.get("usage"),
        "choices": [{"text": c["text"], "finish_reason": c["finish_reason"]} for c in body["choices"]],
    }


def _complete(interaction: Interaction):
    kwargs = _kwargs(interaction, Completions.create)

    def call(client, is_async):
        if not is_async:
            result = client.completions.create(**kwargs)
            return [chunk for chunk in result] if interaction.is_stream else result

        async def run():
            result = await client.completions.create(**kwargs)
            return [chunk async for chunk in result] if interaction.is_stream else result

        return run()

    return kwargs, call


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("interaction", COMPLETIONS, ids=lambda i: i.id)
def test_recorded_completions_become_one_matching_span(interaction, mode, telemetry, instrument, replayer):
    instrument("SPAN_ONLY")
    _, call = _complete(interaction)
    result = _replay(replayer, interaction, mode, call)
    expected = _expected_completion(interaction)
    span = only_span(telemetry)
    attrs = span.attributes
    request = interaction.request_body
    _assert_common(span, "text_completion", request["model"])
    assert attrs["mlflow.spanType"] == "LLM"
    assert attrs["gen_ai.response.id"] == expected["id"]
    assert attrs["gen_ai.response.model"] == expected["model"]
    reasons = [c["finish_reason"] for c in expected["choices"] if c["finish_reason"]]
    assert reasons and list(attrs["gen_ai.response.finish_reasons"]) == reasons
    if interaction.is_stream:
        assert isinstance(result, list) and result
        assert attrs["gen_ai.request.stream"] is True
        assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    else:
        assert "gen_ai.request.stream" not in attrs
        assert "gen_ai.response.time_to_first_chunk" not in attrs
    if "max_tokens" in request:
        assert attrs["gen_ai.request.max_tokens"] == request["max_tokens"]
    else:
        assert "gen_ai.request.max_tokens" not in attrs
    assert "gen_ai.request.choice.count" not in attrs

    usage = expected["usage"]
    if usage:
        assert attrs["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
        assert attrs["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
        assert json.loads(attrs["mlflow.chat.tokenUsage"]) == {
            "input_tokens": usage["prompt_tokens"],
            "output_tokens": usage["completion_tokens"],
            "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
        }
    else:  # a stream without include_usage reports no usage rather than a guess
        assert "gen_ai.usage.input_tokens" not in attrs
        assert "mlflow.chat.tokenUsage" not in attrs

    prompts = [request["prompt"]] if isinstance(request["prompt"], str) else request["prompt"]
    inputs = validate_content("gen_ai.input.messages", attrs["gen_ai.input.messages"])
    assert inputs == [{"role": "user", "parts": [{"type": "text", "content": p}]} for p in prompts]
    outputs = validate_content("gen_ai.output.messages", attrs["gen_ai.output.messages"])
    assert outputs == [
        {"role": "assistant", "parts": [{"type": "text", "content": c["text"]}], "finish_reason": c["finish_reason"]}
        for c in expected["choices"]
    ]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("interaction", [COMPLETIONS[0], next(i for i in COMPLETIONS if i.is_stream)], ids=lambda i: i.id)
def test_recorded_completions_without_content_capture_record_no_content(interaction, mode, telemetry, instrument, replayer):
    instrument("NO_CONTENT")
    _, call = _complete(interaction)
    _replay(replayer, interaction, mode, call)
    span = only_span(telemetry)
    for key in CONTENT_KEYS:
        assert key not in span.attributes
    assert span.attributes["gen_ai.response.id"] == _expected_completion(interaction)["id"]


# --- 1. recorded: images ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("interaction", IMAGES, ids=lambda i: i.id)
def test_recorded_image_generations_become_one_matching_span(interaction, mode, telemetry, instrument, replayer):
    instrument("SPAN_ONLY")
    kwargs = _kwargs(interaction, Images.generate)

    def call(client, is_async):
        return client.images.generate(**kwargs)

    if interaction.status >= 400:
        with pytest.raises(openai.BadRequestError) as caught:
            _replay(replayer, interaction, mode, call)
        _assert_error_span(only_span(telemetry), caught.value)
        return

    result = _replay(replayer, interaction, mode, call)
    body = interaction.json()
    span = only_span(telemetry)
    attrs = span.attributes
    _assert_common(span, "generate_content", interaction.request_body["model"])
    assert attrs["gen_ai.output.type"] == "image"
    assert attrs["mlflow.spanType"] == "LLM"
    assert "gen_ai.request.choice.count" not in attrs  # n == 1
    assert "gen_ai.request.stream" not in attrs
    if body.get("usage"):
        assert attrs["gen_ai.usage.input_tokens"] == body["usage"]["input_tokens"]
        assert attrs["gen_ai.usage.output_tokens"] == body["usage"]["output_tokens"]
    else:  # DALL-E reports no usage
        assert "gen_ai.usage.input_tokens" not in attrs
        assert "mlflow.chat.tokenUsage" not in attrs
    for key in ("size", "quality"):  # no semconv name: not recorded under any key
        assert not any(str(v) == interaction.request_body.get(key) for v in attrs.values())

    inputs = validate_content("gen_ai.input.messages", attrs["gen_ai.input.messages"])
    assert inputs == [{"role": "user", "parts": [{"type": "text", "content": interaction.request_body["prompt"]}]}]
    outputs = validate_content("gen_ai.output.messages", attrs["gen_ai.output.messages"])
    assert len(outputs) == len(body["data"]) == len(result.data)
    for message, image in zip(outputs, body["data"]):
        assert message["role"] == "assistant" and message["finish_reason"] == ""
        assert message["parts"][0] == {"type": "uri", "modality": "image", "uri": image["url"]}


# --- 2. behaviour: an OpenAI-compatible loopback endpoint -------------------------------------------
PNG_B64 = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8).decode()
COMPLETION_PIECES = {0: ["Once", " upon", " a", " time"], 1: ["Hello", " there"]}


def _sse(events: list[dict[str, Any]]) -> list[bytes]:
    return [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]


def _completion_events(n: int, include_usage: bool) -> list[dict[str, Any]]:
    base = {"id": "cmpl-local", "object": "text_completion", "created": 1, "model": "davinci-002-local"}
    events = []
    for step in range(max(len(p) for p in COMPLETION_PIECES.values())):
        for index in range(n):  # choices interleave, as the API sends them
            pieces = COMPLETION_PIECES[index]
            if step < len(pieces):
                last = step == len(pieces) - 1
                choice = {"text": pieces[step], "index": index, "logprobs": None, "finish_reason": ("length" if index == 0 else "stop") if last else None}
                events.append({**base, "choices": [choice]})
    if include_usage:
        events.append({**base, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}})
    return events


def _embedding_vector(dimensions: int) -> list[float]:
    return [round(0.001 * (i + 1), 3) for i in range(dimensions)]


def respond(request: Request) -> Response:
    path = request.path.split("?", 1)[0]
    json_headers = [("content-type", "application/json")]
    if path.endswith("/embeddings"):
        body = json.loads(request.body)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vector = _embedding_vector(body.get("dimensions") or 12)
        encoded = base64.b64encode(array.array("f", vector).tobytes()).decode()
        data = [
            {"object": "embedding", "index": i, "embedding": encoded if body.get("encoding_format") == "base64" else vector}
            for i in range(len(inputs))
        ]
        out = {"object": "list", "model": body["model"] + "-v2", "data": data, "usage": {"prompt_tokens": 7, "total_tokens": 7}}
        return Response(200, json.dumps(out).encode(), json_headers)
    if path.endswith("/v1/completions"):
        body = json.loads(request.body)
        n = body.get("n") or 1
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return Response(200, _sse(_completion_events(n, include_usage)), [("content-type", "text/event-stream")])
        choices = [
            {"text": "".join(COMPLETION_PIECES[i % 2]), "index": i, "logprobs": None, "finish_reason": "stop"} for i in range(n)
        ]
        out = {"id": "cmpl-local", "object": "text_completion", "created": 1, "model": "davinci-002-local",
               "system_fingerprint": "fp_local", "choices": choices,
               "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}}
        return Response(200, json.dumps(out).encode(), json_headers)
    if path.endswith(("/images/generations", "/images/edits")):
        body = json.loads(request.body) if path.endswith("/generations") else {"stream": b'name="stream"' in request.body}
        usage = {"input_tokens": 50, "input_tokens_details": {"image_tokens": 40, "text_tokens": 10},
                 "output_tokens": 272, "total_tokens": 322}
        kind = "image_generation" if path.endswith("/generations") else "image_edit"
        if body.get("stream"):
            common = {"b64_json": PNG_B64, "background": "opaque", "created_at": 1, "output_format": "png",
                      "quality": "low", "size": "1024x1024"}
            events = [
                {**common, "type": f"{kind}.partial_image", "partial_image_index": 0},
                {**common, "type": f"{kind}.partial_image", "partial_image_index": 1},
                {**common, "type": f"{kind}.completed", "usage": usage},
            ]
            return Response(200, _sse(events)[:-1], [("content-type", "text/event-stream")])
        data = [{"b64_json": PNG_B64} for _ in range(body.get("n") or 1)]
        out = {"created": 1, "data": data, "output_format": "png", "quality": "low", "size": "1024x1024", "usage": usage}
        return Response(200, json.dumps(out).encode(), json_headers)
    return Response(404, b'{"error": {"message": "not served here"}}', json_headers)


@pytest.fixture(scope="module")
def endpoint():
    with LoopbackServer(respond) as server:
        yield server


def client(server: LoopbackServer) -> openai.OpenAI:
    return openai.OpenAI(api_key="test", base_url=server.base_url + "/v1", max_retries=0)


def aclient(server: LoopbackServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="test", base_url=server.base_url + "/v1", max_retries=0)


def _outputs(span: Any) -> list[dict[str, Any]]:
    return validate_content("gen_ai.output.messages", span.attributes["gen_ai.output.messages"])


# --- legacy completions ---------------------------------------------------------------------------------
def test_completion_request_parameters_and_multiple_prompts(endpoint, telemetry, instrument):
    instrument()
    result = client(endpoint).completions.create(
        model="davinci-002", prompt=["first prompt", "second prompt"], temperature=0.3, top_p=0.8, max_tokens=20,
        stop="END", seed=3, frequency_penalty=0.5, presence_penalty=0.25, n=2,
    )
    span = only_span(telemetry)
    a = span.attributes
    assert (a["gen_ai.request.temperature"], a["gen_ai.request.top_p"], a["gen_ai.request.max_tokens"]) == (0.3, 0.8, 20)
    assert list(a["gen_ai.request.stop_sequences"]) == ["END"] and a["gen_ai.request.seed"] == 3
    assert (a["gen_ai.request.frequency_penalty"], a["gen_ai.request.presence_penalty"]) == (0.5, 0.25)
    assert a["gen_ai.request.choice.count"] == 2
    assert a["openai.response.system_fingerprint"] == "fp_local"
    assert a["gen_ai.response.id"] == result.id and a["gen_ai.response.model"] == "davinci-002-local"
    assert list(a["gen_ai.response.finish_reasons"]) == ["stop", "stop"]
    inputs = validate_content("gen_ai.input.messages", a["gen_ai.input.messages"])
    assert [m["parts"][0]["content"] for m in inputs] == ["first prompt", "second prompt"]
    assert [m["parts"][0]["content"] for m in _outputs(span)] == [c.text for c in result.choices]


def test_completion_token_id_prompt_records_no_input_text(endpoint, telemetry, instrument):
    instrument()
    client(endpoint).completions.create(model="davinci-002", prompt=[1212, 318, 257])
    attrs = only_span(telemetry).attributes
    assert "gen_ai.input.messages" not in attrs
    assert _outputs(only_span(telemetry))[0]["parts"][0]["content"] == "Once upon a time"


def test_completion_stream_with_include_usage_and_two_choices(endpoint, telemetry, instrument):
    instrument()
    stream = client(endpoint).completions.create(
        model="davinci-002", prompt="p", n=2, stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    span = only_span(telemetry)
    a = span.attributes
    assert len(chunks) == 7 and a["gen_ai.request.stream"] is True
    assert a["gen_ai.response.id"] == "cmpl-local"
    assert list(a["gen_ai.response.finish_reasons"]) == ["length", "stop"]
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (5, 6)
    assert json.loads(a["mlflow.chat.tokenUsage"])["total_tokens"] == 11
    assert [(m["parts"][0]["content"], m["finish_reason"]) for m in _outputs(span)] == [
        ("Once upon a time", "length"), ("Hello there", "stop"),
    ]
    chunk_points = telemetry.metric_points("gen_ai.client.operation.time_per_output_chunk")
    assert sum(p.count for p in chunk_points) == len(chunks) - 1


def test_completion_stream_break_inside_with_ends_span_once(endpoint, telemetry, instrument):
    instrument()
    with client(endpoint).completions.create(model="davinci-002", prompt="p", stream=True) as stream:
        assert isinstance(stream, openai.Stream)
        for index, _ in enumerate(stream):
            if index == 1:
                break
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert span.end_time is not None
    # left early: finish reason "error", not the provider's (docs/lifecycle.md)
    assert _outputs(span) == [{"role": "assistant", "parts": [{"type": "text", "content": "Once upon"}], "finish_reason": "error"}]
    assert span.attributes["gen_ai.response.finish_reasons"] == ("error",)
    stream.close()
    del stream
    gc.collect()
    assert len(telemetry.spans()) == 1


def test_completion_stream_closed_unread_or_dropped_ends_span(endpoint, telemetry, instrument):
    instrument()
    stream = client(endpoint).completions.create(model="davinci-002", prompt="p", stream=True)
    assert telemetry.spans() == []
    stream.close()
    stream.close()
    assert len(telemetry.spans()) == 1
    dropped = client(endpoint).completions.create(model="davinci-002", prompt="p", stream=True)
    next(iter(dropped))
    del dropped
    gc.collect()
    spans = telemetry.spans()
    assert len(spans) == 2 and all(s.end_time for s in spans)
    assert json.loads(spans[1].attributes["gen_ai.output.messages"])[0]["parts"][0]["content"] == "Once"


def test_exception_in_users_completion_stream_loop_ends_span_as_error(endpoint, telemetry, instrument):
    instrument()

    class Stop(Exception):
        pass

    with pytest.raises(Stop), client(endpoint).completions.create(model="davinci-002", prompt="p", stream=True) as stream:
        for _ in stream:
            raise Stop("user code")
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"].endswith("Stop")


async def test_async_completion_stream_break_in_async_with_and_close(endpoint, telemetry, instrument):
    instrument()
    async with await aclient(endpoint).completions.create(model="davinci-002", prompt="p", stream=True) as stream:
        assert isinstance(stream, openai.AsyncStream)
        async for _ in stream:
            break
    assert len(telemetry.spans()) == 1
    stream2 = await aclient(endpoint).completions.create(model="davinci-002", prompt="p", stream=True)
    await stream2.close()
    await stream2.close()
    spans = telemetry.spans()
    assert [s.name for s in spans] == ["text_completion davinci-002"] * 2
    assert _outputs(spans[0])[0]["parts"] == [{"type": "text", "content": "Once"}]


# --- embeddings -----------------------------------------------------------------------------------------
def test_embeddings_explicit_base64_gives_dimensions_without_vectors_in_attributes(endpoint, telemetry, instrument):
    instrument()
    result = client(endpoint).embeddings.create(model="text-embedding-3-small", input=["a", "b"], encoding_format="base64")
    encoded = result.data[0].embedding
    assert isinstance(encoded, str)  # the user asked for base64 and gets the text
    span = only_span(telemetry)
    a = span.attributes
    assert span.name == "embeddings text-embedding-3-small"
    assert list(a["gen_ai.request.encoding_formats"]) == ["base64"]
    assert a["gen_ai.embeddings.dimension.count"] == 12 == _float32_count(encoded)
    assert a["gen_ai.response.model"] == "text-embedding-3-small-v2"
    _assert_no_payload(span, [encoded])


@pytest.mark.parametrize("encoding_format", [None, "float"])
def test_embeddings_decoded_vectors_and_requested_dimensions(endpoint, telemetry, instrument, encoding_format):
    instrument()
    kwargs = {"encoding_format": encoding_format} if encoding_format else {}
    result = client(endpoint).embeddings.create(model="text-embedding-3-small", input="hi", dimensions=5, **kwargs)
    assert len(result.data[0].embedding) == 5
    a = only_span(telemetry).attributes
    assert a["gen_ai.embeddings.dimension.count"] == 5
    if encoding_format:
        assert list(a["gen_ai.request.encoding_formats"]) == ["float"]
    else:
        assert "gen_ai.request.encoding_formats" not in a
    _assert_no_payload(only_span(telemetry), [])


def test_embeddings_metrics_report_input_tokens_only(endpoint, telemetry, instrument):
    instrument()
    client(endpoint).embeddings.create(model="text-embedding-3-small", input="hi")
    points = telemetry.metric_points("gen_ai.client.token.usage")
    assert [(p.attributes["gen_ai.token.type"], p.sum) for p in points] == [("input", 7)]
    assert points[0].attributes["gen_ai.operation.name"] == "embeddings"
    assert points[0].attributes["gen_ai.response.model"] == "text-embedding-3-small-v2"


async def test_async_embeddings_with_raw_response(endpoint, telemetry, instrument):
    instrument()
    raw = await aclient(endpoint).embeddings.with_raw_response.create(model="text-embedding-3-small", input="hi")
    parsed = raw.parse()
    assert len(parsed.data[0].embedding) == 12
    a = only_span(telemetry).attributes
    assert a["gen_ai.usage.input_tokens"] == 7 and a["gen_ai.embeddings.dimension.count"] == 12


# --- images ---------------------------------------------------------------------------------------------
def test_image_b64_output_is_an_empty_blob_even_with_blob_capture_on(endpoint, telemetry, instrument, monkeypatch):
    monkeypatch.setenv("OTEL_GENAI_CAPTURE_BLOB_CONTENT", "true")
    instrument()
    result = client(endpoint).images.generate(model="gpt-image-1", prompt="a lighthouse", n=2, size="1024x1024")
    assert result.data[0].b64_json == PNG_B64
    span = only_span(telemetry)
    a = span.attributes
    assert span.name == "generate_content gpt-image-1"
    assert a["gen_ai.request.choice.count"] == 2 and a["gen_ai.output.type"] == "image"
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (50, 272)
    assert json.loads(a["mlflow.chat.tokenUsage"]) == {"input_tokens": 50, "output_tokens": 272, "total_tokens": 322}
    blob = {"type": "blob", "modality": "image", "content": "", "mime_type": "image/png"}
    assert _outputs(span) == [{"role": "assistant", "parts": [blob], "finish_reason": ""}] * 2
    _assert_no_payload(span, [PNG_B64])


async def test_image_stream_partial_images_end_one_span(endpoint, telemetry, instrument):
    instrument()
    stream = await aclient(endpoint).images.generate(model="gpt-image-1", prompt="a lighthouse", stream=True, partial_images=2)
    events = [event async for event in stream]
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    span = only_span(telemetry)
    a = span.attributes
    assert a["gen_ai.request.stream"] is True and a["gen_ai.response.time_to_first_chunk"] > 0
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (50, 272)
    assert _outputs(span) == [{"role": "assistant", "parts": [{"type": "blob", "modality": "image", "content": "", "mime_type": "image/png"}], "finish_reason": ""}]
    _assert_no_payload(span, [PNG_B64])


def test_image_edit_records_prompt_and_input_image_without_reading_it(endpoint, telemetry, instrument):
    instrument()
    before = len(endpoint.requests)
    client(endpoint).images.edit(model="gpt-image-1", image=("input.png", PNG_B64.encode(), "image/png"), prompt="add a moon")
    assert endpoint.requests[before].path.endswith("/images/edits")
    span = only_span(telemetry)
    assert span.name == "generate_content gpt-image-1"
    inputs = validate_content("gen_ai.input.messages", span.attributes["gen_ai.input.messages"])
    assert inputs == [{"role": "user", "parts": [
        {"type": "text", "content": "add a moon"},
        {"type": "blob", "modality": "image", "content": "", "mime_type": "image/png"},
    ]}]
    assert span.attributes["gen_ai.usage.output_tokens"] == 272
    _assert_no_payload(span, [PNG_B64])


def test_image_edit_stream_ends_one_span(endpoint, telemetry, instrument):
    instrument()
    with client(endpoint).images.edit(image=[b"raw image bytes"], prompt="x", stream=True) as stream:
        kinds = [event.type for event in stream]
    assert kinds[-1] == "image_edit.completed"
    span = only_span(telemetry)
    assert span.name == "generate_content"  # no model named: the API default is not guessed
    assert "gen_ai.request.model" not in span.attributes
    inputs = validate_content("gen_ai.input.messages", span.attributes["gen_ai.input.messages"])
    assert inputs[0]["parts"][1] == {"type": "blob", "modality": "image", "content": ""}
    assert len(_outputs(span)) == 1


# --- all three: parameters and policy ------------------------------------------------------------------
def test_omitted_and_none_parameters_give_no_attribute_warnings(endpoint, telemetry, instrument, caplog):
    instrument()
    c = client(endpoint)
    with caplog.at_level(logging.WARNING):
        c.embeddings.create(model="m", input="x", dimensions=openai.omit, encoding_format=openai.omit)
        c.completions.create(model="m", prompt="x", temperature=None, top_p=None, max_tokens=None, seed=None,
                             stop=None, n=None, stream=None, frequency_penalty=openai.omit)
        c.images.generate(prompt="x", model=None, n=None, stream=None, size=openai.omit)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    spans = telemetry.spans()
    assert [s.name for s in spans] == ["embeddings m", "text_completion m", "generate_content"]
    for span in spans:
        for key, value in span.attributes.items():
            assert value is not None and "NotGiven" not in str(value) and "Omit" not in str(value), key
    embeddings, completion, image = (s.attributes for s in spans)
    assert "gen_ai.request.encoding_formats" not in embeddings
    assert embeddings["gen_ai.embeddings.dimension.count"] == 12  # from the response, not the omitted kwarg
    for key in ("gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.request.max_tokens", "gen_ai.request.seed",
                "gen_ai.request.stop_sequences", "gen_ai.request.choice.count", "gen_ai.request.stream",
                "gen_ai.request.frequency_penalty"):
        assert key not in completion, key
    for key in ("gen_ai.request.model", "gen_ai.request.choice.count", "gen_ai.request.stream"):
        assert key not in image, key


@pytest.mark.parametrize("n", [1, 3])
def test_choice_count_only_when_not_one(endpoint, telemetry, instrument, n):
    instrument()
    c = client(endpoint)
    c.completions.create(model="m", prompt="x", n=n)
    c.images.generate(model="gpt-image-1", prompt="x", n=n)
    for span in telemetry.spans():
        assert span.attributes.get("gen_ai.request.choice.count") == (None if n == 1 else n), span.name
    assert len(_outputs(telemetry.spans()[1])) == n


@pytest.mark.parametrize("api", ["completions", "images", "embeddings"])
def test_no_content_policy_records_no_content(endpoint, telemetry, instrument, api):
    instrument("NO_CONTENT")
    c = client(endpoint)
    if api == "completions":
        c.completions.create(model="m", prompt="secret prompt")
    elif api == "images":
        c.images.generate(model="gpt-image-1", prompt="secret prompt")
    else:
        c.embeddings.create(model="m", input="secret prompt")
    span = only_span(telemetry)
    for key in CONTENT_KEYS:
        assert key not in span.attributes
    assert not any("secret prompt" in s for v in span.attributes.values() for s in _flat_strings(v))
    assert "gen_ai.usage.input_tokens" in span.attributes


def test_uninstrument_restores_the_eight_methods(endpoint, telemetry, instrument):
    from openai.resources.completions import AsyncCompletions
    from openai.resources.embeddings import AsyncEmbeddings
    from openai.resources.images import AsyncImages

    methods = [(cls, name) for cls in (Embeddings, AsyncEmbeddings, Completions, AsyncCompletions) for name in ("create",)]
    methods += [(cls, name) for cls in (Images, AsyncImages) for name in ("generate", "edit")]
    originals = [cls.__dict__[name] for cls, name in methods]
    instrumentor = instrument()
    assert all(isinstance(cls.__dict__[name], wrapt.FunctionWrapper) for cls, name in methods)
    instrumentor.uninstrument()
    assert [cls.__dict__[name] for cls, name in methods] == originals
    c = client(endpoint)
    c.embeddings.create(model="m", input="x")
    c.completions.create(model="m", prompt="x")
    c.images.generate(model="gpt-image-1", prompt="x")
    assert telemetry.spans() == []
