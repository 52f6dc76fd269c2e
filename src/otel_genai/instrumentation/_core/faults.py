"""Our own faults are logged (once per site at WARNING, then at DEBUG) and swallowed: the user's
call must proceed and return exactly what the SDK gives (docs/architecture.md, "Rules that keep it in shape")."""

from __future__ import annotations

import logging

_logger = logging.getLogger("otel_genai.instrumentation")
_reported: set[str] = set()


def log_fault(where: str) -> None:
    """Log the exception being handled as an otel-genai fault at ``where``; call inside ``except``."""
    if where in _reported:
        _logger.debug("otel-genai: internal error in %s (repeated)", where, exc_info=True)
        return
    _reported.add(where)
    _logger.warning(
        "otel-genai: internal error in %s; telemetry for this call may be incomplete, the call itself is unaffected",
        where,
        exc_info=True,
    )
