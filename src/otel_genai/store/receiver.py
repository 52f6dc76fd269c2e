"""Old import path of ``otel-genai serve``'s server, kept for importers: it now lives in
:mod:`otel_genai.server` (Starlette + uvicorn; ingest, the JSON API and the trace viewer). Every
name of :mod:`otel_genai.server` (``OTLPReceiver``, ``TraceServer``, the ``DEFAULT_*`` settings,
``TOKEN_ENV``) and ``IngestError`` resolve here as there."""

from typing import Any

from .. import server as _server
from ..server.ingest import IngestError

__all__ = [*_server.__all__, "IngestError"]


def __getattr__(name: str) -> Any:
    if name in _server.__all__:
        return getattr(_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
