"""Message parts in the semconv v1.41.1 JSON schema (``gen_ai.input.messages``,
``gen_ai.output.messages``, ``gen_ai.system_instructions``, ``gen_ai.tool.definitions``).

Provider modules translate their SDK's shapes into these parts; this module only knows the schema.
An input message is ``{"role", "parts", ["name"]}``; an output message adds ``"finish_reason"``.
Part types: ``text``, ``reasoning``, ``tool_call``, ``tool_call_response``, ``server_tool_call``,
``server_tool_call_response``, ``blob``, ``uri``, ``file``.

Binary policy (``semconv.content.blob_content_enabled``): inline binary data (base64 ``data:`` URLs,
base64 image/audio/document blocks) is not copied into attributes by default; a ``blob`` part keeps
its ``modality`` and ``mime_type`` and its ``content`` is replaced by an empty string.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any, Literal, TypedDict, Union

from typing_extensions import Required

# --- the part types (semconv v1.41.1 gen-ai-input-messages.json / gen-ai-output-messages.json) -----
# TypedDicts: plain dicts at run time (serialized as they are, no conversion on the hot path), typed
# for readers and checkers. Provider modules build them with the constructors below.
class TextPart(TypedDict):
    type: Literal["text"]
    content: str


class ReasoningPart(TypedDict):
    type: Literal["reasoning"]
    content: str


class ToolCallPart(TypedDict, total=False):
    type: Required[Literal["tool_call"]]
    id: Required[str | None]
    name: Required[str]
    arguments: Any


class ToolCallResponsePart(TypedDict):
    type: Literal["tool_call_response"]
    id: str | None
    response: Any


class BlobPart(TypedDict, total=False):
    type: Required[Literal["blob"]]
    modality: Required[str]
    content: Required[str]
    mime_type: str


class UriPart(TypedDict, total=False):
    type: Required[Literal["uri"]]
    modality: Required[str]
    uri: Required[str]
    mime_type: str


class FilePart(TypedDict, total=False):
    type: Required[Literal["file"]]
    modality: Required[str]
    file_id: Required[str]
    mime_type: str


Part = Union[TextPart, ReasoningPart, ToolCallPart, ToolCallResponsePart, BlobPart, UriPart, FilePart, dict]
"""Any part; ``dict`` for the provider-specific ``server_tool_call`` / ``server_tool_call_response``."""


class InputMessage(TypedDict, total=False):
    role: Required[str]
    parts: Required[list[Part]]
    name: str


class OutputMessage(TypedDict):
    role: str
    parts: list[Part]
    finish_reason: str


def text_part(content: str) -> TextPart:
    """``{"type": "text", "content": ...}``."""
    return {"type": "text", "content": content}


def reasoning_part(content: str) -> ReasoningPart:
    """``{"type": "reasoning", "content": ...}`` (model thinking / reasoning summary)."""
    return {"type": "reasoning", "content": content}


def tool_call_part(call_id: str | None, name: str | None, arguments: Any) -> ToolCallPart:
    """A tool call requested by the model; ``arguments`` is decoded JSON when it parses, else the text."""
    part: ToolCallPart = {"type": "tool_call", "id": call_id, "name": name or ""}
    if arguments is not None:
        part["arguments"] = decode_arguments(arguments)
    return part


def tool_call_response_part(call_id: str | None, response: Any) -> ToolCallResponsePart:
    """The result of a tool call, sent back to the model (field ``response``)."""
    return {"type": "tool_call_response", "id": call_id, "response": response}


def blob_part(modality: str, mime_type: str | None, content: str, keep_content: bool) -> BlobPart:
    """Inline binary data (base64 ``content``); the content is blanked unless ``keep_content``."""
    part: BlobPart = {"type": "blob", "modality": modality, "content": content if keep_content else ""}
    if mime_type:
        part["mime_type"] = mime_type
    return part


def uri_part(modality: str, uri: str, mime_type: str | None = None) -> UriPart:
    """Data referenced by URI (``https://...``, ``gs://...``)."""
    part: UriPart = {"type": "uri", "modality": modality, "uri": uri}
    if mime_type:
        part["mime_type"] = mime_type
    return part


def file_part(modality: str, file_id: str, mime_type: str | None = None) -> FilePart:
    """Data referenced by a provider-side file id."""
    part: FilePart = {"type": "file", "modality": modality, "file_id": file_id}
    if mime_type:
        part["mime_type"] = mime_type
    return part


def data_url_part(url: str, modality: str, keep_content: bool) -> BlobPart | UriPart:
    """A ``data:<mime>;base64,<data>`` URL as a ``blob`` part; any other URL as a ``uri`` part."""
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        mime_type = header[5:].split(";", 1)[0] or None
        return blob_part(modality, mime_type, data, keep_content)
    return uri_part(modality, url)


def content_parts(content: Any, parts: list, keep_content: bool, item_parts: Any) -> None:
    """Message content appended to ``parts``: a string as one ``text`` part, each item of a list or
    tuple through ``item_parts(item, item["type"], parts, keep_content)`` (the provider's mapping of
    its content-part types), anything else (``None``, an unknown shape) as nothing."""
    if isinstance(content, str):
        parts.append(text_part(content))
    elif isinstance(content, (list, tuple)):
        for item in content:
            item_parts(item, item.get("type") if isinstance(item, dict) else getattr(item, "type", None), parts, keep_content)


def decode_arguments(arguments: Any) -> Any:
    """Tool-call arguments as a JSON value when they are a JSON text, unchanged otherwise."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def plain(value: Any, *, exclude_none: bool = False, skip_prefix: str | None = None) -> Any:
    """A JSON-ready copy of an SDK model / mapping / sequence (log-record attributes and nested
    content must be plain): pydantic models dumped in JSON mode (unset fields left out, or with
    ``exclude_none`` every ``None``), mappings and sequences copied recursively, other values as they
    are. ``skip_prefix``: keys starting with it are left out (opaque provider data such as
    ``encrypted_*``)."""
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        value = dump(mode="json", exclude_none=True) if exclude_none else dump(mode="json", exclude_unset=True)
        if not exclude_none and skip_prefix is None:
            return value
    if isinstance(value, dict):
        return {
            k: plain(v, exclude_none=exclude_none, skip_prefix=skip_prefix)
            for k, v in value.items()
            if not (exclude_none and v is None) and not (skip_prefix and isinstance(k, str) and k.startswith(skip_prefix))
        }
    if isinstance(value, (list, tuple)):
        return [plain(v, exclude_none=exclude_none, skip_prefix=skip_prefix) for v in value]
    return value


def _fallback(value: Any) -> Any:
    """The JSON encoder's ``default``: SDK models as :func:`plain`, bytes blanked (binary policy),
    other containers as lists, anything else as its ``str``."""
    if getattr(value, "model_dump", None) is not None:
        return plain(value)
    if isinstance(value, (bytes, bytearray)):
        return ""
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_fallback)
_SCALARS = frozenset({str, int, float, bool, type(None)})


def to_json(value: Any) -> str:
    """Compact JSON text for a content attribute (pydantic models dumped, unknown objects as ``str``).

    Any value, cycles included (``ValueError``). The common shapes of traced inputs and outputs get
    the same text faster (this runs twice per ``otel_genai.trace`` call): a scalar is written the way
    the encoder writes it (``encode_basestring``, ``int.__repr__``, the three literals) without its
    per-call set-up; a flat dict or list of scalars, which cannot hold a cycle, goes to
    :func:`content_json`'s encoder, made once, instead of a new one with cycle bookkeeping."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is float:
        return content_json(value)
    if kind is dict or kind is list:
        scalars = _SCALARS
        for item in value.values() if kind is dict else value:  # a loop, not all(): no generator per call
            if type(item) not in scalars:
                return _encoder.encode(value)
        return content_json(value)
    return _encoder.encode(value)


def _make_content_json() -> Any:
    """:func:`to_json` without the circular-reference bookkeeping, and with one C encoder made once
    instead of one per call (``JSONEncoder.encode`` builds a new one each time): ~1.3 µs less per
    content attribute on the hot path. Only for content built from what an SDK sends or received,
    which cannot be circular (the SDK serialises the same objects); a cycle would raise
    ``RecursionError`` instead of ``ValueError``. Falls back to :func:`to_json` where the C encoder
    is unavailable."""
    try:
        from json.encoder import c_make_encoder, encode_basestring

        if c_make_encoder is None:
            return _encoder.encode
        # (markers, default, encoder, indent, key separator, item separator, sort_keys, skipkeys, allow_nan)
        encode = c_make_encoder(None, _fallback, encode_basestring, None, ":", ",", False, False, True)
        sample = {"a": [1, 2.5, None, True, "\u00e9"], "b": ("x",)}
        if "".join(encode(sample, 0)) != _encoder.encode(sample):
            return _encoder.encode
    except Exception:  # noqa: BLE001 - another Python's json internals: use the public path
        return _encoder.encode
    join = "".join

    def content_json(value: Any) -> str:
        """Compact JSON text for a content attribute built from SDK request/response shapes."""
        return join(encode(value, 0))

    return content_json


content_json = _make_content_json()
