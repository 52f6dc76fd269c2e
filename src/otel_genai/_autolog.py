"""``otel_genai.autolog()``: the zero-code setup, in-process (README "Quickstart"; the defaults are ``distro.py``'s).

It instruments every installed SDK and makes sure spans reach an exporter:

* no SDK ``TracerProvider`` yet: build one (resource from ``OTEL_*`` env), with a
  ``BatchSpanProcessor`` to the embedded store, or to OTLP/HTTP when an OTLP endpoint is
  configured (plus an OTLP ``MeterProvider`` when a metrics endpoint is); flushed at exit;
* the app already set up a ``TracerProvider``: keep it and add the embedded-store processor to it
  (unless an OTLP endpoint is configured: the app's own exporters are then assumed to ship there);
* ``OTEL_GENAI_MLFLOW_TRACKING_URI`` (+ ``OTEL_GENAI_MLFLOW_EXPERIMENT``) set: traces go over OTLP to
  that MLflow server, as with the distro (:mod:`otel_genai.exporters.mlflow`); an app's own
  ``TracerProvider`` gets an OTLP processor for it, since its exporters know nothing of this setting.

A SIGTERM whose disposition is still the default flushes the pipeline (at most 2 s) before the
process dies of it (``instrumentation._core.lifecycle``); an app's own handler is left alone.

Content capture defaults to ``SPAN_ONLY`` unless ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
or the ``capture_content`` argument says otherwise. Idempotent; ``autolog(disable=True)`` undoes it.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from .distro import mlflow_configured, otlp_configured
from .instrumentation import INSTRUMENTORS
from .instrumentation._core.lifecycle import install_sigterm_flush
from .semconv.content import ContentCapture
from .tracing import set_content_capture

_logger = logging.getLogger(__name__)
_lock = threading.Lock()
_state: dict[str, Any] = {"instrumentors": [], "processor": None, "provider": None}


def _span_exporter() -> Any:
    if otlp_configured():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    from .exporters.store import TraceStoreSpanExporter

    return TraceStoreSpanExporter()


def _ensure_meter_provider() -> None:
    import os

    from .distro import OTLP_ENDPOINT, OTLP_METRICS_ENDPOINT

    if not (os.environ.get(OTLP_ENDPOINT) or os.environ.get(OTLP_METRICS_ENDPOINT)):
        return
    from opentelemetry.sdk.metrics import MeterProvider as SDKMeterProvider

    if isinstance(metrics.get_meter_provider(), SDKMeterProvider):
        return
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    metrics.set_meter_provider(SDKMeterProvider(metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())]))


def _ensure_tracer_provider() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        if mlflow_configured():
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            processor = BatchSpanProcessor(OTLPSpanExporter())  # endpoint and headers: apply_settings()
        elif otlp_configured():
            return
        else:
            from .exporters.store import TraceStoreSpanExporter

            processor = BatchSpanProcessor(TraceStoreSpanExporter())
        provider.add_span_processor(processor)
        _state["processor"], _state["provider"] = processor, provider
        return
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_span_exporter()))
    trace.set_tracer_provider(provider)


def autolog(disable: bool = False, *, capture_content: str | ContentCapture | None = None) -> None:
    """Trace every ``openai`` / ``anthropic`` call of this process as GenAI spans.

    Args:
        disable: undo a previous ``autolog()``: uninstrument (the processor added to an app's own
            provider is shut down; a provider autolog created stays, as OTel cannot unset it).
        capture_content: a :class:`ContentCapture` or its name; default: the env var, else ``SPAN_ONLY``.

    Never raises for a missing SDK: that instrumentor is skipped.
    """
    with _lock:
        if disable:
            for instrumentor in _state["instrumentors"]:
                instrumentor.uninstrument()
            _state["instrumentors"] = []
            if _state["processor"] is not None:
                _state["processor"].shutdown()
                _state["processor"] = _state["provider"] = None
            set_content_capture(None)
            return
        if _state["instrumentors"]:
            return
        if capture_content is None:
            capture = ContentCapture.from_env(default=ContentCapture.SPAN_ONLY)
        elif isinstance(capture_content, ContentCapture):
            capture = capture_content
        else:
            capture = ContentCapture.parse(capture_content, ContentCapture.SPAN_ONLY)
        set_content_capture(capture)  # otel_genai.trace spans follow the same policy
        if mlflow_configured():
            from .exporters import mlflow

            mlflow.apply_settings()  # OTLP traces endpoint + experiment header, unless set by the user
        _ensure_tracer_provider()
        _ensure_meter_provider()
        for sdk, target in INSTRUMENTORS.items():
            module_name, _, class_name = target.partition(":")
            if importlib.util.find_spec(sdk) is None:  # never import the SDK itself: see _core.imports
                _logger.debug("otel-genai: %s is not installed; its instrumentor is skipped", sdk)
                continue
            instrumentor = getattr(importlib.import_module(module_name), class_name)()
            if instrumentor.is_instrumented_by_opentelemetry:
                continue  # already instrumented (e.g. by opentelemetry-instrument)
            instrumentor.instrument(capture_content=capture)
            _state["instrumentors"].append(instrumentor)
        install_sigterm_flush()  # docker stop / kill: finished spans still queued are flushed first
