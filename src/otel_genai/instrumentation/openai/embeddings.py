"""OpenAI Embeddings (``embeddings.create``): request and response mapping.

One ``embeddings {model}`` CLIENT span per call, with the attribute set of semconv v1.41.1's
``span.gen_ai.embeddings.client``: ``gen_ai.request.encoding_formats`` (the ``encoding_format``
kwarg, as a one-item list), ``gen_ai.embeddings.dimension.count``, ``gen_ai.response.model`` and
``gen_ai.usage.input_tokens``.

Decisions:

* ``gen_ai.embeddings.dimension.count`` comes from the request's ``dimensions`` when given and is
  then replaced by the length of the first returned vector. The user gets a list of floats (the SDK
  decodes its own default base64 transfer encoding), or, when they asked for
  ``encoding_format="base64"`` themselves, the base64 text of little-endian float32s; its dimension
  is computed from the text's length, without decoding it.
* Usage: ``gen_ai.usage.input_tokens`` = ``usage.prompt_tokens``; no ``gen_ai.usage.output_tokens``
  (the embeddings span has none) and no output token metric point. ``mlflow.chat.tokenUsage`` is set
  when usage is known, with ``output_tokens`` 0, because the MLflow key goes on every inference span that knows its usage
  that knows its usage. (MLflow's own autolog records no usage for embeddings: its
  ``_parse_usage`` handles only ``ChatCompletion`` and ``Response``; so trace totals here include
  embedding input tokens, which are billed.)
* Content: the embeddings span in v1.41.1 defines no content attribute (no ``gen_ai.input.messages``
  nor any embeddings-input attribute), so the ``input`` texts are never recorded, whatever the
  content policy. The vectors are never recorded either.
"""

from __future__ import annotations

from typing import Any

from ...semconv import attributes as A
from ...semconv.usage import TokenUsage
from .._core.instrumentor import Method
from .._core.operation import Operation
from .._core.params import string_fields


_RESPONSE_FIELDS = (("model", A.GEN_AI_RESPONSE_MODEL),)  # the API returns no id

_STATIC_ATTRIBUTES = {
    A.GEN_AI_OPERATION_NAME: A.GenAIOperationName.EMBEDDINGS,
}

_MODULE = "openai.resources.embeddings"


class Embeddings(Operation):
    """``Embeddings.create`` / ``AsyncEmbeddings.create`` -> one ``embeddings {model}`` CLIENT span."""

    operation_name = A.GenAIOperationName.EMBEDDINGS

    def __init__(self, stream_types: tuple[type, ...] = (), result_handlers: tuple = (), context: object = None) -> None:
        super().__init__((), result_handlers, context)  # the embeddings endpoint never streams

    def request(self, instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        attrs = self.context.request_attributes(_STATIC_ATTRIBUTES, instance, kwargs)
        encoding_format = kwargs.get("encoding_format")
        if isinstance(encoding_format, str):
            attrs[A.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding_format]
        dimensions = kwargs.get("dimensions")
        if type(dimensions) is int:
            attrs[A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
        return attrs

    def response(self, result: Any, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        attrs = string_fields(result, _RESPONSE_FIELDS, {})
        data = getattr(result, "data", None)
        if data:
            count = vector_length(getattr(data[0], "embedding", None))
            if count is not None:
                attrs[A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = count
        usage = None
        input_tokens = getattr(getattr(result, "usage", None), "prompt_tokens", None)
        if type(input_tokens) is int:
            usage = TokenUsage(input_tokens, None)  # no output tokens (semconv.mlflow gives MLflow 0)
        return attrs, usage, {}


METHODS = (
    Method(_MODULE, "Embeddings", "create", False, Embeddings),
    Method(_MODULE, "AsyncEmbeddings", "create", True, Embeddings),
)


def vector_length(embedding: Any) -> int | None:
    """Dimensions of one returned embedding: a list's length, or for base64 text (little-endian
    float32s, the API's ``base64`` format) its decoded byte length / 4, computed without decoding."""
    if isinstance(embedding, list):
        return len(embedding)
    if isinstance(embedding, str) and embedding:
        size = len(embedding)
        padding = 2 if embedding.endswith("==") else 1 if embedding.endswith("=") else 0
        return (size * 3 // 4 - padding) // 4
    return None
