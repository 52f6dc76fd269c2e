"""The otel-genai ``Distro`` and configurator (entry points ``opentelemetry_distro`` and
``opentelemetry_configurator``, both named ``otel_genai``), and the defaults they share with
``otel_genai.autolog()`` (DESIGN.md §7).

Defaults, applied only where the user has set nothing:

* no OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``):
  traces go to the embedded store (``OTEL_TRACES_EXPORTER=otel_genai``), metrics and logs to ``none``;
* an OTLP endpoint: ``otlp`` over ``http/protobuf`` (MLflow and most SaaS backends accept only HTTP)
  for traces, and for metrics when the endpoint is not traces-only;
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


def otlp_configured(environ: MutableMapping[str, str] | None = None) -> bool:
    """True when an OTLP endpoint for traces is configured."""
    environ = os.environ if environ is None else environ
    return bool(environ.get(OTLP_ENDPOINT) or environ.get(OTLP_TRACES_ENDPOINT))


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
    """Set each :func:`default_settings` entry the user has not set (an empty value counts as unset)."""
    environ = os.environ if environ is None else environ
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
