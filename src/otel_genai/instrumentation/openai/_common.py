"""What every OpenAI API family shares: the client's provider name and server address (per instrument)."""

from __future__ import annotations

from typing import Any

from ...semconv import attributes as A
from ...semconv.usage import TokenUsage
from .._stainless import request_attributes as _request_attributes
from .._core.server import server_attributes

# the ``type`` of a response format (chat ``response_format``, Responses ``text.format``) -> gen_ai.output.type
OUTPUT_TYPES = {
    "text": A.GenAIOutputType.TEXT,
    "json_object": A.GenAIOutputType.JSON,
    "json_schema": A.GenAIOutputType.JSON,
}

class OpenAIClients:
    """Per-instrument state of the OpenAI instrumentor: the Azure client classes (recorded when the
    app imports ``openai.lib.azure``) and the client attributes cached per ``base_url``."""

    __slots__ = ("azure_types", "_cache")

    def __init__(self) -> None:
        self.azure_types: tuple[type, ...] = ()
        # (id of base_url's server attributes dict, is Azure) -> (that dict, the client attributes)
        self._cache: dict[tuple[int, bool], tuple[dict[str, Any], dict[str, Any]]] = {}

    def client_attributes(self, resource: Any) -> dict[str, Any]:
        """``gen_ai.provider.name``, ``server.address``, ``server.port`` of the client behind
        ``resource``; shared (cached per ``base_url``), do not mutate.

        The provider is ``azure.ai.openai`` for ``AzureOpenAI``/``AsyncAzureOpenAI``, ``openai``
        otherwise (any ``base_url``: OpenAI-compatible servers report their real address and port).
        """
        client = resource._client
        server = server_attributes(client._base_url)  # cached per URL object
        azure = isinstance(client, self.azure_types)
        cache = self._cache
        cached = cache.get((id(server), azure))
        if cached is not None and cached[0] is server:
            return cached[1]
        provider = A.GenAIProviderName.AZURE_AI_OPENAI if azure else A.GenAIProviderName.OPENAI
        attrs = {A.GEN_AI_PROVIDER_NAME: provider, **server}
        if len(cache) > 512:
            cache.clear()
        cache[(id(server), azure)] = (server, attrs)  # the strong ref keeps ``id(server)`` unique
        return attrs

    def request_attributes(
        self, static: dict[str, Any], resource: Any, kwargs: dict[str, Any], table: tuple[tuple[str, str], ...] = ()
    ) -> dict[str, Any]:
        """:func:`_stainless.request_attributes` for an OpenAI resource, plus
        ``openai.request.service_tier`` (semconv: only when given and not ``auto``)."""
        attrs = _request_attributes(static, self.client_attributes(resource), kwargs, table)
        service_tier = kwargs.get("service_tier")
        if isinstance(service_tier, str) and service_tier != "auto":
            attrs[A.OPENAI_REQUEST_SERVICE_TIER] = service_tier
        return attrs


def usage_from(usage: Any, fields: str) -> TokenUsage | None:
    """An OpenAI usage object -> normal form. ``fields`` names its input and output fields:
    ``"prompt|completion"`` for Chat Completions' ``CompletionUsage``, ``"input|output"`` for the
    Responses API's ``ResponseUsage``. Both already count cached tokens (read and written) in their
    input: the normal form's input as is."""
    if usage is None:
        return None
    inp, _, out = fields.partition("|")
    input_details = getattr(usage, f"{inp}_tokens_details", None)
    output_details = getattr(usage, f"{out}_tokens_details", None)
    return TokenUsage(
        getattr(usage, f"{inp}_tokens", None),
        getattr(usage, f"{out}_tokens", None),
        cache_read_input_tokens=getattr(input_details, "cached_tokens", None),
        cache_creation_input_tokens=getattr(input_details, "cache_write_tokens", None),
        reasoning_output_tokens=getattr(output_details, "reasoning_tokens", None),
    )
