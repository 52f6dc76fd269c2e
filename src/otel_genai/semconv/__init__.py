"""Semantic conventions: names, enum values, content policy, message parts, token-usage normal form.

Every telemetry name the project emits is defined here (``attributes``, ``metrics``), so the provider
modules never spell an attribute themselves.
"""

from .content import CAPTURE_MESSAGE_CONTENT_ENV, ContentCapture
from .usage import TokenUsage

__all__ = ["CAPTURE_MESSAGE_CONTENT_ENV", "ContentCapture", "TokenUsage"]
