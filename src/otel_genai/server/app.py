"""The Starlette application behind ``otel-genai serve`` / ``otel-genai ui``: every route in one table.

=========================  ==========================================================================
``POST /v1/traces``        OTLP/HTTP ingest (:mod:`.ingest`); bearer token when ``token`` is set
``GET /health``            ``{"status": "ok"}``, no token
``/api/...``               the JSON read API over the store (:mod:`.api`)
``GET /``, ``/traces/ID``  the trace viewer (:mod:`.viewer`): one page, its assets under ``/static/``
``GET /sessions``
=========================  ==========================================================================

Anything else is 404 with a ``google.rpc.Status`` message (in the request's encoding), as OTLP
clients expect. The store is shared by every request (every
:class:`~otel_genai.store.interface.TraceStore` is thread-safe); blocking store calls run in
Starlette's worker threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..store.interface import TraceStore
from . import api, viewer
from .http11 import BodyError
from .ingest import HEALTH_PATH, TRACES_PATH, IngestError, media_type, not_found_message, status_response, traces_endpoint


@dataclass(frozen=True)
class Settings:
    """What a server was started with.

    Attributes:
        token: the bearer token required to write (``POST /v1/traces``, tag and delete calls), or
            ``None``.
        protect_reads: the token is required to read too (``/api/`` reads); the viewer's page and
            assets hold no data and stay open, the page asks for the token.
        read_only: no writes at all: ingest answers 403, and so do the API's writes.
        max_body_bytes: largest accepted ingest body, as received and after decompression (413).
    """

    token: Optional[str] = None
    protect_reads: bool = False
    read_only: bool = False
    max_body_bytes: int = 20 * 1024 * 1024


async def _health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


async def _not_found(request: Request, exc: Exception) -> Response:
    """404 for every unknown path: a ``google.rpc.Status`` (API paths: ``{"error": ...}`` JSON)."""
    path = request.url.path
    if path.startswith("/api/"):
        return JSONResponse({"error": f"no such API endpoint {path!r}"}, status_code=404)
    return status_response(IngestError(404, not_found_message(path)), media_type(request))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return await _not_found(request, exc)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _body_error(request: Request, exc: Exception) -> Response:
    status = exc.http_status if isinstance(exc, BodyError) else 408
    return JSONResponse({"error": str(exc)}, status_code=status, headers={"Connection": "close"})


def build_app(store: TraceStore, settings: Settings = Settings()) -> Starlette:
    """The ASGI application over an open ``store`` (not closed by the app)."""
    routes = [
        Route(TRACES_PATH, traces_endpoint, methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
        Route(HEALTH_PATH, _health, methods=["GET", "HEAD"]),
        *api.routes(),
        *viewer.routes(),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, 404: _not_found, BodyError: _body_error,
                            TimeoutError: _body_error},
    )
    app.state.store = store
    app.state.settings = settings
    return app
