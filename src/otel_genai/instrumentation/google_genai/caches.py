"""``client.caches.create`` (and ``client.aio.caches.create``): creating a context cache, the one
cache call that carries usage (``CachedContent.usage_metadata.total_token_count``: the tokens
written to the cache).

One ``create_cache {model}`` CLIENT span per call. semconv v1.41.1 has no operation for it, and says
to use a provider-specific name then (``gen_ai.operation.name``: "If one of the predefined values
applies, but specific system uses a different name it's RECOMMENDED to document it ... and use
system-specific name"). Its usage: ``gen_ai.usage.input_tokens`` and
``gen_ai.usage.cache_write.input_tokens`` are both the cached token count (every input token is
written to the cache); no output tokens, so no ``mlflow.chat.tokenUsage``. ``gen_ai.response.id``
is the cache's resource name (``cachedContents/...``), the id later calls pass as
``config.cached_content``. The cached contents and system instruction are content, under the policy,
as ``gen_ai.input.messages`` / ``gen_ai.system_instructions``.
"""

from __future__ import annotations

from typing import Any

from ...semconv import attributes as A
from ...semconv.content import blob_content_enabled
from ...semconv.usage import TokenUsage
from .._core.instrumentor import Method
from .._core.operation import Operation
from . import _common as C
from .models import ENTRY, api_client_of

_MODULE = "google.genai.caches"

#: ``gen_ai.operation.name`` of ``caches.create`` (provider-specific; see the module docstring)
CREATE_CACHE = "create_cache"


class CreateCache(Operation):
    """``Caches.create`` / ``AsyncCaches.create`` -> ``create_cache {model}``."""

    operation_name = CREATE_CACHE

    def request(self, instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        attrs = {A.GEN_AI_OPERATION_NAME: CREATE_CACHE, **self.context.client_attributes(api_client_of(instance))}
        model = kwargs.get("model")
        if isinstance(model, str) and model:
            attrs[A.GEN_AI_REQUEST_MODEL] = model
        return attrs

    def request_content(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        config = kwargs.get("config")
        keep_blobs = blob_content_enabled()
        content: dict[str, Any] = {}
        contents = C.field(config, "contents")
        if contents is not None:
            content[A.GEN_AI_INPUT_MESSAGES] = C.input_messages(contents, keep_blobs)
        system = C.system_instructions(C.field(config, "system_instruction"), keep_blobs)
        if system:
            content[A.GEN_AI_SYSTEM_INSTRUCTIONS] = system
        tools = C.tool_definitions(C.field(config, "tools"))
        if tools:
            content[A.GEN_AI_TOOL_DEFINITIONS] = tools
        return content

    def response(self, result: Any, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        attrs: dict[str, Any] = {}
        name = getattr(result, "name", None)
        if isinstance(name, str) and name:
            attrs[A.GEN_AI_RESPONSE_ID] = name
        model = getattr(result, "model", None)
        if isinstance(model, str) and model:
            attrs[A.GEN_AI_RESPONSE_MODEL] = model
        total = getattr(getattr(result, "usage_metadata", None), "total_token_count", None)
        usage = TokenUsage(total, None, cache_creation_input_tokens=total) if type(total) is int else None
        return attrs, usage, {}


METHODS = (
    Method(_MODULE, "Caches", "create", False, CreateCache, ENTRY),
    Method(_MODULE, "AsyncCaches", "create", True, CreateCache, ENTRY),
)
