"""Our own faults are logged (once per site at WARNING, then at DEBUG) and swallowed: the user's
call must proceed and return exactly what the SDK gives (docs/architecture.md, "Rules that keep it
in shape").

Under the project's test suite the same faults are re-raised instead, so a bug in our extraction
fails a test rather than vanishing into a log: ``tests/conftest.py`` sets
``OTEL_GENAI_RAISE_FAULTS=1`` (inherited by the programs the tests start), and tests that inject
faults on purpose turn it off with :func:`raise_faults`. Never set it in production.
"""

from __future__ import annotations

import logging
import os

RAISE_FAULTS_ENV = "OTEL_GENAI_RAISE_FAULTS"

_logger = logging.getLogger("otel_genai.instrumentation")
_reported: set[str] = set()
_raise = [os.environ.get(RAISE_FAULTS_ENV) == "1"]


def raise_faults(enabled: bool) -> bool:
    """Re-raise (``True``) or log and swallow (``False``) our faults from now on; returns the previous
    setting. Test-only."""
    previous = _raise[0]
    _raise[0] = enabled
    return previous


def log_fault(where: str) -> None:
    """Log the exception being handled as an otel-genai fault at ``where``; call inside ``except``.

    Raises:
        the exception being handled, when the test-suite switch is on (see the module docstring).
    """
    if _raise[0]:
        raise
    if where in _reported:
        _logger.debug("otel-genai: internal error in %s (repeated)", where, exc_info=True)
        return
    _reported.add(where)
    _logger.warning(
        "otel-genai: internal error in %s; telemetry for this call may be incomplete, the call itself is unaffected",
        where,
        exc_info=True,
    )
