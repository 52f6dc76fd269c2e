"""``otel-genai serve`` / ``otel-genai ui``: one server for OTLP ingest, the JSON read API and the viewer.

Layout, top-down:

* :mod:`.runner`: :class:`TraceServer` binds the socket and runs the app with uvicorn.
* :mod:`.app`: the Starlette application and its route table (:func:`build_app`, :class:`Settings`).
* :mod:`.ingest`: ``POST /v1/traces`` (OTLP/HTTP protobuf or JSON, gzip/deflate) and its error answers.
* :mod:`.api`: ``/api/...``, the JSON read API over the store.
* :mod:`.viewer`: the viewer's page and assets (``otel_genai/viewer/static/``).
* :mod:`.http11`: the HTTP/1.1 wire layer uvicorn runs (read timeouts, chunked bodies).
"""

from .app import Settings, build_app
from .runner import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PORT,
    DEFAULT_READ_TIMEOUT_S,
    TOKEN_ENV,
    OTLPReceiver,
    TraceServer,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_PORT",
    "DEFAULT_READ_TIMEOUT_S",
    "TOKEN_ENV",
    "OTLPReceiver",
    "Settings",
    "TraceServer",
    "build_app",
]
