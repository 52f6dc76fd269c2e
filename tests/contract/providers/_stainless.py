"""What the cases of the Stainless-generated SDKs (``openai``, ``anthropic``) share: clients built
with no retries, and an HTTP transport that raises."""

from __future__ import annotations

from typing import Any

import httpx2


class RaisingTransport(httpx2.BaseTransport):
    """Raises ``exc`` for every request, as a user's custom transport might."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        raise self.exc


def factories(sync_cls: type, async_cls: type, path: str = "") -> tuple[Any, Any, Any]:
    """``(client, aclient, raising_client)`` for a ``ProviderCase``; ``path`` follows the base URL."""

    def client(base_url: str) -> Any:
        return sync_cls(api_key="test", base_url=base_url + path, max_retries=0)

    def aclient(base_url: str) -> Any:
        return async_cls(api_key="test", base_url=base_url + path, max_retries=0)

    def raising_client(exc: BaseException) -> Any:
        http_client = httpx2.Client(transport=RaisingTransport(exc))
        return sync_cls(api_key="test", base_url="http://127.0.0.1:9" + path, max_retries=0, http_client=http_client)

    return client, aclient, raising_client
