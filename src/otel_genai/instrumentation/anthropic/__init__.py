"""``AnthropicInstrumentor``: GenAI spans and metrics for the ``anthropic`` SDK (entry point
``otel_genai_anthropic``). Work in progress (issue 4)."""

from __future__ import annotations

from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

SCOPE_NAME = "otel_genai.instrumentation.anthropic"


class AnthropicInstrumentor(BaseInstrumentor):
    """Traces ``anthropic`` calls as GenAI semantic-convention spans (one CLIENT span per call)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("anthropic >= 1.0",)

    def _instrument(self, **kwargs: Any) -> None:
        import anthropic  # noqa: F401  (a missing SDK skips this instrumentor)

    def _uninstrument(self, **kwargs: Any) -> None:
        pass
