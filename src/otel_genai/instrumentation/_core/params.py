"""Reading SDK request kwargs and models without ever emitting ``None`` / ``NOT_GIVEN`` / ``Omit``
(semconv: no attribute without a value; the SDKs' ``NOT_GIVEN`` / ``Omit`` sentinels). Shared by every provider module."""

from __future__ import annotations

from typing import Any

from ...semconv import attributes as A

# types whose values may become attributes as they are; NOT_GIVEN, Omit and None are none of these
SCALAR_TYPES = (str, bool, int, float)


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


def string_fields(obj: Any, table: tuple[tuple[str, str], ...], attrs: dict[str, Any]) -> dict[str, Any]:
    """Copy each ``(field, attribute)`` of ``table`` whose value on ``obj`` (an SDK response model) is
    a non-empty string into ``attrs``; returns ``attrs``. The response side's counterpart of
    :func:`scalar_params`."""
    for field, attribute in table:
        value = getattr(obj, field, None)
        if isinstance(value, str) and value:
            attrs[attribute] = value
    return attrs


def stop_sequences(stop: Any) -> list[str] | None:
    """``stop`` as a list of strings (a single string becomes a one-item list); ``None`` otherwise."""
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, (list, tuple)) and stop and all(isinstance(s, str) for s in stop):
        return list(stop)
    return None


def extra_field(model: Any, key: str) -> Any:
    """A field the SDK's pydantic model does not declare (e.g. ``reasoning_content`` sent by
    OpenAI-compatible servers), or ``None``. Reads ``__pydantic_extra__``: ``getattr`` of a missing
    attribute on a pydantic model raises internally and costs ~2 µs per call on the hot path."""
    extra = getattr(model, "__pydantic_extra__", None)
    return extra.get(key) if extra else None


def request_attributes(
    static: dict[str, Any], client: dict[str, Any], kwargs: dict[str, Any], table: tuple[tuple[str, str], ...] = ()
) -> dict[str, Any]:
    """The attributes every inference span starts with: ``static`` (operation name, ...), the
    ``client`` ones (provider, server), the model (``gen_ai.request.model``) and the scalar
    parameters of ``table``."""
    attrs = {**static, **client}
    model = kwargs.get("model")
    if isinstance(model, str):
        attrs[A.GEN_AI_REQUEST_MODEL] = model
    if table:
        scalar_params(kwargs, table, attrs)
    return attrs
