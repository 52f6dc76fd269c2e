"""Old import path of ``otel-genai serve``'s server, kept for importers: it now lives in
:mod:`otel_genai.server` (Starlette + uvicorn; ingest, the JSON API and the trace viewer)."""

from ..server.ingest import IngestError
from ..server.runner import (
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
    "IngestError",
    "OTLPReceiver",
    "TraceServer",
]
