"""What the subcommands share: the user-facing error, the ``--store`` option and argument types.

A bad argument value raises ``argparse.ArgumentTypeError``, which argparse prints as one line
(``otel-genai <command>: error: argument ...``) with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from ..store import ForeignStoreError, StoreNotFoundError, TraceStore, open_store

#: how to point a command at another store, appended to store errors
STORE_HINT = "pass --store PATH|URI or set OTEL_GENAI_STORE_URI / OTEL_GENAI_STORE_PATH"
STORE_HELP = (
    "the trace store: a file path or a URI, sqlite:///abs/path.db or postgresql://user:pass@host:5432/db (default: $OTEL_GENAI_STORE_URI,"
    " else $OTEL_GENAI_STORE_PATH, else traces.db in the per-user data dir)"
)


class CliError(Exception):
    """A user-facing error: printed as ``otel-genai: error: <message>``, exit status 1."""


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    """``--store PATH|URI`` (``args.store``; ``None`` when not given)."""
    parser.add_argument("--store", metavar="PATH|URI", help=STORE_HELP)


def open_for_command(store: Optional[str], *, read_only: bool) -> TraceStore:
    """The store ``--store`` names, opened; a missing store (when reading) or another application's
    file is a :class:`CliError` with :data:`STORE_HINT`."""
    try:
        return open_store(store, read_only=read_only)
    except StoreNotFoundError as exc:
        raise CliError(
            f"no trace store at {exc.filename} (nothing has been exported there yet; {STORE_HINT})"
        ) from None
    except ForeignStoreError as exc:
        raise CliError(f"{exc} ({STORE_HINT})") from None


def usage_error(parser: argparse.ArgumentParser) -> int:
    """Print ``parser``'s help on stderr; exit status 2 (a command given without its subcommand)."""
    parser.print_help(sys.stderr)
    return 2


def int_arg(text: str) -> int:
    """An integer."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = int_arg(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value
