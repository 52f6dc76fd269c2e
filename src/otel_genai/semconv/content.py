"""The content-capture policy: whether prompts, completions, system instructions and tool
definitions are recorded, and where (span attributes and/or one log record per call).

Env var ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (as read by the official
``opentelemetry-util-genai``): ``NO_CONTENT``, ``SPAN_ONLY``, ``EVENT_ONLY``, ``SPAN_AND_EVENT``,
case-insensitive; also ``true`` (= ``SPAN_ONLY``) and ``false`` (= ``NO_CONTENT``), as the older
instrumentations accept. The instrumentors default to ``NO_CONTENT`` (the spec's default); the
distribution (distro and ``autolog()``) sets ``SPAN_ONLY`` unless the user set something, as MLflow
autolog records inputs and outputs. An unrecognised value means ``NO_CONTENT`` everywhere: privacy
fails closed. Inline binary data (base64 images, audio, documents) is blanked even when content is
captured, unless ``OTEL_GENAI_CAPTURE_BLOB_CONTENT=true`` (:func:`blob_content_enabled`).
"""

from __future__ import annotations

import enum
import logging
import os
from typing import Any

CAPTURE_MESSAGE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
DISTRIBUTION_DEFAULT = "SPAN_ONLY"

_logger = logging.getLogger(__name__)


class ContentCapture(enum.Enum):
    """Where message content goes: nowhere, span attributes, a log record, or both."""

    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"

    @property
    def on_span(self) -> bool:
        """True when content goes into span attributes."""
        return self in (ContentCapture.SPAN_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        """True when content goes into a ``gen_ai.client.inference.operation.details`` log record."""
        return self in (ContentCapture.EVENT_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def enabled(self) -> bool:
        """True when content is captured anywhere."""
        return self is not ContentCapture.NO_CONTENT

    @classmethod
    def parse(cls, value: str | None, default: ContentCapture | None = None) -> ContentCapture:
        """Parse a setting's value (case-insensitive, surrounding blanks ignored).

        Blank or ``None`` gives ``default`` (``NO_CONTENT`` if not given). An unrecognised value fails
        closed: ``NO_CONTENT``, whatever the default, with one warning per distinct value per process
        (a mistyped ``no_contnet`` must never mean "capture")."""
        if value is None or not value.strip():
            return default or cls.NO_CONTENT
        text = value.strip().upper()
        policy = _ALIASES.get(text)
        if policy is not None:
            return policy
        try:
            return cls(text)
        except ValueError:
            pass
        if value not in _warned:
            _warned.add(value)
            _logger.warning(
                "%s=%r is not one of NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT, true, false: "
                "no message content is captured",
                CAPTURE_MESSAGE_CONTENT_ENV,
                value,
            )
        return cls.NO_CONTENT

    @classmethod
    def from_env(cls, default: ContentCapture | None = None) -> ContentCapture:
        """The policy set by ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (``default`` if unset,
        ``NO_CONTENT`` if unrecognised). Parsed once per distinct value: every reader of the setting
        (each instrumentor, ``otel_genai.trace``, the distribution) gets the same policy and the
        process logs at most one warning for it."""
        memo = _env_memo
        raw = _environ_value()
        if raw is not memo[0] and raw != memo[0]:  # changed since the last read: parse it again
            text = raw.decode(errors="surrogateescape") if isinstance(raw, bytes) else raw
            memo[0], memo[1] = raw, None if text is None or not text.strip() else cls.parse(text)
        policy = memo[1]
        return policy if policy is not None else default or cls.NO_CONTENT


_ALIASES = {"TRUE": ContentCapture.SPAN_ONLY, "FALSE": ContentCapture.NO_CONTENT}
_warned: set[str] = set()
_env_memo: list = [None, None]  # [the raw value read last, its policy (None: unset or blank)]


def _make_environ_value() -> Any:
    """A reader of ``CAPTURE_MESSAGE_CONTENT_ENV`` as it is now, for :meth:`ContentCapture.from_env`,
    which runs on every ``otel_genai.trace`` call: ``os.environ.get`` decodes key and value through
    three Python-level calls (~12k instructions, as much as a tenth of a bare span); the mapping
    ``os.environ`` keeps underneath (CPython's ``_Environ._data``, updated by every ``os.environ``
    write) is read directly, with ``os.environ.get`` wherever it is absent."""
    environ = os.environ
    data = getattr(environ, "_data", None)
    encodekey = getattr(environ, "encodekey", None)
    if not isinstance(data, dict) or not callable(encodekey):
        return lambda: os.environ.get(CAPTURE_MESSAGE_CONTENT_ENV)
    key = encodekey(CAPTURE_MESSAGE_CONTENT_ENV)

    def environ_value() -> Any:
        if os.environ is environ:  # (a test may have put another mapping in its place)
            return data.get(key)  # bytes on POSIX, str on Windows: from_env takes both
        return os.environ.get(CAPTURE_MESSAGE_CONTENT_ENV)

    return environ_value


_environ_value = _make_environ_value()


# --- binary content ------------------------------------------------------------------------------
BLOB_CONTENT_ENV = "OTEL_GENAI_CAPTURE_BLOB_CONTENT"

_keep_blob_content = [False]


def refresh_blob_policy() -> bool:
    """Read ``OTEL_GENAI_CAPTURE_BLOB_CONTENT`` (``1``/``true``/``yes``; default false: inline binary
    data becomes a ``blob`` part with empty ``content``); the instrumentors call this at
    ``instrument()`` so the hot path does not read the environment on every call."""
    _keep_blob_content[0] = os.environ.get(BLOB_CONTENT_ENV, "").strip().lower() in ("1", "true", "yes")
    return _keep_blob_content[0]


def blob_content_enabled() -> bool:
    """Whether inline binary content is kept, as read by the last :func:`refresh_blob_policy`."""
    return _keep_blob_content[0]
