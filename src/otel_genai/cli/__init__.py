"""The ``otel-genai`` command: one module per subcommand.

``otel-genai demo``         run an instrumented example app against a local endpoint, print its token
                            usage (:mod:`.demo`).
``otel-genai traces list``  newest traces of the trace store, one line each (:mod:`.traces`).
``otel-genai traces show``  one trace as a span tree, with token usage per LLM span and in total.
``otel-genai serve``        an OTLP/HTTP receiver in front of the store (:mod:`.serve`).

Subcommands are added by *registrars*: functions that receive the ``add_subparsers()`` object, add
their parser(s) and set ``handler=<function(args) -> int>`` with ``set_defaults``. To add one, write
a module with ``def register_x(subparsers): ...`` and append it to :data:`SUBCOMMANDS`.

Errors the user can act on (no store, another application's database, unknown trace id, a port in
use) print one line on stderr and exit 1; bad arguments print argparse's one-line
``otel-genai <command>: error: ...`` and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, List, Optional, Sequence

from ..store import StoreError
from ._common import CliError, usage_error
from .demo import DemoError, register_demo
from .serve import register_serve
from .traces import register_traces
from .ui import register_ui

PROG = "otel-genai"

#: a registrar adds one subcommand (or group) to the top-level ``add_subparsers()`` object
SubcommandRegistrar = Callable[["argparse._SubParsersAction"], None]

#: subcommand registrars, in help order
SUBCOMMANDS: List[SubcommandRegistrar] = [
    register_demo,
    register_traces,
    register_serve,
    register_ui,
]

__all__ = ["PROG", "SUBCOMMANDS", "CliError", "SubcommandRegistrar", "build_parser", "main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``otel-genai`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (CliError, StoreError, DemoError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `otel-genai traces list | head`: silence the flush at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The ``otel-genai`` argument parser, with every registrar in :data:`SUBCOMMANDS` applied."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="otel-genai: OpenTelemetry-native instrumentation for GenAI SDKs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.set_defaults(handler=lambda args: usage_error(parser))
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in SUBCOMMANDS:
        register(subparsers)
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("otel-genai")
    except Exception:  # noqa: BLE001 - not installed (running from a checkout)
        from ..version import __version__

        return __version__
