"""``server.address`` / ``server.port`` of the client actually used, from its ``base_url`` (an
``httpx``/``httpx2`` URL), cached per URL object: the clients of both SDKs keep one until the user
changes ``base_url``."""

from __future__ import annotations

from typing import Any

from ...semconv import attributes as A

_DEFAULT_PORTS = {"https": 443, "http": 80}
_cache: dict[int, tuple[Any, dict[str, Any]]] = {}


def server_attributes(url: Any) -> dict[str, Any]:
    """``{server.address, server.port}`` of ``url`` (port from the scheme when implicit); shared, do not mutate."""
    cached = _cache.get(id(url))
    if cached is not None and cached[0] is url:
        return cached[1]
    attrs: dict[str, Any] = {}
    host = url.host
    if host:
        attrs[A.SERVER_ADDRESS] = host
        port = url.port or _DEFAULT_PORTS.get(url.scheme)
        if port:
            attrs[A.SERVER_PORT] = port
    if len(_cache) > 256:
        _cache.clear()
    _cache[id(url)] = (url, attrs)  # the strong ref to ``url`` keeps its id unique while cached
    return attrs
