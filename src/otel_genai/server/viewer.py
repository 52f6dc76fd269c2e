"""The trace viewer's routes: one HTML page for every viewer URL, its assets under ``/static/``.

The page (``otel_genai/viewer/static/index.html``) and its script and style ship in the wheel
(``otel_genai/viewer/``): no CDN, no build step. The script renders everything from ``/api/`` with DOM
text nodes, never as HTML, so captured content (prompts are untrusted input) always shows as text; the
``Content-Security-Policy`` allows scripts from this server only, as a second guard.

Deep links: ``/`` (the trace list), ``/traces/<id>`` (one trace), ``/traces/<id>?span=<span id>`` (a
span selected), ``/sessions`` (traces grouped by ``session.id``).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent.parent / "viewer" / "static"
#: scripts, styles, images and API calls from this server only; no inline script, no framing
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
       " base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer"}


async def _page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=_HEADERS)


class _Static(StaticFiles):
    async def get_response(self, path: str, scope) -> Response:  # type: ignore[override]
        response = await super().get_response(path, scope)
        response.headers.update(_HEADERS)
        return response


def routes() -> list:
    return [
        Route("/", _page, methods=["GET", "HEAD"]),
        Route("/sessions", _page, methods=["GET", "HEAD"]),
        Route("/traces/{trace_id}", _page, methods=["GET", "HEAD"]),
        Mount("/static", app=_Static(directory=STATIC), name="static"),
    ]
