"""What every Anthropic API family shares: the provider name and server address of the client
actually used (``Anthropic``, ``AnthropicBedrock``, ``AnthropicVertex``, any ``base_url``)."""

from __future__ import annotations

from typing import Any

from ...semconv import attributes as A
from .._core.server import server_attributes

# (client classes, provider name), filled in by the instrumentor: importing anthropic here would be
# eager. Bedrock and Vertex come first; any other client falls back to the SDK's own
# ``_gen_ai_provider_name`` class attribute (2.x), then to ``anthropic``.
PROVIDER_TYPES: list[tuple[tuple[type, ...], str]] = []

_provider_cache: dict[type, str] = {}


def provider_name(client: Any) -> str:
    """``gen_ai.provider.name`` for ``client`` (cached per client class)."""
    cls = type(client)
    name = _provider_cache.get(cls)
    if name is None:
        for types, value in PROVIDER_TYPES:
            if isinstance(client, types):
                name = value
                break
        else:
            sdk_name = getattr(cls, "_gen_ai_provider_name", None)
            name = sdk_name if isinstance(sdk_name, str) and sdk_name else A.GenAIProviderName.ANTHROPIC
        _provider_cache[cls] = name
    return name


def client_attributes(resource: Any) -> dict[str, Any]:
    """``gen_ai.provider.name``, ``server.address``, ``server.port`` of
    the client behind the resource ``resource`` (``client.messages``, ``client.beta.messages``)."""
    client = resource._client
    provider = provider_name(client)
    server = server_attributes(client._base_url)
    return {A.GEN_AI_PROVIDER_NAME: provider, **server}


def reset() -> None:
    """Forget the provider classes and caches (on uninstrument)."""
    PROVIDER_TYPES.clear()
    _provider_cache.clear()
