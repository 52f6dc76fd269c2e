"""Helpers of the contract tests: reading spans, opening and reading a case's streams."""

from __future__ import annotations

import inspect
import json
from typing import Any

from .case import ProviderCase, StreamApi


def only_span(telemetry, case: ProviderCase) -> Any:
    """The one span the call produced, ours; fails if an SDK added its own or none ended."""
    spans = telemetry.spans()
    assert len(spans) == 1, [(s.name, s.instrumentation_scope.name) for s in spans]
    assert (spans[0].instrumentation_scope.name, spans[0].name) == (case.scope, case.span_name)
    return spans[0]


def output_message(span) -> dict[str, Any]:
    (message,) = json.loads(span.attributes["gen_ai.output.messages"])
    return message


def output_text(span) -> str:
    return "".join(p["content"] for p in output_message(span)["parts"] if p["type"] == "text")


def assert_attributes(span, expected: dict[str, Any]) -> None:
    """``span`` carries ``expected``: a tuple compares a sequence attribute, a dict a JSON one."""
    attrs = span.attributes
    for key, value in expected.items():
        assert key in attrs, key
        actual = attrs[key]
        if isinstance(value, tuple):
            actual = tuple(actual)
        elif isinstance(value, dict):
            actual = json.loads(actual)
        assert actual == value, (key, actual)


async def resolved(value: Any) -> Any:
    """``value``, awaited if it is awaitable (an async client's call)."""
    return await value if inspect.isawaitable(value) else value


def enter(api: StreamApi, client: Any) -> Any:
    """The stream of ``api``, without a ``with`` block (a helper's manager is entered, never exited)."""
    opened = api.open(client)
    return opened.__enter__() if api.helper else opened


async def aenter(api: StreamApi, client: Any) -> Any:
    opened = await resolved(api.open(client))
    return await opened.__aenter__() if api.helper else opened


def read_all(api: StreamApi, client: Any) -> str:
    """Read ``api``'s stream to its end inside ``with``; returns its text."""
    with api.open(client) as stream:
        return "".join(api.item_text(item) for item in stream)


def read_until_text(api: StreamApi, stream: Any, pieces: int) -> str:
    """Read ``stream`` until ``pieces`` items with text arrived; returns that text."""
    received = []
    for item in stream:
        text = api.item_text(item)
        if text:
            received.append(text)
            if len(received) == pieces:
                break
    return "".join(received)
