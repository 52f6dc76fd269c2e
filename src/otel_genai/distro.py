"""The otel-genai ``Distro`` and configurator (entry points ``opentelemetry_distro`` and
``opentelemetry_configurator``, both named ``otel_genai``), and the defaults they share with
``otel_genai.autolog()`` (DESIGN.md §7).

Defaults, applied only where the user has set nothing:

* no OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``):
  traces go to the embedded store (``OTEL_TRACES_EXPORTER=otel_genai``), metrics and logs to ``none``;
* an OTLP endpoint: ``otlp`` over ``http/protobuf`` (MLflow and most SaaS backends accept only HTTP)
  for traces, and for metrics when the endpoint is not traces-only;
* ``OTEL_GENAI_MLFLOW_TRACKING_URI`` (+ optional ``OTEL_GENAI_MLFLOW_EXPERIMENT``, a name): traces go
  over OTLP to that MLflow server's ``/v1/traces`` with its ``x-mlflow-experiment-id`` header
  (:mod:`otel_genai.exporters.mlflow`; an explicit ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` wins);
* ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY``, as MLflow autolog records inputs
  and outputs (the instrumentors alone default to ``NO_CONTENT``, as the spec asks).

Coexisting with ``opentelemetry-distro``: set ``OTEL_PYTHON_DISTRO=otel_genai`` and
``OTEL_PYTHON_CONFIGURATOR=otel_genai`` to choose ours when both are installed.
"""

from __future__ import annotations

import os
from typing import Any, MutableMapping

from opentelemetry.instrumentation.distro import BaseDistro
from opentelemetry.sdk._configuration import _OTelSDKConfigurator

from .semconv.content import CAPTURE_MESSAGE_CONTENT_ENV, DISTRIBUTION_DEFAULT

TRACE_STORE_EXPORTER = "otel_genai"

OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTLP_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
OTLP_METRICS_ENDPOINT = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
MLFLOW_TRACKING_URI = "OTEL_GENAI_MLFLOW_TRACKING_URI"  # see otel_genai.exporters.mlflow


def otlp_configured(environ: MutableMapping[str, str] | None = None) -> bool:
    """True when traces go over OTLP: an OTLP endpoint for traces, or an MLflow tracking server."""
    environ = os.environ if environ is None else environ
    return bool(environ.get(OTLP_ENDPOINT) or environ.get(OTLP_TRACES_ENDPOINT) or mlflow_configured(environ))


def mlflow_configured(environ: MutableMapping[str, str] | None = None) -> bool:
    """True when ``OTEL_GENAI_MLFLOW_TRACKING_URI`` names an MLflow tracking server (an http(s) URL)."""
    environ = os.environ if environ is None else environ
    return (environ.get(MLFLOW_TRACKING_URI) or "").strip().startswith(("http://", "https://"))


def default_settings(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """The environment defaults the distribution applies, given the current environment."""
    environ = os.environ if environ is None else environ
    settings = {CAPTURE_MESSAGE_CONTENT_ENV: DISTRIBUTION_DEFAULT}
    if otlp_configured(environ):
        metrics = environ.get(OTLP_ENDPOINT) or environ.get(OTLP_METRICS_ENDPOINT)
        settings.update(
            {
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_METRICS_EXPORTER": "otlp" if metrics else "none",
                "OTEL_LOGS_EXPORTER": "none",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            }
        )
    else:
        settings.update(
            {
                "OTEL_TRACES_EXPORTER": TRACE_STORE_EXPORTER,
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
            }
        )
    return settings


def apply_defaults(environ: MutableMapping[str, str] | None = None) -> None:
    """Set each :func:`default_settings` entry the user has not set (an empty value counts as unset),
    after filling the OTLP trace endpoint and headers from the MLflow setting, if any."""
    environ = os.environ if environ is None else environ
    if environ.get(MLFLOW_TRACKING_URI):
        from .exporters import mlflow

        mlflow.apply_settings(environ)  # resolves the experiment: one REST call, once per process
    for key, value in default_settings(environ).items():
        if not environ.get(key):
            environ[key] = value


class OtelGenAIDistro(BaseDistro):
    """``opentelemetry-instrument`` distro: applies the otel-genai environment defaults."""

    def _configure(self, **kwargs: Any) -> None:
        apply_defaults()


class OtelGenAIConfigurator(_OTelSDKConfigurator):
    """Builds the SDK pipeline from the environment (the standard OTel SDK configurator), after
    applying the otel-genai defaults in case another distro ran instead of ours."""

    def _configure(self, **kwargs: Any) -> None:
        apply_defaults()
        super()._configure(**kwargs)
