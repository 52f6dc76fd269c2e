"""The store's one-pass batch fold (``otel_genai.store.summary.fold_batch``) gives what the separate
summary rules give (``span_usage``, ``span_cost``, ``span_type``, ``summarize_batch``,
``summarize_details``, ``tags_and_metadata``; docs/architecture.md: the summary rules are stated
once in ``store/summary.py``), and the faster per-trace aggregation gives MLflow's ancestor rule
(``aggregate_token_usage`` / ``aggregate_cost``)."""

from __future__ import annotations

import json

import pytest

from otel_genai.store import pricing, summary
from otel_genai.store.model import SpanRecord

T1, T2, T3 = "a" * 32, "b" * 32, "c" * 32
CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.usage.input_tokens": 52,
    "gen_ai.usage.output_tokens": 58,
    "gen_ai.usage.cache_read.input_tokens": 10,
    "gen_ai.input.messages": json.dumps([
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Why trace?"}]},
    ]),
    "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "To see."}]}]),
}


def _records() -> list:
    """Three traces interleaved, with every attribute the fold reads in some span."""
    resource = {"service.name": "svc"}
    other = {"service.name": "other"}
    return [
        # T1: children first, then the root (tags, metadata, session, previews, mlflow form of the type)
        SpanRecord(T1, "1" * 16, "0" * 16, "chat a", "CLIENT", 200, 300, "OK", None,
                   {**CHAT, "mlflow.traceTag.stage": "beta", "session.id": "s-1"}, (), other),
        SpanRecord(T2, "4" * 16, None, "tool", "INTERNAL", 50, 90, "ERROR", "boom",
                   {"gen_ai.operation.name": "execute_tool", "gen_ai.conversation.id": "conv-2",
                    "mlflow.spanInputs": '"the input"', "mlflow.spanOutputs": '{"a": 1}', "user.id": 7}, (), resource),
        SpanRecord(T1, "2" * 16, "0" * 16, "chat b", "CLIENT", 150, 400, "OK", None,
                   {**CHAT, "gen_ai.usage.input_tokens": "30", "gen_ai.usage.output_tokens": 4.0,
                    "mlflow.traceTag.stage": "gamma", "otel_genai.trace.metadata.build": 42,
                    "mlflow.traceTag.": "no key", "gen_ai.response.model": "no-such-model-xyz"}, (), resource),
        SpanRecord(T1, "0" * 16, None, "agent", "INTERNAL", 100, 500, "OK", None,
                   {"mlflow.spanType": '"AGENT"', "user.id": "ada", "mlflow.spanInputs": '{"q": 1}',
                    "otel_genai.trace.response_preview": "custom"}, (), resource),
        # T3: no root stored, old usage names, a carried cost, a span without attributes
        SpanRecord(T3, "5" * 16, "9" * 16, "llm", "CLIENT", 10, 20, "UNSET", None,
                   {"gen_ai.usage.prompt_tokens": 3, "gen_ai.usage.completion_tokens": 4,
                    "gen_ai.usage.cache_creation.input_tokens": 2, "mlflow.llm.cost": '{"total_cost": 0.5}',
                    "gen_ai.request.model": "gpt-4o-mini", "otel_genai.trace.request_preview": "explicit"}, ()),
        SpanRecord(T3, "6" * 16, "5" * 16, "inner", "INTERNAL", 5, 30, "UNSET", None, {}, (), {}),
        SpanRecord(T3, "7" * 16, "8" * 16, "usage only", "INTERNAL", 12, 18, "UNSET", None,
                   {"mlflow.chat.tokenUsage": '{"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}',
                    "mlflow.llm.cost": None}, ()),
    ]


def _expected(records: list) -> summary.BatchFold:
    usages = [summary.span_usage(r.attributes) if r.attributes else None for r in records]
    costs = [pricing.span_cost(r.attributes, u) if u is not None or (r.attributes and pricing.COST_ATTRIBUTE in r.attributes)
             else None for r, u in zip(records, usages)]
    nodes: dict = {}
    for r, u, c in zip(records, usages, costs):
        nodes.setdefault(r.trace_id, []).append((r.span_id, r.parent_id, r.name, r.status_code, u, c, r.start_time_ns))
    return summary.BatchFold(
        usages, costs, [summary.span_type(r.attributes) if r.attributes else summary.UNKNOWN_SPAN_TYPE for r in records],
        summary.summarize_batch(records, usages), summary.summarize_details(records),
        summary.tags_and_metadata(records), nodes,
    )


def test_fold_batch_gives_what_the_separate_rules_give():
    records = _records()
    folded = summary.fold_batch(records, pricing.span_cost_of)
    expected = _expected(records)
    for field in summary.BatchFold._fields:
        assert getattr(folded, field) == getattr(expected, field), field
    # the batch exercised what it claims: costs priced and carried, tags, previews, a stand-in trace
    assert folded.costs[0]["total_cost"] > 0 and folded.costs[4] == {"total_cost": 0.5}
    assert folded.carried[T1] == ({"stage": "gamma"}, {"mlflow.trace.session": "s-1", "build": "42", "mlflow.trace.user": "ada"})
    assert folded.carried[T2] == ({}, {"mlflow.trace.session": "conv-2", "mlflow.trace.user": "7"})
    assert folded.details[T1].request_preview == "Why trace?" and folded.details[T1].response_preview == "custom"
    assert folded.details[T1].service_name == "svc" and folded.details[T1].root_seen
    assert folded.span_types[:4] == ["CHAT_MODEL", "TOOL", "CHAT_MODEL", "AGENT"]
    assert folded.summaries[T3].root_span_id is None and folded.summaries[T3].model == "gpt-4o-mini"


def test_fold_batch_without_pricing_and_a_second_pass_over_the_same_attribute_names():
    records = _records()
    first = summary.fold_batch(records)
    assert first.costs == [None] * len(records)
    # the same attribute names again (the scan of names is reused): each span's own values are read
    changed = [r._replace(attributes={**r.attributes, "mlflow.traceTag.stage": "delta"})
               if "mlflow.traceTag.stage" in r.attributes else r for r in records]
    again = summary.fold_batch(changed)
    assert again.carried[T1][0] == {"stage": "delta"}
    assert again.carried == summary.tags_and_metadata(changed)


def test_fold_batch_refuses_records_of_the_wrong_shape():
    with pytest.raises((TypeError, AttributeError, ValueError, IndexError)):
        summary.fold_batch([("only", "three", "fields")])


def _tree(values: dict, parents: dict) -> list:
    return [(sid, parents.get(sid), "n", "OK", u, c, i) for i, (sid, (u, c)) in enumerate(values.items())]


@pytest.mark.parametrize("case", ["flat", "nested", "json", "cycle", "none"])
def test_index_usage_and_cost_follow_the_ancestor_rule(case):
    usage = {"input_tokens": 2, "output_tokens": 3, "total_tokens": 5}
    cached = {**usage, "cache_read_input_tokens": 1}
    cost = {"input_cost": 0.1, "output_cost": 0.2, "total_cost": 0.30000000000000004}
    if case == "flat":
        values = {"r": (None, None), "a": (usage, cost), "b": (cached, cost), "c": (usage, None)}
        parents = {"a": "r", "b": "r", "c": "r"}
    elif case == "nested":  # a framework span with usage around the SDK span: counted once
        values = {"r": (None, None), "f": (usage, cost), "s": (cached, cost), "x": (None, cost), "y": (cached, None)}
        parents = {"f": "r", "s": "f", "x": "r", "y": "x"}
    elif case == "json":  # as read back from the store
        values = {"r": (None, None), "a": (summary.usage_json(cached), pricing.cost_json(cost)), "b": ("not json", "{}")}
        parents = {"a": "r", "b": "a"}
    elif case == "cycle":  # no root: nothing reachable is counted
        values = {"a": (usage, cost), "b": (usage, cost)}
        parents = {"a": "b", "b": "a"}
    else:
        values = {"r": (None, None), "a": (None, None)}
        parents = {"a": "r"}
    nodes = _tree(values, parents)
    got_usage, got_cost = summary._usage_and_cost(nodes)
    assert got_usage == summary.aggregate_token_usage((n[0], n[1], n[4]) for n in nodes)
    assert got_cost == pricing.aggregate_cost([(n[0], n[1], n[5]) for n in nodes])
    if case == "nested":  # f and y count for usage (s is under f); f and x for cost (s is under f)
        assert got_usage == {"input_tokens": 4, "output_tokens": 6, "total_tokens": 10, "cache_read_input_tokens": 1}
        assert got_cost == {key: 2 * value for key, value in cost.items()}
    if case in ("cycle", "none"):
        assert got_usage is None and got_cost is None


def test_cost_keys_spelled_in_summary_are_pricings():
    assert (summary._INPUT_COST, summary._OUTPUT_COST, summary._TOTAL_COST) == pricing.COST_KEYS


@pytest.mark.parametrize("usage", [
    {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12},
    {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12, "reasoning_output_tokens": 3},
    {"output_tokens": 1},
    {},
])
def test_usage_json_is_compact_json_of_the_counts(usage):
    for _ in range(2):  # the second call uses the cached template
        text = summary.usage_json(usage)
        assert json.loads(text) == usage and list(json.loads(text)) == list(usage)
        assert text == json.dumps(usage, separators=(",", ":"))
    assert summary.usage_json(None) is None


_MESSAGES = [
    "[]", " [ ] ", "[] x", "{}", '"text"', "[1, 2]", "not json", "",
    '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
    ' [ {"role":"system","parts":[]} ,\n {"role":"user","parts":[{"type":"text","content":"a"},{"type":"text","content":"b"}]} ] ',
    '[{"role":"system"},{"role":"assistant","parts":[{"type":"text","content":"x"}]}]',
    '[{"role":"user","parts":5}]', '[{"role":"user","parts":[]}]', '[{"role":"system"} {"role":"user"}]',
    '[{"role":"system"},]', '[{"role":"system"}] ,', '[\n{"role":"user","parts":[{"type":"text","content":"\\u00e9"}]}\n]\n',
]


def _request_preview(decode, text):
    try:
        return decode(text)
    except (ValueError, TypeError, AttributeError):
        return "error"


@pytest.mark.parametrize("text", _MESSAGES)
def test_request_preview_decoded_up_to_the_first_user_message_as_from_the_whole_array(text):
    whole = _request_preview(lambda t: summary._request_text(json.loads(t)), text)
    assert _request_preview(summary._request_text_of_json, text) == whole


def test_request_preview_of_a_long_conversation_reads_only_up_to_its_first_user_message():
    history = [{"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
               {"role": "user", "parts": [{"type": "text", "content": "first question"}]}]
    history += [{"role": "assistant", "parts": [{"type": "text", "content": "answer"}]}] * 50
    text = json.dumps(history)
    assert summary._request_text_of_json(text) == "first question"
    # the history after that message is not decoded: a defect there leaves the preview
    assert summary._request_text_of_json(text[:-1] + ", oops]") == "first question"
    with pytest.raises(ValueError):
        json.loads(text[:-1] + ", oops]")
    records = [SpanRecord(T1, "1" * 16, None, "chat", "CLIENT", 1, 2, "OK", None, {"gen_ai.input.messages": text}, ())]
    assert summary.fold_batch(records).details[T1].request_preview == "first question"
