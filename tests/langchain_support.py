"""Recorded LangChain traffic (../shared/recorded/langchain, vcrpy cassettes of OpenLLMetry's LangChain
test suite) for a loopback replay, and what the recorded responses say each model call's span must
carry; plus reading a finished trace back as a tree.

Only the model providers' requests are replayed (OpenAI, Azure OpenAI, a vLLM server behind the
OpenAI API, Anthropic): the LangChain Hub and Tavily requests of the agent recordings are not
LangChain model calls, and the programs here rebuild those parts locally (the prompt in code, the
search tool returning the recorded 401 error text). Bodies are decompressed here (gzip; brotli when
the ``brotli`` module is installed) and served without ``Content-Encoding``.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from recorded import RECORDED, Interaction

LANGCHAIN = RECORDED / "langchain"
MODEL_HOSTS = ("api.openai.com", "localhost:8000", "openai.azure.com", "api.anthropic.com")
_DROPPED_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


class Undecodable(Exception):
    """A recorded body in an encoding this machine cannot decode (brotli without the ``brotli`` module)."""


@dataclass
class Expected:
    """What one recorded model response says: operation (``chat``, ``text_completion``, ``embeddings``),
    request model, response id, input / output / cache-read / cache-write tokens (``None``: not reported;
    input includes cached tokens, semconv v1.41.1)."""

    operation: str
    model: str
    response_id: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read: int | None = None
    cache_write: int | None = None


#: the hosts of the model providers whose LangChain classes come from langchain-cohere, langchain-aws and
#: langchain-huggingface (tests/test_langchain_recorded_providers.py)
PROVIDER_HOSTS = ("api.cohere.com", "bedrock-runtime.", "endpoints.huggingface.cloud")


def _decode(body: bytes, encoding: str) -> bytes:
    if "gzip" in encoding:
        return gzip.decompress(body)
    if "br" in encoding:
        try:
            import brotli  # type: ignore[import-not-found]
        except ImportError as exc:
            raise Undecodable("brotli") from exc
        return brotli.decompress(body)
    return body


def load(name: str, hosts: tuple[str, ...] = MODEL_HOSTS) -> list[Interaction]:
    """The model interactions of cassette ``name`` (e.g. ``test_lcel/test_invoke``) with those ``hosts``
    (default: the OpenAI and Anthropic ones), bodies decoded."""
    data = yaml.safe_load((LANGCHAIN / f"{name}.yaml").read_text())
    found = []
    for index, item in enumerate(data["interactions"]):
        request, response = item["request"], item["response"]
        if not any(host in request["uri"] for host in hosts):
            continue
        body = response["body"]["string"]
        body = body if isinstance(body, bytes) else body.encode()
        encoding = ",".join(v for k, values in response["headers"].items() if k.lower() == "content-encoding" for v in values)
        headers = [(k, v) for k, values in response["headers"].items() for v in values if k.lower() not in _DROPPED_HEADERS]
        found.append(
            Interaction(
                cassette=name,
                index=index,
                method=request["method"],
                path=urlsplit(request["uri"]).path,
                request_body=json.loads(request["body"] or "{}"),
                status=response["status"]["code"],
                headers=headers,
                body=_decode(body, encoding),
            )
        )
    return found


def _sse(interaction: Interaction) -> list[dict[str, Any]]:
    return interaction.sse_events()


def expected(interaction: Interaction) -> Expected:
    """What ``interaction``'s recorded response says its span must carry."""
    request = interaction.request_body
    path = interaction.path
    if path.endswith("/messages"):  # Anthropic: input = uncached + cache read + cache write
        body = interaction.json()
        usage = body.get("usage") or {}
        read, write = usage.get("cache_read_input_tokens"), usage.get("cache_creation_input_tokens")
        total = usage["input_tokens"] + (read or 0) + (write or 0)
        return Expected("chat", request["model"], body["id"], total, usage["output_tokens"], read, write)
    if path.endswith("/embeddings"):
        operation = "embeddings"
    else:
        operation = "text_completion" if path.endswith("/completions") and "chat" not in path else "chat"
    if request.get("stream"):
        events = _sse(interaction)
        usage = next((e["usage"] for e in events if e.get("usage")), None)
        response_id = next((e["id"] for e in events if e.get("id")), None)
    else:
        body = interaction.json()
        usage, response_id = body.get("usage"), body.get("id")
    if not usage:
        return Expected(operation, request["model"], response_id, None, None)
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    output = usage.get("completion_tokens", 0 if operation == "embeddings" else None)
    return Expected(operation, request["model"], response_id, usage["prompt_tokens"], output, cached)


# --- reading spans back -----------------------------------------------------------------------------
INFERENCE = ("chat", "text_completion")


def tree(spans: list[Any]) -> list[tuple]:
    """The finished ``spans`` as a forest of ``(name, mlflow.spanType, [children])`` tuples, roots and
    children in start order (the children of a ``RunnableParallel`` sorted by name: they run at once)."""
    ids = {span.context.span_id for span in spans}
    children: dict[Any, list[Any]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None and span.parent.span_id in ids else None
        children.setdefault(parent, []).append(span)

    def node(span: Any) -> tuple:
        kids = sorted(children.get(span.context.span_id, []), key=lambda s: s.start_time)
        built = [node(kid) for kid in kids]
        if span.name.startswith("RunnableParallel"):
            built.sort()
        return (span.name, span.attributes.get("mlflow.spanType"), built)

    return [node(span) for span in sorted(children.get(None, []), key=lambda s: s.start_time)]


def inference_spans(spans: list[Any]) -> list[Any]:
    return [span for span in spans if span.attributes.get("gen_ai.operation.name") in INFERENCE]


# --- Cohere, Bedrock, Hugging Face TGI ------------------------------------------------------------------
def _cohere_stream_end(interaction: Interaction) -> tuple[str | None, dict[str, Any]]:
    """``(response id, usage)`` of a streamed Cohere chat: API v2 SSE (``message-start`` carries the
    id, ``message-end``'s ``delta.usage`` the counts) or API v1 NDJSON (``stream-end``'s ``response``
    with ``meta``)."""
    if "/v2/" in interaction.path:
        events = interaction.sse_events()
        end = next(e for e in events if e.get("type") == "message-end")
        return events[0].get("id"), end["delta"]["usage"]
    lines = [json.loads(line) for line in interaction.body.decode().splitlines() if line.strip()]
    end = next(line for line in lines if line.get("event_type") == "stream-end")
    return end["response"].get("generation_id"), end["response"]["meta"]


def expected_provider(interaction: Interaction) -> Expected:
    """What a recorded Cohere, Bedrock or TGI response says its span must carry: the counts as the
    LangChain class passes them on (its callback sees nothing else).

    * Cohere chat (``langchain-cohere`` 0.6): not streamed, ``usage.tokens`` (``usage_metadata``: every
      input token); streamed on API v2, ``usage.billed_units`` (the stream's ``token_count``; Cohere's
      billed input excludes the cached tokens, and ``tokens`` / ``cached_tokens`` are not passed on);
      streamed on API v1, ``meta.tokens``. No cache counts reach the callback.
    * Bedrock ``InvokeModel`` of an Anthropic model: the Messages API ``usage`` (``ChatBedrock``'s
      ``usage_metadata``, which reports absent cache counts as 0); the model is in the URL path.
    * TGI: ``HuggingFaceEndpoint`` asks for the generated text only, so no count reaches the callback
      (the recorded ``details.generated_tokens`` is the server's, unseen by LangChain): ``None``.
    """
    request, path = interaction.request_body, interaction.path
    if path.endswith("/chat"):  # Cohere
        if request.get("stream"):
            response_id, usage = _cohere_stream_end(interaction)
            counts = usage["billed_units"] if "/v2/" in path else usage["tokens"]
        else:
            body = interaction.json()
            response_id, counts = body["id"], body["usage"]["tokens"]
        return Expected("chat", request["model"], response_id, counts["input_tokens"], counts["output_tokens"])
    if "/model/" in path:  # Bedrock InvokeModel: /model/{modelId}/invoke
        body = interaction.json()
        model = unquote(path.split("/model/", 1)[1].rsplit("/", 1)[0])
        usage = body["usage"]  # no cache fields recorded: ChatBedrock reports them as 0
        return Expected("chat", model, body["id"], usage["input_tokens"], usage["output_tokens"],
                        usage.get("cache_read_input_tokens", 0), usage.get("cache_creation_input_tokens", 0))
    return Expected("text_completion", "", None, None, None)  # TGI: model unknown (an endpoint URL)
