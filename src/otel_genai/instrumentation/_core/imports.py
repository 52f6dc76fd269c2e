"""Instrument an SDK module when the app imports it, never by importing it ourselves.

``instrument()`` runs at start-up under ``opentelemetry-instrument`` for every installed SDK; importing
``anthropic`` there costs an OpenAI-only app about a second. So an instrumentor registers, per module
of its method table, a callback run by a post-import hook (``wrapt.register_post_import_hook``): at
once if the module is already imported, else right after the app's first import of it. An installed
but unused SDK costs nothing.
"""

from __future__ import annotations

from typing import Any, Callable

import wrapt

from .faults import log_fault


class ImportHooks:
    """The post-import callbacks of one ``instrument()``; :meth:`cancel` (on ``uninstrument()``)
    turns the ones that have not fired yet into no-ops (wrapt offers no way to remove a hook)."""

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active = True

    def when_imported(self, module_name: str, callback: Callable[[Any], None]) -> None:
        """Run ``callback(module)`` once ``module_name`` is imported (now, if it already is). A fault
        in ``callback`` is logged, never raised into the app's ``import``."""

        def hook(module: Any) -> None:
            if not self.active:
                return
            try:
                callback(module)
            except Exception:
                log_fault(f"instrument {module_name}")

        wrapt.register_post_import_hook(hook, module_name)

    def cancel(self) -> None:
        """Callbacks that have not run yet never will."""
        self.active = False
