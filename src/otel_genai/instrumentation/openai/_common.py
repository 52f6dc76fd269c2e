"""What every OpenAI API family shares: the client's provider name and server address, and
reading request parameters off kwargs without ever emitting ``None`` / ``NOT_GIVEN`` / ``Omit``."""

from __future__ import annotations

from typing import Any

from ...semconv import attributes as A

# types whose values may become attributes as they are; NOT_GIVEN, Omit and None are none of these
SCALAR_TYPES = (str, bool, int, float)

# Azure client classes, filled in by the instrumentor (importing openai here would be eager)
AZURE_CLIENT_TYPES: tuple[type, ...] = ()

_server_cache: dict[int, tuple[Any, dict[str, Any]]] = {}
_DEFAULT_PORTS = {"https": 443, "http": 80}


def client_attributes(resource: Any) -> dict[str, Any]:
    """``gen_ai.provider.name``, ``server.address``, ``server.port`` of the client behind ``resource``.

    The provider is ``azure.ai.openai`` for ``AzureOpenAI``/``AsyncAzureOpenAI``, ``openai``
    otherwise (any ``base_url``: OpenAI-compatible servers report their real address and port).
    """
    client = resource._client
    url = client._base_url
    cached = _server_cache.get(id(url))
    if cached is not None and cached[0] is url:
        attrs = cached[1]
    else:
        attrs = {}
        host = url.host
        if host:
            attrs[A.SERVER_ADDRESS] = host
            port = url.port or _DEFAULT_PORTS.get(url.scheme)
            if port:
                attrs[A.SERVER_PORT] = port
        if len(_server_cache) > 256:
            _server_cache.clear()
        _server_cache[id(url)] = (url, attrs)  # the strong ref to ``url`` keeps its id unique
    provider = A.GenAIProviderName.AZURE_AI_OPENAI if isinstance(client, AZURE_CLIENT_TYPES) else A.GenAIProviderName.OPENAI
    return {A.GEN_AI_PROVIDER_NAME: provider, A.MLFLOW_LLM_PROVIDER: provider, **attrs}


def get(obj: Any, key: str) -> Any:
    """``obj[key]`` for a mapping (request TypedDicts), ``obj.key`` for an SDK model; ``None`` if absent."""
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def scalar_params(kwargs: dict[str, Any], table: tuple[tuple[str, str], ...], attrs: dict[str, Any]) -> None:
    """Copy each ``(kwarg, attribute)`` of ``table`` whose value is a plain scalar into ``attrs``."""
    for param, attribute in table:
        value = kwargs.get(param)
        if type(value) in SCALAR_TYPES:
            attrs[attribute] = value


def stop_sequences(stop: Any) -> list[str] | None:
    """``stop`` as a list of strings (a single string becomes a one-item list); ``None`` otherwise."""
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, (list, tuple)) and stop and all(isinstance(s, str) for s in stop):
        return list(stop)
    return None
