"""Run an example against the project's local demo endpoint, or against the real API with ``--live``.

Each script in ``examples/`` calls :func:`serve_unless_live` before it builds its client:

* by default it serves the demo endpoint (:mod:`otel_genai.demo.fixture`: OpenAI Chat Completions and
  Responses, Anthropic Messages, an Open-Meteo-shaped forecast) on ``127.0.0.1`` in a daemon thread
  and points ``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL`` and ``OPEN_METEO_URL`` at it, with
  placeholder API keys, so the example runs offline and prints the same figures every run;
* with ``--live`` on the command line it changes nothing and checks that the API key it needs is set
  (``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``); without it the script exits with a one-line error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from .fixture import respond
from .server import LoopbackServer

LIVE_FLAG = "--live"
_KEYS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
_server: list[LoopbackServer] = []


def serve_unless_live(provider: str = "openai", argv: Sequence[str] | None = None) -> str | None:
    """Serve the demo endpoint unless ``--live`` is in ``argv`` (default ``sys.argv``).

    Returns the local base URL (``http://127.0.0.1:<port>``), or ``None`` in live mode. In live mode
    a missing API key for ``provider`` (``"openai"`` or ``"anthropic"``) ends the process with
    status 2 and one line on stderr. Serving twice in one process reuses the first server.
    """
    args = sys.argv[1:] if argv is None else argv
    if LIVE_FLAG in args:
        key = _KEYS.get(provider)
        if key and not os.environ.get(key):
            print(f"{os.path.basename(sys.argv[0] or 'example')}: {LIVE_FLAG} needs {key} in the environment", file=sys.stderr)
            raise SystemExit(2)
        return None
    if not _server:
        _server.append(LoopbackServer(respond).start())
    base = _server[0].base_url
    os.environ["OPENAI_BASE_URL"] = base + "/v1"
    os.environ["OPENAI_API_KEY"] = "demo-key"
    os.environ["ANTHROPIC_BASE_URL"] = base
    os.environ["ANTHROPIC_API_KEY"] = "demo-key"
    os.environ["OPEN_METEO_URL"] = base
    return base
