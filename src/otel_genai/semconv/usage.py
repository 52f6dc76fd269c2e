"""The token-usage normal form that feeds both ``gen_ai.usage.*`` and (``semconv.mlflow``) ``mlflow.chat.tokenUsage``.

Normal form (semconv v1.41.1 ``gen_ai.usage.input_tokens``, "GenAI spans": input tokens include cached ones): ``input_tokens`` INCLUDES
cached input tokens (read and written); the cache counts are also reported on their own.
``total_tokens`` = input + output. All counts are in tokens.
"""

from __future__ import annotations

from . import attributes as A

_INT = int


class TokenUsage:
    """One inference call's token counts, in the normal form.

    Args (all token counts, ``None`` when the provider did not report them):
        input_tokens: every input token, cached ones included.
        output_tokens: every output token, reasoning ones included.
        cache_read_input_tokens: input tokens served from the prompt cache.
        cache_creation_input_tokens: input tokens written to the prompt cache.
        reasoning_output_tokens: output tokens spent on reasoning.
    """

    __slots__ = (
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "reasoning_output_tokens",
    )

    def __init__(
        self,
        input_tokens: int | None,
        output_tokens: int | None,
        cache_read_input_tokens: int | None = None,
        cache_creation_input_tokens: int | None = None,
        reasoning_output_tokens: int | None = None,
    ) -> None:
        self.input_tokens = input_tokens if type(input_tokens) is _INT else None
        self.output_tokens = output_tokens if type(output_tokens) is _INT else None
        self.cache_read_input_tokens = cache_read_input_tokens if type(cache_read_input_tokens) is _INT else None
        self.cache_creation_input_tokens = (
            cache_creation_input_tokens if type(cache_creation_input_tokens) is _INT else None
        )
        self.reasoning_output_tokens = reasoning_output_tokens if type(reasoning_output_tokens) is _INT else None

    @classmethod
    def from_uncached_input(
        cls,
        uncached_input_tokens: int | None,
        output_tokens: int | None,
        cache_read_input_tokens: int | None = None,
        cache_creation_input_tokens: int | None = None,
    ) -> TokenUsage:
        """Build the normal form from a provider that reports cache tokens apart from input (Anthropic).

        ``input_tokens`` becomes uncached + cache read + cache creation, each counted exactly once.
        """
        total_input = None
        if type(uncached_input_tokens) is _INT:
            total_input = uncached_input_tokens
            if type(cache_read_input_tokens) is _INT:
                total_input += cache_read_input_tokens
            if type(cache_creation_input_tokens) is _INT:
                total_input += cache_creation_input_tokens
        return cls(total_input, output_tokens, cache_read_input_tokens, cache_creation_input_tokens)

    @property
    def total_tokens(self) -> int | None:
        """input + output tokens, or ``None`` unless both are known."""
        if self.input_tokens is None or self.output_tokens is None:
            return None
        return self.input_tokens + self.output_tokens

    def span_attributes(self) -> dict[str, int]:
        """The ``gen_ai.usage.*`` attributes (only the known counts); the MLflow key is derived from
        the same counts by :func:`otel_genai.semconv.mlflow.token_usage`."""
        attrs: dict[str, int] = {}
        if self.input_tokens is not None:
            attrs[A.GEN_AI_USAGE_INPUT_TOKENS] = self.input_tokens
        if self.output_tokens is not None:
            attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS] = self.output_tokens
        if self.cache_read_input_tokens is not None:
            attrs[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = self.cache_read_input_tokens
        if self.cache_creation_input_tokens is not None:
            attrs[A.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = self.cache_creation_input_tokens
        if self.reasoning_output_tokens is not None:
            attrs[A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = self.reasoning_output_tokens
        return attrs

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"TokenUsage({fields})"
