"""``LangChainInstrumentor``: LangChain and LangGraph runs as one trace (entry point ``otel_genai_langchain``,
extra ``[langchain]``).

Usage (library path)::

    LangChainInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
    OpenAIInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)  # optional: SDK-level facts

Chains and runnables, LangGraph agents, tools and retrievers become spans nested as LangChain nests
its runs; each model call is exactly one inference span (``handler.py``, ``_core/frameworks.py``).
Keyword arguments of ``instrument()``: those of every otel-genai instrumentor (``tracer_provider``,
``meter_provider``, ``logger_provider``, ``capture_content``).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from .._core.imports import ImportHooks
from .._core.instrumentor import GenAIInstrumentor

#: the module whose configure hooks every ``CallbackManager.configure`` applies (langchain_core 1.x)
HOOK_MODULE = "langchain_core.tracers.context"


class LangChainInstrumentor(GenAIInstrumentor):
    """Traces LangChain runs through one callback handler that LangChain adds to every callback manager
    it configures, through its own extension point (``langchain_core.tracers.context.register_configure_hook``,
    the one LangSmith's tracer uses), so user code changes nothing: sync and async, ``invoke`` /
    ``ainvoke`` / ``stream`` / ``astream`` / ``batch``. ``instrument()`` never imports
    ``langchain_core``: the hook is registered when the app imports it. ``uninstrument()`` removes the
    hook; runs already open end their spans."""

    scope_name = "otel_genai.instrumentation.langchain"
    dependencies = ("langchain-core >= 1.0",)

    handler: Any
    _hook: Any

    def methods(self) -> tuple:
        return ()

    def on_instrument(self, hooks: ImportHooks) -> None:
        self.handler = None
        self._hook = None
        hooks.when_imported(HOOK_MODULE, self._register)

    def _register(self, module: Any) -> None:
        from .handler import OtelGenAICallbackHandler

        self.handler = OtelGenAICallbackHandler(self.telemetry)
        # a variable whose default is our handler: LangChain adds it (inheritable) to every manager it
        # configures unless a context sets it to None
        variable: ContextVar[Any] = ContextVar("otel_genai_langchain_handler", default=self.handler)
        module.register_configure_hook(variable, True)
        self._hook = module._configure_hooks[-1]

    def on_uninstrument(self) -> None:
        if self.handler is not None:
            self.handler.active = False
        if self._hook is not None:
            import sys

            hooks = getattr(sys.modules.get(HOOK_MODULE), "_configure_hooks", None)
            if hooks is not None:
                hooks[:] = [hook for hook in hooks if hook is not self._hook]
        self.handler = None
        self._hook = None


SCOPE_NAME = LangChainInstrumentor.scope_name

__all__ = ["LangChainInstrumentor", "SCOPE_NAME"]
