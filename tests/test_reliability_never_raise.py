"""Never raise into the user (DESIGN.md §5, issue 7): property-based tests that feed arbitrary
request kwargs and arbitrary, malformed response and chunk objects to the extraction code through
the real wrappers. Whatever our code makes of them, the user's call returns exactly what the SDK
returned (the same object; a stream yields the same chunks) or raises exactly the SDK's exception
(the same object), and the user's inputs are neither consumed nor changed.

Two levels:

* the installed wrapper of every instrumented method, called with a stand-in for the SDK method
  that returns (or raises, or streams) hypothesis-made objects: attribute trees with the names our
  extraction reads, SDK models built without validation, and objects whose every operation raises;
* the real ``openai`` / ``anthropic`` clients over an in-process transport answering with arbitrary
  JSON bodies and SSE streams, side by side with the bare SDK: same result (or same exception).
"""

from __future__ import annotations

import asyncio
import inspect
import json
from types import SimpleNamespace
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_genai.instrumentation._core import metrics as core_metrics
from otel_genai.instrumentation._core.faults import raise_faults
from otel_genai.instrumentation._core.instrumentor import CALL
from otel_genai.instrumentation.anthropic import AnthropicInstrumentor
from otel_genai.instrumentation.anthropic import messages as anthropic_messages
from otel_genai.instrumentation.openai import OpenAIInstrumentor, chat, completions, embeddings, images, responses



@pytest.fixture(autouse=True, scope="module")
def faults_swallowed_as_in_production():
    """These tests feed arbitrary objects where the SDK's models go: our extraction may fail on them
    (that is the point), and the guarantee under test is the production one, log and swallow."""
    previous = raise_faults(False)
    yield
    raise_faults(previous)


SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    derandomize=True,  # the same examples on every run: CI stays reproducible
)

# --- arbitrary objects ---------------------------------------------------------------------------------
# attribute / key names the extraction code reads, so generated objects reach deep into it
NAMES = (
    "arguments cache_creation_input_tokens cache_read_input_tokens cache_write_tokens cached_tokens call_id "
    "choices completion_tokens completion_tokens_details content data delta description embedding "
    "finish_reason function function_call id image_url index input input_tokens input_tokens_details "
    "instructions message model name output output_tokens output_tokens_details parameters partial_json "
    "prompt_tokens prompt_tokens_details reasoning_content reasoning_tokens refusal response role "
    "service_tier source status stop_reason summary system_fingerprint text thinking tool_calls "
    "tool_call_id tool_use_id tools type usage content_block message_start b64_json revised_prompt "
    "item item_id output_index logprobs audio transcript __pydantic_extra__ _request_id headers"
).split()
TYPES = (
    "text image_url input_audio file refusal function tool_use tool_result thinking redacted_thinking "
    "server_tool_use mcp_tool_use web_search_tool_result image document base64 url search_result "
    "message_start message_delta message_stop content_block_start content_block_delta content_block_stop "
    "text_delta input_json_delta thinking_delta message reasoning function_call custom input_text "
    "input_image input_file output_text response.created response.completed response.failed "
    "response.incomplete response.output_item.added response.output_item.done response.output_text.delta "
    "response.function_call_arguments.delta response.reasoning_summary_text.delta response.refusal.delta "
    "image_generation.partial_image image_generation.completed json_schema json_object"
).split()


class Evil:
    """An object every operation on which raises (as a broken SDK model or user object might)."""

    def __getattribute__(self, name: str) -> Any:
        if name in ("__class__", "__dict__"):
            return object.__getattribute__(self, name)
        raise RuntimeError(f"Evil.{name}")

    def __bool__(self) -> bool:
        raise RuntimeError("Evil.__bool__")

    def __iter__(self) -> Any:
        raise RuntimeError("Evil.__iter__")

    def __len__(self) -> int:
        raise RuntimeError("Evil.__len__")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("Evil.__eq__")

    def __hash__(self) -> int:
        raise RuntimeError("Evil.__hash__")

    def __str__(self) -> str:
        raise RuntimeError("Evil.__str__")

    def __repr__(self) -> str:
        return "Evil()"


class Obj(SimpleNamespace):
    """An attribute tree standing in for an SDK model (``getattr`` works, ``[]`` does not)."""


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(TYPES),
    st.binary(max_size=8),
    st.just(openai.NOT_GIVEN),
    st.just(openai.omit),
    st.builds(Evil),
)


def _containers(children: st.SearchStrategy) -> st.SearchStrategy:
    keys = st.one_of(st.sampled_from(NAMES), st.text(max_size=6))
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(keys, children, max_size=5),
        st.dictionaries(st.sampled_from(NAMES), children, max_size=6).map(lambda d: Obj(**d)),
    )


junk = st.recursive(leaves, _containers, max_leaves=25)
# an SDK-model-like tree: an Obj at the top
junk_objects = st.dictionaries(st.sampled_from(NAMES), junk, max_size=8).map(lambda d: Obj(**d))


def _construct(model: type, data: dict) -> Any:
    try:
        return model.model_construct(**data)  # pydantic: no validation, fields as given
    except Exception:  # noqa: BLE001
        return Obj(**data)


SDK_RESULT_TYPES = (
    openai.types.chat.ChatCompletion,
    openai.types.Completion,
    openai.types.CreateEmbeddingResponse,
    openai.types.ImagesResponse,
    openai.types.responses.Response,
    anthropic.types.Message,
)
sdk_models = st.builds(
    _construct, st.sampled_from(SDK_RESULT_TYPES), st.dictionaries(st.sampled_from(NAMES), junk, max_size=8)
)
results = st.one_of(junk, junk_objects, sdk_models)

REQUEST_KEYS = (
    "model messages tools temperature top_p top_k max_tokens max_completion_tokens max_output_tokens stop "
    "stop_sequences seed n stream stream_options response_format service_tier extra_body system input "
    "instructions text prompt encoding_format dimensions size quality output_format output_config "
    "frequency_penalty presence_penalty tool_choice"
).split()


def _generator() -> Any:
    yield {"role": "user", "content": "never read by the instrumentation"}


request_values = st.one_of(junk, st.builds(_generator))
kwargs_strategy = st.dictionaries(st.one_of(st.sampled_from(REQUEST_KEYS), st.text(max_size=6)), request_values, max_size=8)


class Boom(Exception):
    """An exception an SDK might raise."""


# --- the installed wrappers ----------------------------------------------------------------------------
class Pipeline:
    """Both instrumentors, content captured on spans and in events, against in-memory exporters."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(InMemoryLogRecordExporter()))
        self.instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor()]
        for instrumentor in self.instrumentors:
            instrumentor.instrument(
                tracer_provider=self.tracer_provider,
                meter_provider=self.meter_provider,
                logger_provider=self.logger_provider,
                capture_content="SPAN_AND_EVENT",
            )

    def close(self) -> None:
        for instrumentor in self.instrumentors:
            instrumentor.uninstrument()
        core_metrics.drain()


@pytest.fixture(scope="module")
def pipeline():
    pipeline = Pipeline()
    yield pipeline
    pipeline.close()


CLIENTS = {
    (openai, False): openai.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1", max_retries=0),
    (openai, True): openai.AsyncOpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1", max_retries=0),
    (anthropic, False): anthropic.Anthropic(api_key="sk-test", base_url="http://127.0.0.1:9", max_retries=0),
    (anthropic, True): anthropic.AsyncAnthropic(api_key="sk-test", base_url="http://127.0.0.1:9", max_retries=0),
}


def _resource(module: str, cls: str) -> Any:
    """The client resource an SDK method is called on (its ``self``)."""
    client: Any = CLIENTS[(openai if module.startswith("openai") else anthropic, cls.startswith("Async"))]
    if "chat" in module:
        return client.chat.completions
    if "responses" in module:
        return client.responses
    if "embeddings" in module:
        return client.embeddings
    if module.endswith("completions"):
        return client.completions
    if "images" in module:
        return client.images
    if "beta" in module:
        return client.beta.messages
    return client.messages


def _wrappers(is_async: bool) -> list[tuple[str, Any, Any, Any]]:
    """(name, wrapper, resource, stream type) of every instrumented call method, as installed."""
    import importlib

    rows = [
        (m.module, m.cls, m.name, m.is_async)
        for m in chat.METHODS + responses.METHODS + embeddings.METHODS + completions.METHODS + images.METHODS
    ]
    rows += [
        (m.module, m.cls, m.name, m.is_async)
        for m in anthropic_messages.METHODS
        if m.kind == CALL and "bedrock" not in m.module and "vertex" not in m.module
    ]
    out = []
    for module, cls, method, method_is_async in rows:
        if method_is_async != is_async:
            continue
        owner = getattr(importlib.import_module(module), cls, None)
        function = owner.__dict__.get(method) if owner is not None else None
        wrapper = getattr(function, "_self_wrapper", None)
        if wrapper is None:
            continue
        sdk = openai if module.startswith("openai") else anthropic
        stream_type = sdk.AsyncStream if is_async else sdk.Stream
        out.append((f"{cls}.{method} ({module})", wrapper, _resource(module, cls), stream_type))
    return out


def test_every_call_method_is_covered(pipeline):
    names = [name for name, *_ in _wrappers(False)]
    assert len(names) >= 10, names
    assert any("chat" in n for n in names) and any("anthropic" in n for n in names)
    assert len(_wrappers(True)) == len(names)


def _snapshot(kwargs: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    """Identity snapshot of the kwargs and one level into their lists and dicts."""
    out = []
    for key, value in kwargs.items():
        inner = None
        if type(value) is list or type(value) is tuple:
            inner = [id(v) for v in value]
        elif type(value) is dict:
            inner = [(k, id(v)) for k, v in value.items()]
        out.append((key, id(value), inner))
    return out


def _generators(kwargs: dict[str, Any]) -> list[Any]:
    return [v for v in kwargs.values() if inspect.isgenerator(v)]


def _check_inputs_untouched(kwargs: dict[str, Any], snapshot: list, generators: list) -> None:
    assert _snapshot(kwargs) == snapshot
    for generator in generators:
        assert inspect.getgeneratorstate(generator) == inspect.GEN_CREATED  # never consumed


@SETTINGS
@given(index=st.integers(min_value=0), kwargs=kwargs_strategy, result=results)
def test_wrapper_returns_the_sdk_result_whatever_it_is(pipeline, index, kwargs, result):
    wrappers = _wrappers(False)
    name, wrapper, resource, _ = wrappers[index % len(wrappers)]
    snapshot, generators = _snapshot(kwargs), _generators(kwargs)

    def sdk_method(*args: Any, **kw: Any) -> Any:
        assert kw is kwargs or kw == kwargs
        return result

    out = wrapper(sdk_method, resource, (), kwargs)
    assert out is result, name
    _check_inputs_untouched(kwargs, snapshot, generators)


@SETTINGS
@given(index=st.integers(min_value=0), kwargs=kwargs_strategy, message=st.text(max_size=10))
def test_wrapper_reraises_the_sdk_exception_object(pipeline, index, kwargs, message):
    wrappers = _wrappers(False)
    name, wrapper, resource, _ = wrappers[index % len(wrappers)]
    error = Boom(message)

    def sdk_method(*args: Any, **kw: Any) -> Any:
        raise error

    with pytest.raises(Boom) as raised:
        wrapper(sdk_method, resource, (), kwargs)
    assert raised.value is error, name


def _stream(stream_type: type, chunks: list[Any], error: BaseException | None, response: Any) -> Any:
    """A real SDK stream object (``openai.Stream`` / ``anthropic.Stream``) over the given chunks."""

    def iterate() -> Any:
        yield from chunks
        if error is not None:
            raise error

    stream = object.__new__(stream_type)
    stream._iterator = iterate()
    # anthropic's own __next__ reads ``response.stream`` (its tracing observer): only the headers are junk there
    stream.response = response if stream_type in (openai.Stream, openai.AsyncStream) else Obj(headers=response)
    stream.close = lambda: None  # no HTTP response to close behind this stand-in
    return stream


@SETTINGS
@given(
    index=st.integers(min_value=0),
    kwargs=kwargs_strategy,
    chunks=st.lists(st.one_of(junk_objects, junk), max_size=8),
    fails=st.booleans(),
    response=st.one_of(junk_objects, st.builds(Evil), st.none()),
    how=st.sampled_from(["exhaust", "break", "close", "with"]),
)
def test_streams_yield_exactly_the_sdk_chunks(pipeline, index, kwargs, chunks, fails, response, how):
    wrappers = _wrappers(False)
    name, wrapper, resource, stream_type = wrappers[index % len(wrappers)]
    error = Boom("mid-stream") if fails else None
    stream = _stream(stream_type, chunks, error, response)
    out = wrapper(lambda *a, **k: stream, resource, (), {**kwargs, "stream": True})
    if out is stream:  # an API family that never streams (embeddings): returned as is
        return
    assert isinstance(out, stream_type) and out.__wrapped__ is stream, name
    seen: list[Any] = []
    raised: BaseException | None = None
    try:
        if how == "with":
            with out as entered:
                assert entered is out
                seen.extend(entered)
        elif how in ("break", "close"):
            for chunk in out:
                seen.append(chunk)
                break
            if how == "close":
                out.close()
        else:
            seen.extend(out)
    except Boom as exc:
        raised = exc
    expected = chunks[: len(seen)] if how in ("break", "close") else chunks
    assert len(seen) == len(expected) and all(a is b for a, b in zip(seen, expected)), name
    if how in ("exhaust", "with"):
        assert raised is error


@settings(SETTINGS, max_examples=25)
@given(index=st.integers(min_value=0), kwargs=kwargs_strategy, result=results, fail=st.booleans())
def test_async_wrapper_returns_the_sdk_result_or_exception(pipeline, index, kwargs, result, fail):
    wrappers = _wrappers(True)
    name, wrapper, resource, _ = wrappers[index % len(wrappers)]
    error = Boom("async")

    async def sdk_method(*args: Any, **kw: Any) -> Any:
        if fail:
            raise error
        return result

    async def main() -> Any:
        return await wrapper(sdk_method, resource, (), kwargs)

    if fail:
        with pytest.raises(Boom) as raised:
            asyncio.run(main())
        assert raised.value is error, name
    else:
        assert asyncio.run(main()) is result, name


# --- the real clients, side by side with the bare SDK ------------------------------------------------------
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**40), max_value=2**40), st.floats(allow_nan=False), st.text(max_size=10), st.sampled_from(TYPES)),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=5)), children, max_size=6)),
    max_leaves=30,
)
json_objects = st.dictionaries(st.sampled_from(NAMES), json_values, max_size=8)
json_kwargs = st.dictionaries(st.sampled_from(REQUEST_KEYS), json_values, max_size=6)


def _mock_client(sdk: Any, body: bytes, content_type: str, status: int) -> Any:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, headers={"content-type": content_type, "request-id": "req_x"}, content=body)

    http_client = httpx2.Client(transport=httpx2.MockTransport(handler))
    if sdk is openai:
        return openai.OpenAI(api_key="sk-test", http_client=http_client, max_retries=0)
    return anthropic.Anthropic(api_key="sk-test", http_client=http_client, max_retries=0)


def _outcome(call: Any) -> tuple[str, Any]:
    """What the user sees: ('ok', the result's repr / the chunks' reprs) or ('raised', type and message)."""
    try:
        result = call()
        if isinstance(result, (openai.Stream, anthropic.Stream)) or hasattr(result, "__wrapped__"):
            return "ok", [repr(chunk) for chunk in result]
        return "ok", repr(result)
    except Exception as exc:  # noqa: BLE001 - compared with the bare SDK's
        return "raised", (type(exc), str(exc))


def _openai_call(client: Any, api: str, kwargs: dict[str, Any]) -> Any:
    if api == "chat":
        return lambda: client.chat.completions.create(**{"model": "gpt-4o-mini", "messages": [], **kwargs})
    if api == "responses":
        return lambda: client.responses.create(**{"model": "gpt-4o-mini", "input": "hi", **kwargs})
    if api == "completions":
        return lambda: client.completions.create(**{"model": "gpt-3.5-turbo-instruct", "prompt": "hi", **kwargs})
    if api == "embeddings":
        return lambda: client.embeddings.create(**{"model": "text-embedding-3-small", "input": "hi", **kwargs})
    return lambda: client.messages.create(**{"model": "claude-x", "max_tokens": 8, "messages": [], **kwargs})


def _safe_kwargs(api: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments the SDK method accepts (an unknown name is a TypeError before any of ours runs)."""
    method = {
        "chat": openai.resources.chat.completions.completions.Completions.create,
        "responses": openai.resources.responses.Responses.create,
        "completions": openai.resources.completions.Completions.create,
        "embeddings": openai.resources.embeddings.Embeddings.create,
        "messages": anthropic.resources.messages.Messages.create,
    }[api]
    accepted = inspect.signature(inspect.unwrap(method)).parameters
    return {k: v for k, v in kwargs.items() if k in accepted and k != "stream"}


@settings(SETTINGS, max_examples=40)
@given(
    api=st.sampled_from(["chat", "responses", "completions", "embeddings", "messages"]),
    kwargs=json_kwargs,
    body=st.one_of(json_objects.map(json.dumps), st.text(max_size=20)),
    status=st.sampled_from([200, 200, 200, 400, 429, 500]),
)
def test_real_client_result_matches_the_bare_sdk(pipeline, api, kwargs, body, status):
    sdk = anthropic if api == "messages" else openai
    kwargs = _safe_kwargs(api, kwargs)
    content = body.encode()
    pipeline.instrumentors[0 if sdk is openai else 1].uninstrument()
    try:
        bare = _outcome(_openai_call(_mock_client(sdk, content, "application/json", status), api, kwargs))
    finally:
        pipeline.instrumentors[0 if sdk is openai else 1].instrument(
            tracer_provider=pipeline.tracer_provider,
            meter_provider=pipeline.meter_provider,
            logger_provider=pipeline.logger_provider,
            capture_content="SPAN_AND_EVENT",
            skip_dep_check=True,
        )
    traced = _outcome(_openai_call(_mock_client(sdk, content, "application/json", status), api, kwargs))
    assert traced == bare


@settings(SETTINGS, max_examples=40)
@given(
    api=st.sampled_from(["chat", "responses", "completions", "messages"]),
    kwargs=json_kwargs,
    events=st.lists(json_objects, max_size=6),
)
def test_real_client_stream_matches_the_bare_sdk(pipeline, api, kwargs, events):
    sdk = anthropic if api == "messages" else openai
    kwargs = {**_safe_kwargs(api, kwargs), "stream": True}
    if sdk is anthropic:
        body = b"".join(b"event: " + str(e.get("type", "x")).encode() + b"\ndata: " + json.dumps(e).encode() + b"\n\n" for e in events)
    else:
        body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    instrumentor = pipeline.instrumentors[0 if sdk is openai else 1]
    instrumentor.uninstrument()
    try:
        bare = _outcome(_openai_call(_mock_client(sdk, body, "text/event-stream", 200), api, kwargs))
    finally:
        instrumentor.instrument(
            tracer_provider=pipeline.tracer_provider,
            meter_provider=pipeline.meter_provider,
            logger_provider=pipeline.logger_provider,
            capture_content="SPAN_AND_EVENT",
            skip_dep_check=True,
        )
    traced = _outcome(_openai_call(_mock_client(sdk, body, "text/event-stream", 200), api, kwargs))
    assert traced == bare
