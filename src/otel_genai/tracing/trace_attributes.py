"""Trace-level attributes: :func:`attributes` (session, user, tags, metadata for every span started
inside a block) and :func:`update_current_trace` (tags, metadata, previews of the trace in progress).

The anchor is Langfuse's ``propagate_attributes`` context manager and MLflow's
``mlflow.update_current_trace``; the representation is what MLflow's OTLP ingest (``POST
/v1/traces``, ``SqlAlchemyStore.log_spans``, MLflow 3.x) reads back from span attributes, so a
trace shipped to an ``mlflow server`` groups by session and carries its tags there too:

=============================  ====================================================================
span attribute                 meaning (and where MLflow puts it)
=============================  ====================================================================
``session.id``                 the session (OTel ``session`` registry); MLflow: trace metadata
                               ``mlflow.trace.session``
``gen_ai.conversation.id``     the same id under the GenAI semantic conventions (v1.41.1)
``user.id``                    the user (OTel ``user`` registry); MLflow: metadata ``mlflow.trace.user``
``mlflow.traceTag.<key>``      a trace tag (MLflow reads it from the root span:
                               ``SpanAttributeKey.TRACE_TAG_PREFIX``)
``otel_genai.trace.metadata.<key>``  a trace metadata entry (MLflow's ingest has no span form for
                               arbitrary metadata; the otel-genai store reads it into
                               ``trace.info.trace_metadata``)
``otel_genai.trace.request_preview`` / ``otel_genai.trace.response_preview``  previews set by
                               :func:`update_current_trace` (override the derived ones)
=============================  ====================================================================

The otel-genai trace store (:mod:`otel_genai.store.summary`) maps them back the way MLflow does:
``trace.info.tags[key]``, ``trace.info.trace_metadata["mlflow.trace.session"]`` /
``["mlflow.trace.user"]`` and the metadata entries.

How spans get the attributes:

* LLM spans made by the instrumentation: ``Invocation`` adds :data:`TRACE_ATTRIBUTES_KEY`'s value
  (a ready dict) to its start attributes: one context read per call when nothing is set.
* every other span of the SDK tracer provider (``otel_genai.trace`` spans, the user's own):
  the ``TraceAttributesSpanProcessor`` (:func:`install_processor`), added once to the global provider by :func:`attributes`,
  :func:`update_current_trace` and ``otel_genai.autolog()``.

Nothing here raises into the user's code: a fault of ours is logged once (``faults.log_fault``).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Dict, Iterable, Mapping, Optional, Union

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from ..instrumentation._core.faults import log_fault

#: the context key whose value (a ``dict`` of span attributes, or absent) every span started below takes
TRACE_ATTRIBUTES_KEY = otel_context.create_key("otel_genai.trace_attributes")

SESSION_ID = "session.id"
USER_ID = "user.id"
CONVERSATION_ID = "gen_ai.conversation.id"
TAG_PREFIX = "mlflow.traceTag."
METADATA_PREFIX = "otel_genai.trace.metadata."
REQUEST_PREVIEW = "otel_genai.trace.request_preview"
RESPONSE_PREVIEW = "otel_genai.trace.response_preview"
#: MLflow's trace-metadata keys for the session and the user (``mlflow.tracing.constant.TraceMetadataKey``)
MLFLOW_TRACE_SESSION = "mlflow.trace.session"
MLFLOW_TRACE_USER = "mlflow.trace.user"

Tags = Union[Mapping[str, Any], Iterable[str], None]


def _tag_items(tags: Tags) -> Iterable[tuple]:
    """``(key, value)`` of a tags mapping; a list of names (Langfuse's form) tags each with ``"true"``."""
    if tags is None:
        return ()
    if isinstance(tags, Mapping):
        return ((str(k), str(v)) for k, v in tags.items())
    if isinstance(tags, str):
        return ((tags, "true"),)
    return ((str(k), "true") for k in tags)


def span_attributes(
    session_id: Any = None,
    user_id: Any = None,
    tags: Tags = None,
    metadata: Optional[Mapping[str, Any]] = None,
) -> Dict[str, str]:
    """The span attributes (all string values) that carry these trace attributes; see the module table."""
    out: Dict[str, str] = {}
    if session_id is not None:
        out[SESSION_ID] = out[CONVERSATION_ID] = str(session_id)
    if user_id is not None:
        out[USER_ID] = str(user_id)
    for key, value in _tag_items(tags):
        out[TAG_PREFIX + key] = value
    for key, value in (metadata or {}).items():
        out[METADATA_PREFIX + str(key)] = str(value)
    return out


class attributes:  # noqa: N801 - used like a function: ``with otel_genai.attributes(...):``
    """Stamp every span started inside the block (LLM spans included) with a session, a user, tags
    and metadata; see the module docstring for the attribute keys.

    Args:
        session_id: the session (conversation) id; str() of any value.
        user_id: the end user's id.
        tags: ``{key: value}`` trace tags, or a list of tag names (each tagged ``"true"``).
        metadata: ``{key: value}`` trace metadata (values as strings).

    Blocks nest (the inner one adds to / overrides the outer one) and follow the OTel context, so
    asyncio tasks and threads given a copied context carry them. Usable as ``with`` and ``async with``.
    """

    __slots__ = ("_values", "_token")

    def __init__(self, session_id: Any = None, user_id: Any = None, tags: Tags = None,
                 metadata: Optional[Mapping[str, Any]] = None) -> None:
        try:
            self._values = span_attributes(session_id, user_id, tags, metadata)
        except Exception:
            log_fault("trace_attributes.values")
            self._values = {}
        self._token: Any = None

    def __enter__(self) -> "attributes":
        try:
            install_processor()
            outer = otel_context.get_value(TRACE_ATTRIBUTES_KEY)
            values = {**outer, **self._values} if outer else dict(self._values)
            self._token = otel_context.attach(otel_context.set_value(TRACE_ATTRIBUTES_KEY, values))
        except Exception:
            log_fault("trace_attributes.enter")
        return self

    def __exit__(self, *exc: Any) -> bool:
        token, self._token = self._token, None
        if token is not None:
            try:
                otel_context.detach(token)
            except Exception:
                log_fault("trace_attributes.exit")
        return False

    async def __aenter__(self) -> "attributes":
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> bool:
        return self.__exit__(*exc)


def update_current_trace(
    tags: Tags = None,
    metadata: Optional[Mapping[str, Any]] = None,
    request_preview: Optional[str] = None,
    response_preview: Optional[str] = None,
    *,
    session_id: Any = None,
    user_id: Any = None,
) -> None:
    """Add tags, metadata and previews to the trace in progress (MLflow's ``update_current_trace``).

    The attributes go on the current span and on this process's root span of the trace (where
    MLflow's OTLP ingest reads tags), when that root was started while the processor was installed
    (always after :func:`attributes` or ``otel_genai.autolog()``). Outside any recording span this
    does nothing. ``request_preview`` / ``response_preview`` replace the previews the store derives
    (the first user message, the final output text). Never raises.
    """
    try:
        install_processor()
        values = span_attributes(session_id, user_id, tags, metadata)
        if request_preview is not None:
            values[REQUEST_PREVIEW] = str(request_preview)
        if response_preview is not None:
            values[RESPONSE_PREVIEW] = str(response_preview)
        span = otel_trace.get_current_span()
        if not values or not span.is_recording():
            return
        span.set_attributes(values)
        processor = _processor[0]
        root = processor.root_of(span) if processor is not None else None
        if root is not None and root is not span:
            root.set_attributes(values)
    except Exception:
        log_fault("trace_attributes.update")


def _processor_class() -> type:
    """:class:`TraceAttributesSpanProcessor`, built on first use (importing the OTel SDK only then)."""
    from opentelemetry.sdk.trace import SpanProcessor

    class TraceAttributesSpanProcessor(SpanProcessor):
        """A ``SpanProcessor`` that stamps each starting span with the :data:`TRACE_ATTRIBUTES_KEY`
        attributes of its parent context, and remembers this process's open root spans (no parent,
        or a remote one) so :func:`update_current_trace` can reach them. Costs one context read per
        span when nothing is set."""

        def __init__(self) -> None:
            self._roots: Dict[int, Any] = {}

        def on_start(self, span: Any, parent_context: Any = None) -> None:
            try:
                values = otel_context.get_value(TRACE_ATTRIBUTES_KEY, parent_context)
                if values:
                    span.set_attributes(values)
                parent = span.parent
                if parent is None or parent.is_remote:
                    self._roots[span.context.span_id] = span
            except Exception:
                log_fault("trace_attributes.on_start")

        def on_end(self, span: Any) -> None:
            roots = self._roots
            if roots:
                roots.pop(span.context.span_id, None)

        def root_of(self, span: Any) -> Any:
            """The open local root span of ``span``'s trace, or ``None``."""
            trace_id = span.get_span_context().trace_id
            for root in list(self._roots.values()):
                if root.context.trace_id == trace_id:
                    return root
            return None

        def shutdown(self) -> None:
            self._roots.clear()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    return TraceAttributesSpanProcessor


_processor: list = [None]  # the one TraceAttributesSpanProcessor, once built
_installed: "weakref.WeakSet[Any]" = weakref.WeakSet()
_install_lock = threading.Lock()


def install_processor(provider: Any = None) -> bool:
    """Add the ``TraceAttributesSpanProcessor`` once to ``provider`` (default: the global tracer
    provider) if it is an SDK ``TracerProvider``; ``True`` when it is (now or already) installed."""
    if provider is None:
        provider = otel_trace.get_tracer_provider()
    add = getattr(provider, "add_span_processor", None)
    if add is None:
        return False
    if provider in _installed:
        return True
    with _install_lock:
        if provider not in _installed:
            if _processor[0] is None:
                _processor[0] = _processor_class()()
            add(_processor[0])
            _installed.add(provider)
    return True


__all__ = [
    "TRACE_ATTRIBUTES_KEY",
    "attributes",
    "install_processor",
    "span_attributes",
    "update_current_trace",
]
