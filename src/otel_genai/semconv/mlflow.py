"""The MLflow dialect: the ``mlflow.*`` span attributes MLflow's trace UI reads, derived in this one
place from the ``gen_ai.*`` attributes every inference span carries. Provider modules never write
them.

Keys (``mlflow.tracing.constant.SpanAttributeKey``; values as MLflow stores them):

* ``mlflow.spanType``: from ``gen_ai.operation.name`` (:data:`SPAN_TYPES`; ``mlflow.entities.SpanType``);
* ``mlflow.llm.model``: ``gen_ai.request.model``;
* ``mlflow.llm.provider``: ``gen_ai.provider.name``;
* ``mlflow.chat.tokenUsage``: a JSON object string ``{"input_tokens", "output_tokens", "total_tokens"}``
  (+ ``cache_read_input_tokens``, ``cache_creation_input_tokens`` when known), input including cached
  tokens, total = input + output; only when both input and output are known (an embeddings call has
  no output tokens: 0).
"""

from __future__ import annotations

from typing import Any

from . import attributes as A
from .usage import TokenUsage

#: ``gen_ai.operation.name`` -> ``mlflow.spanType`` (MLflow has no image span type: ``LLM``, as for
#: any other generation)
SPAN_TYPES = {
    A.GenAIOperationName.CHAT: A.MLflowSpanType.CHAT_MODEL,
    A.GenAIOperationName.TEXT_COMPLETION: A.MLflowSpanType.LLM,
    A.GenAIOperationName.GENERATE_CONTENT: A.MLflowSpanType.LLM,
    A.GenAIOperationName.EMBEDDINGS: A.MLflowSpanType.EMBEDDING,
    A.GenAIOperationName.INVOKE_AGENT: A.MLflowSpanType.AGENT,
}

_NO_OUTPUT_TOKENS = frozenset({A.GenAIOperationName.EMBEDDINGS})


def add_request_attributes(attrs: dict[str, Any]) -> None:
    """Add to an inference span's ``gen_ai.*`` request ``attrs`` the MLflow keys known when it
    starts: ``mlflow.spanType``, ``mlflow.llm.model``, ``mlflow.llm.provider`` (each only when its
    source is set). In place: it runs at the start of every call."""
    span_type = SPAN_TYPES.get(attrs.get(A.GEN_AI_OPERATION_NAME))
    if span_type is not None:
        attrs[A.MLFLOW_SPAN_TYPE] = span_type
    model = attrs.get(A.GEN_AI_REQUEST_MODEL)
    if model is not None:
        attrs[A.MLFLOW_LLM_MODEL] = model
    provider = attrs.get(A.GEN_AI_PROVIDER_NAME)
    if provider is not None:
        attrs[A.MLFLOW_LLM_PROVIDER] = provider


def token_usage(usage: TokenUsage, operation_name: str | None) -> str | None:
    """``mlflow.chat.tokenUsage`` for an inference span of ``operation_name`` (JSON text), or ``None``
    unless input and output are both known. Built by formatting, not ``json.dumps``: the values are
    plain ints, and this runs at the end of every call."""
    output_tokens = usage.output_tokens
    if output_tokens is None and operation_name in _NO_OUTPUT_TOKENS:
        output_tokens = 0
    if usage.input_tokens is None or output_tokens is None:
        return None
    text = (
        f'{{"{A.MLFLOW_INPUT_TOKENS}": {usage.input_tokens}, "{A.MLFLOW_OUTPUT_TOKENS}": '
        f'{output_tokens}, "{A.MLFLOW_TOTAL_TOKENS}": {usage.input_tokens + output_tokens}'
    )
    if usage.cache_read_input_tokens is not None:
        text += f', "{A.MLFLOW_CACHE_READ_INPUT_TOKENS}": {usage.cache_read_input_tokens}'
    if usage.cache_creation_input_tokens is not None:
        text += f', "{A.MLFLOW_CACHE_CREATION_INPUT_TOKENS}": {usage.cache_creation_input_tokens}'
    return text + "}"
