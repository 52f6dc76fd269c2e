"""The content-capture policy: whether prompts, completions, system instructions and tool
definitions are recorded, and where (span attributes and/or one log record per call).

Env var ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (as read by the official
``opentelemetry-util-genai``): ``NO_CONTENT``, ``SPAN_ONLY``, ``EVENT_ONLY``, ``SPAN_AND_EVENT``,
case-insensitive; also ``true`` (= ``SPAN_ONLY``) and ``false`` (= ``NO_CONTENT``), as the older
instrumentations accept. The instrumentors default to ``NO_CONTENT`` (the spec's default); the
distribution (distro and ``autolog()``) sets ``SPAN_ONLY`` unless the user set something, as MLflow
autolog records inputs and outputs.
"""

from __future__ import annotations

import enum
import logging
import os

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
        """Parse an env-var value; blank gives ``default``; an unknown value warns and gives ``default``."""
        default = default or cls.NO_CONTENT
        if value is None or not value.strip():
            return default
        text = value.strip().upper()
        if text == "TRUE":
            return cls.SPAN_ONLY
        if text == "FALSE":
            return cls.NO_CONTENT
        try:
            return cls(text)
        except ValueError:
            _logger.warning(
                "%s=%r is not one of NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT, true, false; using %s",
                CAPTURE_MESSAGE_CONTENT_ENV,
                value,
                default.value,
            )
            return default

    @classmethod
    def from_env(cls, default: ContentCapture | None = None) -> ContentCapture:
        """The policy set by ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (``default`` if unset)."""
        return cls.parse(os.environ.get(CAPTURE_MESSAGE_CONTENT_ENV), default)
