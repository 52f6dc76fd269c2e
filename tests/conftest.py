"""Shared fixtures: a real OTel SDK pipeline (in-memory span exporter + metric reader), the
instrumentors bound to it (removed again after each test), and a loopback server answering canned
responses."""

from __future__ import annotations

import asyncio
import gc
import json
import os
from functools import partial
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

# Our internal faults fail the test instead of being logged and swallowed (set before otel_genai is
# imported; the programs the tests start inherit it). Tests that inject faults use ``swallow_faults``.
os.environ["OTEL_GENAI_RAISE_FAULTS"] = "1"

from otel_genai.demo.server import LoopbackServer, Request, Response  # noqa: E402
from otel_genai.instrumentation._core.faults import raise_faults  # noqa: E402
from otel_genai.instrumentation.openai import OpenAIInstrumentor  # noqa: E402
from recorded import Replayer  # noqa: E402


@pytest.fixture
def swallow_faults():
    """For a test that injects a fault into our code on purpose: faults are logged and swallowed,
    as in production, while it runs."""
    previous = raise_faults(False)
    yield
    raise_faults(previous)

SCHEMAS = Path(__file__).parent / "schemas"


class Telemetry:
    """What the instrumented code emitted: finished spans and collected metric points."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader])

    def spans(self) -> list[Any]:
        return list(self.exporter.get_finished_spans())

    def metric_points(self, name: str) -> list[Any]:
        data = self.metric_reader.get_metrics_data()
        points = []
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points


@pytest.fixture(scope="session")
def replayer():
    """The session's loopback server replaying recorded interactions."""
    replayer = Replayer()
    yield replayer
    replayer.stop()


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


@pytest.fixture
def instrumentors(telemetry: Telemetry):
    """Call ``instrumentors(InstrumentorClass, capture_content=..., **instrument_kwargs)`` to
    instrument an SDK against ``telemetry``; every instrumentor used is uninstrumented afterwards."""
    used: list[Any] = []

    def _instrument(cls: type, capture_content: str = "SPAN_ONLY", **kwargs: Any) -> Any:
        instrumentor = cls()
        instrumentor.instrument(
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            capture_content=capture_content,
            **kwargs,
        )
        used.append(instrumentor)
        return instrumentor

    yield _instrument
    for instrumentor in reversed(used):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


@pytest.fixture
def instrument(instrumentors):
    """Call ``instrument(capture_content=...)`` to instrument openai against ``telemetry``."""
    return partial(instrumentors, OpenAIInstrumentor)


@pytest.fixture
def instrument_anthropic(instrumentors):
    """Call ``instrument_anthropic(capture_content=..., **kwargs)`` to instrument anthropic against ``telemetry``."""
    from otel_genai.instrumentation.anthropic import AnthropicInstrumentor

    return partial(instrumentors, AnthropicInstrumentor)


@pytest.fixture
def global_tracer_provider(telemetry: Telemetry, monkeypatch):
    """The global tracer provider is the test's own (restored afterwards), so a span that an SDK's
    own tracing adds beside ours is seen by ``telemetry.spans()``."""
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", telemetry.tracer_provider)


class CannedServer:
    """A loopback server answering queued ``Response`` s in order (500 when none is left)."""

    def __init__(self) -> None:
        self.queue: list[Response] = []
        self.server = LoopbackServer(self._respond).start()

    def _respond(self, request: Request) -> Response:
        if not self.queue:
            return Response(500, b'{"type":"error","error":{"type":"api_error","message":"nothing queued"}}')
        return self.queue.pop(0)

    def play(self, *responses: Response) -> str:
        """Answer the next requests with ``responses``; returns the server's base URL."""
        self.queue[:] = responses
        return self.server.base_url

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def canned():
    server = CannedServer()
    yield server
    server.stop()


_validators: dict[str, jsonschema.protocols.Validator] = {}


def validate_content(attribute: str, value: str) -> Any:
    """Decode a content attribute and validate it against its semconv v1.41.1 JSON schema."""
    name = {
        "gen_ai.input.messages": "gen-ai-input-messages.json",
        "gen_ai.output.messages": "gen-ai-output-messages.json",
        "gen_ai.system_instructions": "gen-ai-system-instructions.json",
        "gen_ai.tool.definitions": "gen-ai-tool-definitions.json",
    }[attribute]
    validator = _validators.get(name)
    if validator is None:
        schema = json.loads((SCHEMAS / name).read_text())
        validator = _validators[name] = jsonschema.Draft202012Validator(schema)
    decoded = json.loads(value)
    validator.validate(decoded)
    return decoded


async def cancel_mid_stream(consume: Any, started: asyncio.Event) -> None:
    """Run ``consume()`` as a task, cancel it once ``started`` is set (mid-stream), check the
    ``CancelledError`` reaches the caller, then collect garbage so any dropped stream is finalised."""
    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gc.collect()


# --- store backends (the trace store on SQLite and on a real PostgreSQL server) -----------------

#: the backends ``store_uri`` runs a test on
STORE_BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session (``tests/postgres_support.py``: a throw-away
    ``initdb`` cluster on 127.0.0.1 and a free port), started on first use and stopped at the end
    of the session, also when it fails. ``postgres_server.create_database()`` -> a fresh URI."""
    from postgres_support import PostgresServer

    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=STORE_BACKENDS)
def store_uri(request, tmp_path: Path) -> str:
    """A fresh, empty trace store's URI, once per backend: ``sqlite:///<tmp>/traces.db`` (the file
    does not exist yet) or ``postgresql://user:password@127.0.0.1:<port>/<fresh database>`` (an empty
    database of the session's server, dropped after the test)."""
    if request.param == "sqlite":
        yield "sqlite://" + str(tmp_path / "traces.db")
        return
    server = request.getfixturevalue("postgres_server")
    uri = server.create_database()
    yield uri
    server.drop_database(uri)
