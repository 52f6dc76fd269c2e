"""OpenAI legacy Completions (``completions.create``, ``text_completion``): request, response and
stream mapping.

One ``text_completion {model}`` CLIENT span per call (``mlflow.spanType`` ``LLM``, as MLflow's
autolog types this API). Request parameters with a semconv name are read from a table; the response
gives id, model, system fingerprint, finish reasons (one per choice) and usage.

Content (when captured): each ``prompt`` string is one ``user`` input message with one text part
(a list of prompts is a batch of independent prompts, hence one message each; token-id prompts
carry no text and are not recorded); each choice is one ``assistant`` output message with its text
and ``finish_reason``. A stream folds the chunks' text per choice ``index``, their finish reasons
and the usage chunk that ``stream_options={"include_usage": True}`` adds.
"""

from __future__ import annotations

from typing import Any

from ...semconv import attributes as A
from ...semconv import messages as P
from ...semconv.usage import TokenUsage
from .._core.instrumentor import Method
from .._core.operation import Operation, StreamAccumulator
from .._core.params import stop_sequences, string_fields

from . import chat
from .chat import usage_from

# the legacy API takes Chat Completions' sampling parameters but not ``max_completion_tokens``, and
# its responses carry no ``service_tier``
_REQUEST_PARAMS = tuple(entry for entry in chat.REQUEST_PARAMS if entry[0] != "max_completion_tokens")
_RESPONSE_FIELDS = tuple(entry for entry in chat.RESPONSE_FIELDS if entry[0] != "service_tier")

_STATIC_ATTRIBUTES = {
    A.GEN_AI_OPERATION_NAME: A.GenAIOperationName.TEXT_COMPLETION,
}

_MODULE = "openai.resources.completions"


class TextCompletions(Operation):
    """``Completions.create`` / ``AsyncCompletions.create`` -> one ``text_completion {model}`` CLIENT span."""

    operation_name = A.GenAIOperationName.TEXT_COMPLETION

    def request(self, instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        attrs = self.context.request_attributes(_STATIC_ATTRIBUTES, instance, kwargs, _REQUEST_PARAMS)
        stop = stop_sequences(kwargs.get("stop"))
        if stop:
            attrs[A.GEN_AI_REQUEST_STOP_SEQUENCES] = stop
        return attrs

    def request_content(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        prompt = kwargs.get("prompt")
        if isinstance(prompt, str):
            return {A.GEN_AI_INPUT_MESSAGES: [_user_message(prompt)]}
        if isinstance(prompt, (list, tuple)):  # never iterate a generator the SDK has yet to read
            messages = [_user_message(p) for p in prompt if isinstance(p, str)]
            if messages:
                return {A.GEN_AI_INPUT_MESSAGES: messages}
        return {}

    def response(self, result: Any, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        attrs = string_fields(result, _RESPONSE_FIELDS, {})
        choices = getattr(result, "choices", None) or ()
        reasons = [c.finish_reason for c in choices if c.finish_reason]
        if reasons:
            attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        content = {}
        if capture_content:
            content[A.GEN_AI_OUTPUT_MESSAGES] = [_assistant_message(c.text, c.finish_reason) for c in choices]
        return attrs, usage_from(getattr(result, "usage", None)), content

    def new_accumulator(self, kwargs: dict[str, Any]) -> CompletionStreamAccumulator:
        return CompletionStreamAccumulator()


METHODS = (
    Method(_MODULE, "Completions", "create", False, TextCompletions),
    Method(_MODULE, "AsyncCompletions", "create", True, TextCompletions),
)


def _user_message(prompt: str) -> dict[str, Any]:
    return {"role": "user", "parts": [P.text_part(prompt)]}


def _assistant_message(text: Any, finish_reason: Any) -> dict[str, Any]:
    parts = [P.text_part(text)] if isinstance(text, str) and text else []
    return {"role": "assistant", "parts": parts, "finish_reason": finish_reason or ""}


class CompletionStreamAccumulator(StreamAccumulator):
    """Folds streamed ``Completion`` chunks: text and finish reason per choice ``index`` (a choice
    without an index counts as choice 0), response metadata from the first chunk that has it, and the
    usage chunk of ``include_usage`` streams."""

    __slots__ = ("metadata", "reasons", "texts", "usage")

    def __init__(self) -> None:
        self.metadata: dict[str, Any] = {}
        self.texts: dict[int, list[str]] = {}
        self.reasons: dict[int, str] = {}
        self.usage: Any = None

    def on_chunk(self, chunk: Any) -> None:
        if not self.metadata:
            self.metadata = string_fields(chunk, _RESPONSE_FIELDS, {})
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
        for choice in getattr(chunk, "choices", None) or ():
            index = choice.index
            if type(index) is not int:  # seen in the wild: a last chunk {"delta": {}, "finish_reason": "stop"}
                index = 0
            texts = self.texts.get(index)
            if texts is None:
                texts = self.texts[index] = []
            if choice.text:
                texts.append(choice.text)
            if choice.finish_reason:
                self.reasons[index] = choice.finish_reason

    def result(self, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        attrs = dict(self.metadata)
        indexes = sorted(self.texts)
        reasons = [self.reasons[i] for i in indexes if i in self.reasons]
        if reasons:
            attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        content = {}
        if capture_content:
            content[A.GEN_AI_OUTPUT_MESSAGES] = [
                _assistant_message("".join(self.texts[i]), self.reasons.get(i)) for i in indexes
            ]
        return attrs, usage_from(self.usage), content
