"""What every Anthropic API family shares: the provider name and server address of the client
actually used (``Anthropic``, ``AnthropicBedrock``, ``AnthropicVertex``, any ``base_url``)."""

from __future__ import annotations

from typing import Any

from ...semconv import attributes as A
from .._core.server import server_attributes

class AnthropicClients:
    """Per-instrument state of the Anthropic instrumentor: the Bedrock / Vertex client classes
    (recorded when the app imports ``anthropic.lib.bedrock`` / ``anthropic.lib.vertex``), the provider
    name cached per client class, and whether content is captured (the stream accumulators skip
    text otherwise).

    Bedrock and Vertex come first; any other client falls back to the SDK's own
    ``_gen_ai_provider_name`` class attribute (2.x), then to ``anthropic``."""

    __slots__ = ("provider_types", "capture_content", "_providers")

    def __init__(self, capture_content: bool) -> None:
        self.provider_types: list[tuple[tuple[type, ...], str]] = []
        self.capture_content = capture_content
        self._providers: dict[type, str] = {}

    def add_provider_types(self, types: tuple[type, ...], provider: str) -> None:
        """Clients of ``types`` report ``provider`` as ``gen_ai.provider.name``."""
        self.provider_types.append((types, provider))
        self._providers.clear()

    def provider_name(self, client: Any) -> str:
        """``gen_ai.provider.name`` for ``client`` (cached per client class)."""
        cls = type(client)
        name = self._providers.get(cls)
        if name is None:
            for types, value in self.provider_types:
                if isinstance(client, types):
                    name = value
                    break
            else:
                sdk_name = getattr(cls, "_gen_ai_provider_name", None)
                name = sdk_name if isinstance(sdk_name, str) and sdk_name else A.GenAIProviderName.ANTHROPIC
            self._providers[cls] = name
        return name

    def client_attributes(self, resource: Any) -> dict[str, Any]:
        """``gen_ai.provider.name``, ``server.address``, ``server.port`` of the client behind the
        resource ``resource`` (``client.messages``, ``client.beta.messages``)."""
        client = resource._client
        return {A.GEN_AI_PROVIDER_NAME: self.provider_name(client), **server_attributes(client._base_url)}
