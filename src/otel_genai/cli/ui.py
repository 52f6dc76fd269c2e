"""``otel-genai ui``: the trace viewer on 127.0.0.1, over a store (the server of :mod:`.serve`)."""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser

from ..server.runner import TraceServer
from .serve import add_server_arguments, run_server


def register_ui(subparsers: "argparse._SubParsersAction") -> None:
    """``otel-genai ui [--store URI] [--port PORT]``: serve the viewer, print its URL, open a browser."""
    p = subparsers.add_parser(
        "ui",
        help="the trace viewer in the browser (http://127.0.0.1:PORT/), over the trace store",
        description="Serve the trace viewer on 127.0.0.1 and print its URL (opening a browser when one is"
        " available). The same server takes OTLP/HTTP traces at /v1/traces, so an app can export to it"
        " while you look. Example: otel-genai ui --store sqlite:///tmp/demo.db --port 8080",
    )
    add_server_arguments(p, host=False)
    p.add_argument("--no-browser", action="store_true", help="print the URL only; do not open a browser")
    p.set_defaults(handler=_cmd_ui)


def _cmd_ui(args: argparse.Namespace) -> int:
    def announce(server: TraceServer) -> None:
        mode = " (read-only)" if server.settings.read_only else ""
        print(f"otel-genai: trace viewer at {server.url}/ -> {server.store.location}{mode}"
              f" (OTLP/HTTP at {server.endpoint}; Ctrl-C to stop)", flush=True)
        if not args.no_browser and _browser_available():
            try:
                webbrowser.open(server.url + "/", new=2)
            except webbrowser.Error:
                pass

    return run_server(args, announce)


def _browser_available() -> bool:
    """A graphical browser can be opened: macOS, Windows, a display (X11 / Wayland), or ``$BROWSER``.

    Without a display, :mod:`webbrowser` would pick a console browser and take over the terminal.
    """
    if os.environ.get("BROWSER") or sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
