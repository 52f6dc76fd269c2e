"""Recorded OpenAI/Anthropic API traffic (../shared/recorded, vcrpy cassettes) served from a real
loopback HTTP server, plus what each recorded response says the span must contain."""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from otel_genai.demo.server import LoopbackServer, Request, Response

RECORDED = Path(os.environ.get("OTEL_GENAI_RECORDED", Path(__file__).resolve().parents[2] / "shared" / "recorded"))
SKIPPED_DIRS = ("test_azure", "test_assistant")  # out of scope (issue 2): azure deployments, assistants


@dataclass
class Interaction:
    """One recorded request/response pair."""

    cassette: str
    index: int
    method: str
    path: str
    request_body: dict[str, Any]
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def id(self) -> str:
        return f"{self.cassette}#{self.index}"

    @property
    def is_stream(self) -> bool:
        return bool(self.request_body.get("stream"))

    def decoded_body(self) -> bytes:
        if any(k.lower() == "content-encoding" and "gzip" in v for k, v in self.headers):
            return gzip.decompress(self.body)
        return self.body

    def json(self) -> Any:
        return json.loads(self.decoded_body())

    def sse_events(self) -> list[Any]:
        """The ``data:`` payloads of an SSE body, decoded, without ``[DONE]``."""
        events = []
        for line in self.decoded_body().decode().splitlines():
            if line.startswith("data:"):
                data = line[5:].strip()
                if data and data != "[DONE]":
                    events.append(json.loads(data))
        return events


def load_interactions(provider: str, path_suffix: str) -> list[Interaction]:
    """Every recorded interaction of ``provider`` whose URL path ends with ``path_suffix``."""
    root = RECORDED / provider
    if not root.is_dir():
        raise FileNotFoundError(f"recorded traffic not found at {root} (set OTEL_GENAI_RECORDED)")
    found = []
    for file in sorted(root.rglob("*.yaml")):
        rel = file.relative_to(root).as_posix()
        if rel.startswith(SKIPPED_DIRS):
            continue
        for index, item in enumerate(yaml.safe_load(file.read_text())["interactions"]):
            request, response = item["request"], item["response"]
            path = urlsplit(request["uri"]).path
            if not path.endswith(path_suffix):
                continue
            body = response["body"]["string"]
            headers = [(k, v) for k, values in response["headers"].items() for v in values]
            found.append(
                Interaction(
                    cassette=rel[:-5],
                    index=index,
                    method=request["method"],
                    path=path,
                    request_body=json.loads(request["body"]),
                    status=response["status"]["code"],
                    headers=headers,
                    body=body if isinstance(body, bytes) else body.encode(),
                )
            )
    return found


class Replayer:
    """One loopback server for a whole test session; ``play()`` loads the interactions that the
    next requests get, in order (a request beyond them gets a 500)."""

    def __init__(self) -> None:
        self.queue: list[Interaction] = []
        self.server = LoopbackServer(self._respond).start()

    def _respond(self, request: Request) -> Response:
        if not self.queue:
            return Response(500, b'{"error": {"message": "no recorded interaction left"}}')
        item = self.queue.pop(0)
        return Response(item.status, item.body, item.headers)

    def play(self, *interactions: Interaction) -> str:
        """Queue ``interactions``; returns the server's base URL."""
        self.queue[:] = interactions
        return self.server.base_url

    def stop(self) -> None:
        self.server.stop()
