"""The otel-genai ``Distro`` and configurator (entry points ``opentelemetry_distro`` and
``opentelemetry_configurator``, both named ``otel_genai``), and the defaults they share with
``otel_genai.autolog()`` (README "Quickstart").

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

One GenAI span per call: when our instrumentor for an SDK is active, another GenAI instrumentation of
the same SDK in the ``opentelemetry_instrumentor`` group (the official
``opentelemetry-instrumentation-genai-openai`` / ``-anthropic``, OpenLLMetry's, ...) is not loaded, and
the log says so once per instrumentation. To run one anyway, name its entry point in
``OTEL_GENAI_KEEP_INSTRUMENTATIONS`` (comma-separated), or disable ours with
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=otel_genai_openai`` to use that one instead.

Coexisting with ``opentelemetry-distro``: set ``OTEL_PYTHON_DISTRO=otel_genai`` and
``OTEL_PYTHON_CONFIGURATOR=otel_genai`` to choose ours when both are installed (only our distro
skips the duplicate instrumentations).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from typing import Any, MutableMapping

from opentelemetry.instrumentation.distro import BaseDistro
from opentelemetry.sdk._configuration import _OTelSDKConfigurator

from .instrumentation import ENTRY_POINTS
from .semconv.content import CAPTURE_MESSAGE_CONTENT_ENV, DISTRIBUTION_DEFAULT

_logger = logging.getLogger(__name__)

TRACE_STORE_EXPORTER = "otel_genai"

OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTLP_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
OTLP_METRICS_ENDPOINT = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
MLFLOW_TRACKING_URI = "OTEL_GENAI_MLFLOW_TRACKING_URI"  # see otel_genai.exporters.mlflow
KEEP_INSTRUMENTATIONS = "OTEL_GENAI_KEEP_INSTRUMENTATIONS"
DISABLED_INSTRUMENTATIONS = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"  # opentelemetry-instrument's own
_DISTRIBUTION = "otel-genai"


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


def _names(environ: MutableMapping[str, str], key: str) -> set[str]:
    return {name.strip() for name in (environ.get(key) or "").split(",") if name.strip()}


#: a foreign entry point's or requirement's distribution name -> the SDK key of ours it names, where
#: the two differ (the ``google-genai`` distribution is imported as ``google.genai``; OpenLLMetry's
#: LangChain entry point is named ``langchain`` and requires ``langchain``, which our
#: ``langchain_core`` hook covers)
_SDK_NAMES = {"google-genai": "google.genai", "langchain": "langchain_core", "langchain-core": "langchain_core"}


def instrumented_sdks(entry_point: Any) -> set[str]:
    """The SDKs we instrument (import names, keys of :data:`ENTRY_POINTS`) that the
    ``opentelemetry_instrumentor`` entry point ``entry_point`` instruments too: its name (``openai``,
    ``anthropic``), and what its distribution's ``instruments`` / ``instruments-any`` extra requires
    (the contrib convention, e.g. ``openai<4,>=1.26.0; extra == 'instruments'``)."""
    from packaging.requirements import InvalidRequirement, Requirement

    sdks = {_SDK_NAMES.get(entry_point.name, entry_point.name)} & ENTRY_POINTS.keys()
    dist = getattr(entry_point, "dist", None)
    for text in (dist.requires or ()) if dist is not None else ():
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        name = requirement.name.lower().replace("_", "-")
        name = _SDK_NAMES.get(name, name)
        if name in ENTRY_POINTS and requirement.marker is not None and "instruments" in str(requirement.marker):
            sdks.add(name)
    return sdks


def duplicate_of_ours(entry_point: Any, environ: MutableMapping[str, str] | None = None) -> set[str]:
    """The SDKs for which ``entry_point``, another distribution's instrumentor, would trace calls our
    active instrumentor already traces (empty: load it). Ours is active for an SDK that is installed
    and whose entry point is not in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``; a name listed in
    ``OTEL_GENAI_KEEP_INSTRUMENTATIONS`` is always loaded."""
    environ = os.environ if environ is None else environ
    dist = getattr(entry_point, "dist", None)
    if dist is not None and dist.name == _DISTRIBUTION:
        return set()
    if entry_point.name in _names(environ, KEEP_INSTRUMENTATIONS):
        return set()
    disabled = _names(environ, DISABLED_INSTRUMENTATIONS)
    return {
        sdk
        for sdk in instrumented_sdks(entry_point)
        if ENTRY_POINTS[sdk] not in disabled and importlib.util.find_spec(sdk) is not None
    }


class OtelGenAIDistro(BaseDistro):
    """``opentelemetry-instrument`` distro: applies the otel-genai environment defaults, and loads no
    second GenAI instrumentation of an SDK that ours instruments (:func:`duplicate_of_ours`)."""

    def _configure(self, **kwargs: Any) -> None:
        apply_defaults()

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        """``BaseDistro.load_instrumentor``, except for another GenAI instrumentation of an SDK that
        our active instrumentor traces: that one is skipped (one span per call), with one warning."""
        try:
            sdks = duplicate_of_ours(entry_point)
        except Exception:  # never lose an instrumentation to a fault of ours
            _logger.debug("otel-genai: could not inspect instrumentation %s", entry_point.name, exc_info=True)
            sdks = set()
        if sdks:
            ours = ", ".join(ENTRY_POINTS[sdk] for sdk in sorted(sdks))
            _logger.warning(
                "otel-genai: not loading instrumentation %r (%s): %s already traces %s, one GenAI span per call; "
                "set %s=%s to load it too, or %s=%s to use it instead",
                entry_point.name,
                entry_point.value,
                ours,
                ", ".join(sorted(sdks)),
                KEEP_INSTRUMENTATIONS,
                entry_point.name,
                DISABLED_INSTRUMENTATIONS,
                ours,
            )
            return
        super().load_instrumentor(entry_point, **kwargs)


class OtelGenAIConfigurator(_OTelSDKConfigurator):
    """Builds the SDK pipeline from the environment (the standard OTel SDK configurator), after
    applying the otel-genai defaults in case another distro ran instead of ours."""

    def _configure(self, **kwargs: Any) -> None:
        apply_defaults()
        super()._configure(**kwargs)
        from .instrumentation._core.lifecycle import install_sigterm_flush

        install_sigterm_flush()  # docker stop / kill: finished spans still queued are flushed first
        from .tracing.trace_attributes import install_processor

        install_processor()  # otel_genai.attributes(...) stamps every span, not only the LLM ones
