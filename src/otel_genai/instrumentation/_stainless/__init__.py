"""What ``openai`` and ``anthropic`` share because both SDKs are Stainless-generated.

* streams are ``<sdk>._streaming.Stream`` / ``AsyncStream``;
* ``with_raw_response`` / ``with_streaming_response`` return ``<sdk>._response.APIResponse`` /
  ``AsyncAPIResponse`` (and ``<sdk>._legacy_response.LegacyAPIResponse``), handled by :mod:`.raw`;
* request kwargs follow one convention: ``stream=True`` streams, ``n`` asks for several choices;
* the stream helpers (``chat.completions.stream()``, ``responses.stream()``, ``messages.stream()``)
  keep the raw stream in ``_raw_stream`` and need close / exit hooks (:mod:`.helpers`).

:class:`StainlessInstrumentor` is the :class:`~.._core.instrumentor.GenAIInstrumentor` of such an SDK;
``_core`` itself knows none of this.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

from ...semconv import attributes as A
from .._core import params
from .._core.instrumentor import GenAIInstrumentor, Method
from .._core.operation import Operation
from .helpers import close_hook, exit_hook
from .raw import complete_raw

#: ``Method.kind`` of a stream helper's ``close()`` / ``__exit__`` hook
CLOSE_HOOK, EXIT_HOOK = "close_hook", "exit_hook"

# (module suffix, class names) of the raw-response types; the legacy module is absent in newer SDKs
_RAW_RESPONSE_TYPES = (("_response", ("APIResponse", "AsyncAPIResponse")), ("_legacy_response", ("LegacyAPIResponse",)))


def helper_hooks(module: str, stream: str, manager: str, prefix: str = "") -> tuple[Method, ...]:
    """The hook rows of one stream helper of ``module``: its stream class ``<prefix><stream>`` (and
    ``<prefix>Async<stream>``) gets a :data:`CLOSE_HOOK` on ``close`` and, like its manager class, an
    :data:`EXIT_HOOK` on ``__exit__`` / ``__aexit__`` (``prefix``: e.g. anthropic's ``Beta``)."""

    def name(cls: str, is_async: bool) -> str:
        return f"{prefix}{'Async' if is_async else ''}{cls}"

    rows = [Method(module, name(stream, is_async), "close", is_async, kind=CLOSE_HOOK) for is_async in (False, True)]
    rows += [
        Method(module, name(cls, is_async), "__aexit__" if is_async else "__exit__", is_async, kind=EXIT_HOOK)
        for is_async in (False, True)
        for cls in (manager, stream)
    ]
    return tuple(rows)


def request_attributes(
    static: dict[str, Any], client: dict[str, Any], kwargs: dict[str, Any], table: tuple[tuple[str, str], ...] = ()
) -> dict[str, Any]:
    """:func:`_core.params.request_attributes` plus the Stainless kwargs conventions:
    ``gen_ai.request.stream`` (only when ``stream=True``, as semconv asks) and
    ``gen_ai.request.choice.count`` (only when ``n`` != 1)."""
    attrs = params.request_attributes(static, client, kwargs, table)
    if kwargs.get("stream") is True:
        attrs[A.GEN_AI_REQUEST_STREAM] = True
    n = kwargs.get("n")
    if type(n) is int and n != 1:
        attrs[A.GEN_AI_REQUEST_CHOICE_COUNT] = n
    return attrs


class StainlessInstrumentor(GenAIInstrumentor):
    """A :class:`GenAIInstrumentor` for a Stainless SDK (``sdk``: its import name). Call rows get the
    SDK's stream types and the raw-response handler; :data:`CLOSE_HOOK` / :data:`EXIT_HOOK` rows
    wrap the stream helpers. ``context`` is the provider's per-instrument state given to every
    operation (``None`` by default)."""

    sdk: ClassVar[str]
    context: Any = None

    def new_operation(self, method: Method) -> Operation:
        streaming = importlib.import_module(f"{self.sdk}._streaming")  # imported by the SDK already
        stream_types = (streaming.AsyncStream,) if method.is_async else (streaming.Stream,)
        return method.operation(stream_types, ((self._raw_response_types(), complete_raw),), self.context)

    def wrapper(self, method: Method, owner: Any) -> Any:
        if method.kind == CLOSE_HOOK:
            return close_hook(method.is_async)
        if method.kind == EXIT_HOOK:
            return exit_hook(method.is_async)
        return super().wrapper(method, owner)

    def _raw_response_types(self) -> tuple[type, ...]:
        types: list[type] = []
        for suffix, names in _RAW_RESPONSE_TYPES:
            try:
                module = importlib.import_module(f"{self.sdk}.{suffix}")
            except ImportError:
                continue
            types.extend(t for t in (getattr(module, n, None) for n in names) if isinstance(t, type))
        return tuple(types)
