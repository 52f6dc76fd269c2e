"""A provider is a method table plus pure operations: :class:`GenAIInstrumentor` wraps and unwraps a
table of :class:`Method` rows, each when the app imports its module (``imports``), skipping what the
installed SDK lacks, and keeps every piece of per-instrument state on the instance.

A provider package subclasses it with its ``scope_name``, ``dependencies`` and ``methods()``, and
says how to build each row's wrapper (:meth:`GenAIInstrumentor.wrapper`); the default traces a call
row with the core's sync/async wrapper around the row's :class:`~.operation.Operation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Collection, Sequence

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from ...version import __version__
from .imports import ImportHooks
from .invocation import GenAITelemetry
from .operation import Operation
from .wrappers import async_wrapper, sync_wrapper

#: what a row wraps with: a traced call (the default), or a provider-specific hook
CALL = "call"


@dataclass(frozen=True)
class Method:
    """One SDK function to wrap.

    Attributes:
        module: the module that defines it (``openai.resources.chat.completions.completions``).
        cls: its class in that module, or ``None`` for a module-level function.
        name: the method or function name.
        is_async: ``async def`` (its wrapper awaits).
        operation: for a traced call: its :class:`~.operation.Operation` class (built by
            :meth:`GenAIInstrumentor.new_operation`).
        kind: :data:`CALL`, or a provider-specific word its :meth:`GenAIInstrumentor.wrapper` knows
            (a stream helper, a close or exit hook, ...).
    """

    module: str
    cls: str | None
    name: str
    is_async: bool = False
    operation: type[Operation] | None = None
    kind: str = CALL


class GenAIInstrumentor(BaseInstrumentor):
    """``BaseInstrumentor`` over a :class:`Method` table. Idempotent (``instrument()`` twice does not
    double-wrap: ``BaseInstrumentor`` guards it); ``uninstrument()`` restores every original and
    cancels the import hooks that have not fired. ``instrument()`` never imports the SDK.

    Keyword arguments of ``instrument()``: ``tracer_provider``, ``meter_provider``,
    ``logger_provider`` (default: the global ones) and ``capture_content`` (a
    :class:`~otel_genai.semconv.ContentCapture` or one of its names; default:
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, else ``NO_CONTENT`` as the spec asks).
    """

    scope_name: ClassVar[str]
    dependencies: ClassVar[tuple[str, ...]]

    # Per-instrument state. Set in ``_instrument``, never in ``__init__``: the instrumentor is a
    # singleton (``BaseInstrumentor.__new__``), constructed again by every caller.
    telemetry: GenAITelemetry
    _wrapped: list[tuple[Any, str]]
    _hooks: ImportHooks

    def methods(self) -> Sequence[Method]:
        """The table of everything this instrumentor wraps."""
        raise NotImplementedError

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.dependencies

    def on_instrument(self, hooks: ImportHooks) -> None:
        """Set up per-instrument state (e.g. register import hooks for client classes); default: nothing."""

    def on_uninstrument(self) -> None:
        """Drop per-instrument state; default: nothing."""

    def new_operation(self, method: Method) -> Operation:
        """The operation of a call row; default: ``method.operation()``."""
        return method.operation()

    def wrapper(self, method: Method, owner: Any) -> Callable[..., Any]:
        """The ``wrapt`` wrapper for ``method`` (``owner``: its class or module, imported). Default: a
        traced call around :meth:`new_operation`. A provider whose rows route their calls (a routing
        hook, ``wrappers.Route``) or return streams of another kind (``streams``: a lazy proxy for a
        generator) overrides it and passes ``route=`` / ``proxy=`` to ``sync_wrapper`` / ``async_wrapper``."""
        operation = self.new_operation(method)
        return (async_wrapper if method.is_async else sync_wrapper)(self.telemetry, operation)

    # --- the machinery ------------------------------------------------------------------------------
    def _instrument(self, **kwargs: Any) -> None:
        self.telemetry = GenAITelemetry.from_instrument_kwargs(self.scope_name, __version__, kwargs)
        self._wrapped = []
        self._hooks = ImportHooks()
        self.on_instrument(self._hooks)
        for module_name in dict.fromkeys(method.module for method in self.methods()):
            self._hooks.when_imported(module_name, self._wrap_module)

    def _wrap_module(self, module: Any) -> None:
        """Wrap the rows of ``module`` (just imported by the app, or already there); rows whose class
        or function this SDK version lacks are skipped."""
        name = module.__name__
        for method in self.methods():
            if method.module != name:
                continue
            owner = module if method.cls is None else getattr(module, method.cls, None)
            if owner is None or not callable(getattr(owner, method.name, None)):
                continue
            wrap_function_wrapper(owner, method.name, self.wrapper(method, owner))
            self._wrapped.append((owner, method.name))

    def _uninstrument(self, **kwargs: Any) -> None:
        self.telemetry.active = False
        self._hooks.cancel()
        for owner, name in reversed(self._wrapped):
            unwrap(owner, name)
        self._wrapped = []
        self.on_uninstrument()
