"""``models.generate_content`` / ``generate_content_stream`` / ``embed_content`` (sync and
``client.aio``): request, response and stream mapping.

One ``chat {model}`` CLIENT span per call (semconv v1.41.1 "Inference" span; ``chat`` because
``generate_content`` takes and returns a conversation of ``Content`` turns) and one
``embeddings {model}`` span per ``embed_content`` call. ``Chat.send_message`` /
``send_message_stream`` call ``models.generate_content[_stream]`` with the whole history, so a chat
turn is one of these spans whose input is the history (``chats.py`` adds the automatic-function-calling
case). The attribute mapping is in :mod:`._common`.

Decisions:

* ``gen_ai.request.model`` is the ``model`` argument as given (``gemini-2.0-flash``, or a resource
  name); ``gen_ai.response.model`` is the response's ``model_version``.
* A stream's chunks each repeat the response id, the model version and the usage so far: the last
  ones win. Text parts of one candidate are joined in order; function calls arrive whole.
* A prompt the API blocks (no candidate, ``prompt_feedback.block_reason``) finishes with
  ``content_filter``.
* Embeddings: ``gen_ai.embeddings.dimension.count`` from ``config.output_dimensionality``, replaced
  by the first vector's length; usage only where the API reports it (Vertex AI's per-embedding
  ``statistics.token_count``, summed); no content attribute (none is defined for embeddings).
"""

from __future__ import annotations

from typing import Any

from ...semconv import attributes as A
from ...semconv.content import blob_content_enabled
from ...semconv.usage import TokenUsage
from .._core.instrumentor import Method
from .._core.operation import Operation, StreamAccumulator
from . import _common as C

_MODULE = "google.genai.models"

_CHAT = {A.GEN_AI_OPERATION_NAME: A.GenAIOperationName.CHAT}
_CHAT_STREAM = {A.GEN_AI_OPERATION_NAME: A.GenAIOperationName.CHAT, A.GEN_AI_REQUEST_STREAM: True}
_EMBEDDINGS = {A.GEN_AI_OPERATION_NAME: A.GenAIOperationName.EMBEDDINGS}

#: the roles a row plays in routing (see ``_routing``): the user's call, a model turn of the SDK's
#: automatic function calling, a chat method that only matters when it runs that loop itself
ENTRY, TURN, CHAT_ENTRY = "entry", "turn", "chat"


def api_client_of(instance: Any) -> Any:
    """The SDK's ``BaseApiClient`` behind a ``Models`` / ``AsyncModels`` / ``Caches`` resource
    (``_api_client``) or a ``Chat`` (``_modules._api_client``)."""
    client = getattr(instance, "_api_client", None)
    if client is None:
        client = getattr(getattr(instance, "_modules", None), "_api_client", None)
    return client


class GenerateContent(Operation):
    """``Models.generate_content`` (and its ``AsyncModels`` twin, and the private per-request
    ``_generate_content`` the SDK calls once per model turn) -> ``chat {model}``."""

    operation_name = A.GenAIOperationName.CHAT
    static = _CHAT

    def request(self, instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        attrs = {**self.static, **self.context.client_attributes(api_client_of(instance))}
        model = kwargs.get("model")
        if isinstance(model, str) and model:
            attrs[A.GEN_AI_REQUEST_MODEL] = model
        C.config_attributes(kwargs.get("config"), attrs)
        return attrs

    def request_content(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        keep_blobs = blob_content_enabled()
        content: dict[str, Any] = {A.GEN_AI_INPUT_MESSAGES: C.input_messages(kwargs.get("contents"), keep_blobs)}
        config = kwargs.get("config")
        if config is not None:
            system = C.system_instructions(C.field(config, "system_instruction"), keep_blobs)
            if system:
                content[A.GEN_AI_SYSTEM_INSTRUCTIONS] = system
            tools = C.tool_definitions(C.field(config, "tools"))
            if tools:
                content[A.GEN_AI_TOOL_DEFINITIONS] = tools
        return content

    def response(self, result: Any, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        attrs = _response_ids(result, {})
        candidates = getattr(result, "candidates", None) or ()
        reasons = []
        messages = []
        keep_blobs = blob_content_enabled()
        for candidate in candidates:
            content = getattr(candidate, "content", None)
            parts = getattr(content, "parts", None)
            reason = C.finish_reason(getattr(candidate, "finish_reason", None), C.has_tool_call(parts))
            if reason:
                reasons.append(reason)
            if capture_content:
                messages.append({"role": "assistant", "parts": C.parts_of(parts or (), keep_blobs), "finish_reason": reason or ""})
        if not candidates and _blocked(result):
            reasons.append(A.GenAIFinishReason.CONTENT_FILTER)
        if reasons:
            attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        content = {A.GEN_AI_OUTPUT_MESSAGES: messages} if capture_content else {}
        return attrs, C.usage_from(getattr(result, "usage_metadata", None)), content

    def new_accumulator(self, kwargs: dict[str, Any]) -> GenerateContentAccumulator:
        return GenerateContentAccumulator()


class GenerateContentStream(GenerateContent):
    """``Models.generate_content_stream`` (and twins) -> ``chat {model}`` with ``gen_ai.request.stream``."""

    static = _CHAT_STREAM


def _response_ids(result: Any, attrs: dict[str, Any]) -> dict[str, Any]:
    response_id = getattr(result, "response_id", None)
    if isinstance(response_id, str) and response_id:
        attrs[A.GEN_AI_RESPONSE_ID] = response_id
    model = getattr(result, "model_version", None)
    if isinstance(model, str) and model:
        attrs[A.GEN_AI_RESPONSE_MODEL] = model
    return attrs


def _blocked(result: Any) -> bool:
    return getattr(getattr(result, "prompt_feedback", None), "block_reason", None) is not None


class _Candidate:
    """What one candidate's chunks delivered: its parts (consecutive text joined), raw finish reason,
    whether it asked for a function call."""

    __slots__ = ("parts", "reason", "tool_call")

    def __init__(self) -> None:
        self.parts: list[dict[str, Any]] = []
        self.reason: Any = None
        self.tool_call = False


class GenerateContentAccumulator(StreamAccumulator):
    """Folds ``GenerateContentResponse`` chunks: response id, model version and usage (cumulative,
    the last one wins), each candidate's parts and finish reason."""

    __slots__ = ("response_id", "model", "usage", "candidates", "blocked", "keep_blobs")

    def __init__(self) -> None:
        self.response_id: str | None = None
        self.model: str | None = None
        self.usage: Any = None
        self.candidates: dict[int, _Candidate] = {}
        self.blocked = False
        self.keep_blobs = blob_content_enabled()

    def on_chunk(self, chunk: Any) -> None:
        response_id = chunk.response_id
        if response_id:
            self.response_id = response_id
        model = chunk.model_version
        if model:
            self.model = model
        usage = chunk.usage_metadata
        if usage is not None:
            self.usage = usage
        candidates = chunk.candidates
        if not candidates:
            if chunk.prompt_feedback is not None and chunk.prompt_feedback.block_reason is not None:
                self.blocked = True
            return
        for candidate in candidates:
            index = candidate.index or 0
            state = self.candidates.get(index)
            if state is None:
                state = self.candidates[index] = _Candidate()
            reason = candidate.finish_reason
            if reason is not None:
                state.reason = reason
            content = candidate.content
            parts = content.parts if content is not None else None
            if not parts:
                continue
            out = state.parts
            for part in parts:
                if part.function_call is not None:
                    state.tool_call = True
                converted = C.part_to_semconv(part, self.keep_blobs)
                if converted is None:
                    continue
                kind = converted["type"]
                if out and (kind == "text" or kind == "reasoning") and out[-1]["type"] == kind:
                    out[-1]["content"] += converted["content"]
                else:
                    out.append(converted)

    def result(self, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        attrs: dict[str, Any] = {}
        if self.response_id:
            attrs[A.GEN_AI_RESPONSE_ID] = self.response_id
        if self.model:
            attrs[A.GEN_AI_RESPONSE_MODEL] = self.model
        reasons = []
        messages = []
        for index in sorted(self.candidates):
            state = self.candidates[index]
            reason = C.finish_reason(state.reason, state.tool_call)
            if reason:
                reasons.append(reason)
            if capture_content:
                messages.append({"role": "assistant", "parts": state.parts, "finish_reason": reason or ""})
        if not self.candidates and self.blocked:
            reasons.append(A.GenAIFinishReason.CONTENT_FILTER)
        if reasons:
            attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        content = {A.GEN_AI_OUTPUT_MESSAGES: messages} if capture_content and messages else {}
        return attrs, C.usage_from(self.usage), content


class EmbedContent(Operation):
    """``Models.embed_content`` / ``AsyncModels.embed_content`` -> ``embeddings {model}``."""

    operation_name = A.GenAIOperationName.EMBEDDINGS

    def request(self, instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        attrs = {**_EMBEDDINGS, **self.context.client_attributes(api_client_of(instance))}
        model = kwargs.get("model")
        if isinstance(model, str) and model:
            attrs[A.GEN_AI_REQUEST_MODEL] = model
        dimensions = C.field(kwargs.get("config"), "output_dimensionality")
        if type(dimensions) is int:
            attrs[A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
        return attrs

    def response(self, result: Any, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        attrs: dict[str, Any] = {}
        embeddings = getattr(result, "embeddings", None) or ()
        if embeddings:
            values = getattr(embeddings[0], "values", None)
            if isinstance(values, list):
                attrs[A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = len(values)
        tokens = None
        for embedding in embeddings:
            count = getattr(getattr(embedding, "statistics", None), "token_count", None)
            if isinstance(count, (int, float)):
                tokens = (tokens or 0) + int(count)
        return attrs, (TokenUsage(tokens, None) if tokens is not None else None), {}


def _rows(cls: str, is_async: bool) -> tuple[Method, ...]:
    return (
        Method(_MODULE, cls, "generate_content", is_async, GenerateContent, ENTRY),
        Method(_MODULE, cls, "generate_content_stream", is_async, GenerateContentStream, ENTRY),
        # one HTTP request each: a model turn of the SDK's automatic function calling (else passed through)
        Method(_MODULE, cls, "_generate_content", is_async, GenerateContent, TURN),
        Method(_MODULE, cls, "_generate_content_stream", is_async, GenerateContentStream, TURN),
        Method(_MODULE, cls, "embed_content", is_async, EmbedContent, ENTRY),
    )


METHODS = _rows("Models", False) + _rows("AsyncModels", True)
