"""MLflow preset: ship traces to an MLflow tracking server's OTLP endpoint in one setting.

``OTEL_GENAI_MLFLOW_TRACKING_URI=http://127.0.0.1:5000`` (plus, optionally,
``OTEL_GENAI_MLFLOW_EXPERIMENT=<name>``) is the otel-genai equivalent of the seeds'
``mlflow.set_tracking_uri(...)`` + ``mlflow.set_experiment(...)``: the distro and ``autolog()`` then
export traces over OTLP/HTTP-protobuf to ``<uri>/v1/traces`` with the ``x-mlflow-experiment-id``
header MLflow's server requires. The experiment is looked up by name through MLflow's REST API and
created when missing; with no name, traces go to MLflow's ``Default`` experiment (id ``0``).

This only fills ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_HEADERS``, so the
plain OTel way works just as well and wins when both are set::

    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:5000/v1/traces
    OTEL_EXPORTER_OTLP_TRACES_HEADERS=x-mlflow-experiment-id=123

MLflow takes traces only: metrics stay off unless an OTLP endpoint for them is configured too.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import MutableMapping
from typing import Any

_logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "EXPERIMENT_ENV",
    "EXPERIMENT_ID_HEADER",
    "TRACKING_URI_ENV",
    "MlflowSetupError",
    "apply_settings",
    "mlflow_span_exporter",
    "resolve_experiment_id",
    "traces_endpoint",
]

TRACKING_URI_ENV = "OTEL_GENAI_MLFLOW_TRACKING_URI"
EXPERIMENT_ENV = "OTEL_GENAI_MLFLOW_EXPERIMENT"
EXPERIMENT_ID_HEADER = "x-mlflow-experiment-id"
DEFAULT_EXPERIMENT_ID = "0"  # MLflow's "Default" experiment

_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
_TRACES_HEADERS = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
_HEADERS = "OTEL_EXPORTER_OTLP_HEADERS"
_TIMEOUT_S = 5.0


class MlflowSetupError(Exception):
    """The MLflow tracking server could not be asked for (or could not create) the experiment."""


def tracking_uri(environ: MutableMapping[str, str] | None = None) -> str | None:
    """``$OTEL_GENAI_MLFLOW_TRACKING_URI`` without a trailing slash, or ``None`` when unset."""
    environ = os.environ if environ is None else environ
    uri = (environ.get(TRACKING_URI_ENV) or "").strip().rstrip("/")
    return uri or None


def traces_endpoint(uri: str) -> str:
    """MLflow's OTLP traces endpoint for a tracking URI: ``<uri>/v1/traces``."""
    return uri.rstrip("/") + "/v1/traces"


def apply_settings(environ: MutableMapping[str, str] | None = None) -> bool:
    """Point the OTLP trace exporter at MLflow when ``$OTEL_GENAI_MLFLOW_TRACKING_URI`` is set.

    Sets ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (unless the user set it: theirs wins, and then nothing
    is changed) and adds ``x-mlflow-experiment-id`` to ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` (keeping
    the user's headers, including ``OTEL_EXPORTER_OTLP_HEADERS``, which the traces variable would
    otherwise hide). The experiment named by ``$OTEL_GENAI_MLFLOW_EXPERIMENT`` is resolved (created
    if missing) now; if the server cannot be asked, a warning says so and traces go to the Default
    experiment. Returns whether the MLflow settings were applied. Never raises.
    """
    environ = os.environ if environ is None else environ
    uri = tracking_uri(environ)
    if uri is None or environ.get(_TRACES_ENDPOINT):
        return False
    if not uri.startswith(("http://", "https://")):
        _logger.warning("otel-genai: %s=%r is not an http(s) URL of an MLflow tracking server; ignored",
                        TRACKING_URI_ENV, uri)
        return False
    name = (environ.get(EXPERIMENT_ENV) or "").strip()
    experiment_id = DEFAULT_EXPERIMENT_ID
    if name:
        try:
            experiment_id = resolve_experiment_id(uri, name)
        except MlflowSetupError as exc:
            _logger.warning("otel-genai: %s; traces go to MLflow's Default experiment (id %s)",
                            exc, DEFAULT_EXPERIMENT_ID)
    environ[_TRACES_ENDPOINT] = traces_endpoint(uri)
    environ[_TRACES_HEADERS] = _with_header(
        environ.get(_TRACES_HEADERS) or environ.get(_HEADERS) or "", EXPERIMENT_ID_HEADER, experiment_id
    )
    return True


def _with_header(headers: str, name: str, value: str) -> str:
    """``headers`` (the OTel ``k=v,k2=v2`` form) with ``name=value`` added unless already present."""
    present = {item.split("=", 1)[0].strip().lower() for item in headers.split(",") if "=" in item}
    if name in present:
        return headers
    item = f"{name}={urllib.parse.quote(value, safe='')}"
    return f"{headers},{item}" if headers.strip() else item


def resolve_experiment_id(uri: str, name: str, *, timeout: float = _TIMEOUT_S) -> str:
    """The id of the MLflow experiment called ``name`` on the server at ``uri``, created if missing.

    Uses MLflow's REST API (``experiments/get-by-name``, then ``experiments/create``; a concurrent
    creation by another process is tolerated). Raises :class:`MlflowSetupError`.
    """
    base = uri.rstrip("/") + "/api/2.0/mlflow/experiments"
    query = urllib.parse.urlencode({"experiment_name": name})
    found = _call(f"{base}/get-by-name?{query}", None, timeout, missing_ok=True)
    if found is not None:
        return str(found["experiment"]["experiment_id"])
    created = _call(f"{base}/create", {"name": name}, timeout, exists_ok=True)
    if created is not None:
        return str(created["experiment_id"])
    found = _call(f"{base}/get-by-name?{query}", None, timeout)  # created meanwhile by someone else
    return str(found["experiment"]["experiment_id"])


def _call(url: str, payload: dict | None, timeout: float, *, missing_ok: bool = False,
          exists_ok: bool = False) -> Any | None:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            code = json.loads(exc.read() or b"{}").get("error_code")
        except ValueError:
            code = None
        if (missing_ok and code == "RESOURCE_DOES_NOT_EXIST") or (exists_ok and code == "RESOURCE_ALREADY_EXISTS"):
            return None
        raise MlflowSetupError(f"MLflow at {url.split('/api/')[0]} answered {exc.code} ({code or exc.reason})"
                               f" to {url.split('/experiments/')[-1].split('?')[0]}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise MlflowSetupError(f"cannot reach the MLflow tracking server at {url.split('/api/')[0]}: {reason}") from None


def mlflow_span_exporter(uri: str | None = None, experiment: str | None = None, **kwargs: Any) -> Any:
    """An OTLP/HTTP-protobuf ``OTLPSpanExporter`` for an MLflow tracking server (for apps that build
    their own pipeline): ``uri`` and ``experiment`` (a name, created if missing) default to
    ``$OTEL_GENAI_MLFLOW_TRACKING_URI`` / ``$OTEL_GENAI_MLFLOW_EXPERIMENT``; other keyword arguments
    go to the exporter. With ``OTEL_GENAI_SPAN_COST=true`` it is wrapped in
    :class:`~otel_genai.store.pricing.CostSpanExporter`, so each priced inference span carries
    MLflow's ``mlflow.llm.cost``. Raises :class:`MlflowSetupError` when the experiment cannot be
    resolved."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    uri = (uri or tracking_uri() or "").rstrip("/")
    if not uri:
        raise MlflowSetupError(f"no MLflow tracking URI: pass one or set {TRACKING_URI_ENV}")
    name = experiment if experiment is not None else (os.environ.get(EXPERIMENT_ENV) or "").strip()
    experiment_id = resolve_experiment_id(uri, name) if name else DEFAULT_EXPERIMENT_ID
    headers = dict(kwargs.pop("headers", None) or {})
    headers.setdefault(EXPERIMENT_ID_HEADER, experiment_id)
    exporter = OTLPSpanExporter(endpoint=traces_endpoint(uri), headers=headers, **kwargs)
    from ..store.pricing import CostSpanExporter, span_cost_enabled

    return CostSpanExporter(exporter) if span_cost_enabled() else exporter
