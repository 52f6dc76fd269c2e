"""OpenAI Images (``images.generate``, ``images.edit``): request, response and stream mapping.

Decisions (semconv v1.41.1 has no image operation):

* ``gen_ai.operation.name`` is ``generate_content``, the registry's "multimodal content generation
  operation"; the span is ``generate_content {model}`` (``generate_content`` when the call names no
  model: the API's default is not guessed). ``gen_ai.output.type`` is ``image`` (the registry's note:
  "if an image is requested, the actual output could be a URL pointing to an image file").
  ``mlflow.spanType`` is ``LLM`` (MLflow has no image span type and its autolog does not trace
  images).
* Request: ``n`` -> ``gen_ai.request.choice.count`` when != 1; ``stream=True`` ->
  ``gen_ai.request.stream``. ``size``, ``quality``, ``style``, ``background``, ``output_format`` and
  the like have no semconv name and are not recorded.
* Response: ``usage`` (GPT image models) -> ``gen_ai.usage.input_tokens`` / ``output_tokens`` and
  ``mlflow.chat.tokenUsage``. The API returns no id, model or finish reason.
* Content (when captured): the prompt is one ``user`` text part (``images.edit`` adds one ``blob``
  part per input image, content empty: files are never read). Each returned image is one
  ``assistant`` output message (``finish_reason`` ``""``: the API reports none) with a ``uri`` part
  for a URL or a ``blob`` part with EMPTY content for ``b64_json`` (base64 images never go into
  attributes, whatever ``OTEL_GENAI_CAPTURE_BLOB_CONTENT`` says), ``mime_type`` from the response's
  ``output_format`` when known, plus the ``revised_prompt`` as a text part.
* Streams (``stream=True``, ``partial_images``): partial-image events are counted as chunks (time to
  first chunk) but not recorded; each ``*.completed`` event is one output message and carries the
  usage (the last one wins).

``images.create_variation`` (DALL-E 2 only, no prompt) is not instrumented.
"""

from __future__ import annotations

import mimetypes
import os
from typing import Any

from ...semconv import attributes as A
from ...semconv import messages as P
from ...semconv.usage import TokenUsage
from .._core.instrumentor import Method
from .._core.operation import Operation, StreamAccumulator


_STATIC_ATTRIBUTES = {
    A.GEN_AI_OPERATION_NAME: A.GenAIOperationName.GENERATE_CONTENT,
    A.GEN_AI_OUTPUT_TYPE: A.GenAIOutputType.IMAGE,
}

# output_format -> IANA MIME type
_MIME_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "svg": "image/svg+xml",
}

_MODULE = "openai.resources.images"


class ImageGeneration(Operation):
    """``Images.generate`` / ``AsyncImages.generate`` -> one ``generate_content {model}`` CLIENT span."""

    operation_name = A.GenAIOperationName.GENERATE_CONTENT

    def request(self, instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        attrs = self.context.request_attributes(_STATIC_ATTRIBUTES, instance, kwargs)
        return attrs

    def request_content(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        parts = self._input_parts(kwargs)
        if not parts:
            return {}
        return {A.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": parts}]}

    def _input_parts(self, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        prompt = kwargs.get("prompt")
        return [P.text_part(prompt)] if isinstance(prompt, str) else []

    def response(self, result: Any, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        content = {}
        if capture_content:
            mime_type = _MIME_TYPES.get(getattr(result, "output_format", None))
            content[A.GEN_AI_OUTPUT_MESSAGES] = [_image_message(image, mime_type) for image in result.data or ()]
        return {}, _usage(getattr(result, "usage", None)), content

    def new_accumulator(self, kwargs: dict[str, Any]) -> ImageStreamAccumulator:
        return ImageStreamAccumulator()


class ImageEdit(ImageGeneration):
    """``Images.edit`` / ``AsyncImages.edit``: as generation, plus the input images as empty blobs."""

    def _input_parts(self, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        parts = super()._input_parts(kwargs)
        for file in _files(kwargs.get("image")):
            parts.append(P.blob_part("image", _file_mime_type(file), "", False))
        return parts


METHODS = (
    Method(_MODULE, "Images", "generate", False, ImageGeneration),
    Method(_MODULE, "AsyncImages", "generate", True, ImageGeneration),
    Method(_MODULE, "Images", "edit", False, ImageEdit),
    Method(_MODULE, "AsyncImages", "edit", True, ImageEdit),
)


def _usage(usage: Any) -> TokenUsage | None:
    """Images ``Usage`` (GPT image models): ``input_tokens`` counts text and image input tokens."""
    if usage is None:
        return None
    return TokenUsage(getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None))


def _image_message(image: Any, mime_type: str | None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    url = getattr(image, "url", None)
    if isinstance(url, str) and url:
        parts.append(P.data_url_part(url, "image", False))  # a data: URL becomes an empty blob
    elif getattr(image, "b64_json", None) is not None:
        parts.append(P.blob_part("image", mime_type, "", False))
    revised = getattr(image, "revised_prompt", None)
    if isinstance(revised, str) and revised:
        parts.append(P.text_part(revised))
    return {"role": "assistant", "parts": parts, "finish_reason": ""}


def _files(image: Any) -> list[Any]:
    """The input file(s) of ``images.edit``: one ``FileTypes`` value or a list of them. A tuple whose
    first item is a file name (or ``None``) is one file, ``(filename, content[, mime[, headers]])``."""
    if image is None:
        return []
    if isinstance(image, list):
        return image
    if isinstance(image, tuple) and image and not (image[0] is None or isinstance(image[0], str)):
        return list(image)
    return [image]


def _file_mime_type(file: Any) -> str | None:
    """The MIME type a file tuple names, else one guessed from its file name; never reads the file."""
    name = None
    if isinstance(file, tuple):
        if len(file) > 2 and isinstance(file[2], str):
            return file[2]
        name = file[0] if file and isinstance(file[0], str) else None
    elif isinstance(file, (str, os.PathLike)):
        name = os.fspath(file)
    else:
        name = getattr(file, "name", None)
    if isinstance(name, str) and name:
        return mimetypes.guess_type(name)[0]
    return None


class ImageStreamAccumulator(StreamAccumulator):
    """Folds image stream events: ``image_generation.completed`` / ``image_edit.completed`` give one
    output image each (and the usage); partial images are not recorded."""

    __slots__ = ("formats", "usage")

    def __init__(self) -> None:
        self.formats: list[Any] = []
        self.usage: Any = None

    def on_chunk(self, chunk: Any) -> None:
        kind = getattr(chunk, "type", None)
        if isinstance(kind, str) and kind.endswith(".completed"):
            self.formats.append(getattr(chunk, "output_format", None))
            usage = getattr(chunk, "usage", None)
            if usage is not None:
                self.usage = usage

    def result(self, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        content = {}
        if capture_content:
            content[A.GEN_AI_OUTPUT_MESSAGES] = [
                {"role": "assistant", "parts": [P.blob_part("image", _MIME_TYPES.get(f), "", False)], "finish_reason": ""}
                for f in self.formats
            ]
        return {}, _usage(self.usage), content
