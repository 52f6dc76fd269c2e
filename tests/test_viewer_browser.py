"""The trace viewer in a real browser: Debian's chromium driven by Playwright, against the server of
``otel-genai serve`` / ``ui`` on 127.0.0.1, over a fresh store on SQLite and on a real PostgreSQL server.

An instrumented agent app (a real subprocess replaying recorded OpenAI traffic, see ``viewer_support``)
exports over OTLP/HTTP to the server; the page then shows its trace with the recorded token total;
filtering by model and by status narrows the list; the trace opens on its span tree, the conversation
of the recording and the tool call; a trace ingested while the page is open appears without a reload;
an XSS payload in a prompt stays text; with content capture off the page says so. Screenshots of the
list and of a trace land in ``/tmp/otel-genai-screenshots/`` (test artifacts, not committed).
"""

from __future__ import annotations

import json

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from playwright.sync_api import expect, sync_playwright

from otel_genai.server import TraceServer
from viewer_support import (
    AGENT_USAGE,
    ANSWER,
    ASK_MODEL,
    SESSION_ID,
    TOOL_RESULT,
    XSS,
    launch_chromium,
    run_agent,
    screenshot,
)

EXPECT_MS = 10_000
#: the agent's span name: otel_genai.trace names an agent span "invoke_agent <name>" (semconv v1.41.1)
AGENT_SPAN = "invoke_agent weather_agent"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with sync_playwright() as playwright:
        context = launch_chromium(playwright, tmp_path_factory.mktemp("chromium-profile"))
        context.set_default_timeout(EXPECT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def server(store_uri):
    with TraceServer(store_uri, port=0) as s:
        yield s


@pytest.fixture
def page(browser):
    """A fresh tab; any script error on it (a CSP violation included) fails the test."""
    tab = browser.new_page()
    errors: list = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    # an API answer of 4xx is logged by chromium as "Failed to load resource": the tests cause some on purpose
    tab.on("console", lambda msg: errors.append(msg.text)
           if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    yield tab
    tab.close()
    assert not errors, errors


@pytest.fixture
def seeded(server, tmp_path, replayer):
    """The server with the agent trace, the XSS trace and the ERROR trace stored; ``{name: summary}``."""
    run_agent(tmp_path, replayer, server.endpoint)
    rows = requests.get(server.url + "/api/traces", timeout=10).json()["traces"]
    assert len(rows) == 3, rows
    agent = next(r for r in rows if r["root_span_name"] == AGENT_SPAN)
    error = next(r for r in rows if r["status"] == "ERROR")
    xss = next(r for r in rows if r not in (agent, error))
    return {"agent": agent, "error": error, "xss": xss}


def backend(store_uri: str) -> str:
    return store_uri.split(":", 1)[0]


def rows(page):
    return page.locator("#traces tr.trace")


def test_the_list_shows_the_recorded_agent_trace_with_its_token_total(server, seeded, page, store_uri):
    page.goto(server.url + "/")
    row = page.locator(f'#traces tr[data-trace-id="{seeded["agent"]["trace_id"]}"]')
    expect(row).to_be_visible()
    expect(rows(page)).to_have_count(3)
    cells = row.locator("td")
    expect(cells.nth(1)).to_have_text(AGENT_SPAN)
    expect(cells.nth(2)).to_have_text("weather-app")
    expect(cells.nth(3)).to_contain_text(ASK_MODEL)
    expect(cells.nth(4)).to_have_text("OK")
    expect(row.locator("td.in")).to_have_text(str(AGENT_USAGE["input_tokens"]))
    expect(row.locator("td.out")).to_have_text(str(AGENT_USAGE["output_tokens"]))
    expect(row.locator("td.total")).to_have_text(str(AGENT_USAGE["total_tokens"]))
    # newest first: the agent ran first, the failed call last
    expect(rows(page).first).to_have_attribute("data-trace-id", seeded["error"]["trace_id"])
    expect(rows(page).last).to_have_attribute("data-trace-id", seeded["agent"]["trace_id"])
    expect(page.locator(f'#traces tr[data-trace-id="{seeded["error"]["trace_id"]}"] .badge')).to_have_text("ERROR")
    screenshot(page, f"list-{backend(store_uri)}")


def test_filtering_by_model_and_by_status_narrows_the_list_and_sorting_reorders_it(server, seeded, page):
    page.goto(server.url + "/")
    expect(rows(page)).to_have_count(3)
    page.fill("#filter", "trace.status = 'ERROR'")
    page.press("#filter", "Enter")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_have_attribute("data-trace-id", seeded["error"]["trace_id"])
    assert "filter=trace.status" in page.url  # the filter is in the URL: a deep link
    page.fill("#filter", f"trace.model = '{ASK_MODEL}'")
    page.click("#apply")
    expect(rows(page)).to_have_count(2)
    ids = {rows(page).nth(i).get_attribute("data-trace-id") for i in range(2)}
    assert ids == {seeded["agent"]["trace_id"], seeded["xss"]["trace_id"]}
    page.select_option("#sort", "total_tokens DESC")
    expect(rows(page).first).to_have_attribute("data-trace-id", seeded["agent"]["trace_id"])
    page.select_option("#sort", "timestamp_ms DESC")
    expect(rows(page).first).to_have_attribute("data-trace-id", seeded["xss"]["trace_id"])
    # a malformed filter is answered with the grammar's message, the page keeps working
    page.fill("#filter", "trace.status = = 'OK'")
    page.press("#filter", "Enter")
    expect(page.locator("p.error")).to_contain_text("invalid filter_string at position 15")
    page.fill("#filter", "")
    page.press("#filter", "Enter")
    expect(rows(page)).to_have_count(3)


def test_opening_the_trace_shows_the_tree_the_conversation_and_the_tool_call(server, seeded, page, store_uri):
    agent_id = seeded["agent"]["trace_id"]
    page.goto(server.url + "/")
    page.locator(f'#traces tr[data-trace-id="{agent_id}"] td.name a').click()
    page.wait_for_url(f"**/traces/{agent_id}")
    expect(page.locator("#trace-id")).to_have_text(agent_id)
    usage = AGENT_USAGE
    expect(page.locator("#total")).to_contain_text(
        f"Total token usage: input {usage['input_tokens']} · output {usage['output_tokens']} · total {usage['total_tokens']}")
    nodes = page.locator("#tree .node")
    expect(nodes).to_have_count(4)
    names = [n.strip() for n in nodes.locator(".span-name").all_inner_texts()]
    assert names[0] == AGENT_SPAN and names[2] == "execute_tool get_current_weather", names
    assert names[1].startswith("chat") and names[3].startswith("chat"), names
    # the first call: the user's question, the model's tool call with its arguments
    nodes.nth(1).click()
    conversation = page.locator("#conversation")
    expect(conversation).to_contain_text("What's the weather like in San Francisco?")
    call = conversation.locator(".toolcall")
    expect(call.locator(".fn")).to_have_text("get_current_weather")
    assert json.loads(call.locator(".args").inner_text()) == {"location": "San Francisco"}
    expect(page.locator("#tool-definitions summary")).to_have_text("Tool definitions (1)")
    # the tool span: arguments -> result
    nodes.nth(2).click()
    assert f"span={nodes.nth(2).get_attribute('data-span-id')}" in page.url
    io = page.locator("#tool-io")
    expect(io).to_contain_text("San Francisco")
    expect(io).to_contain_text(TOOL_RESULT)
    # the second call: the tool result sent back, the recorded answer
    nodes.nth(3).click()
    expect(conversation.locator(".toolresult")).to_contain_text(TOOL_RESULT)
    expect(conversation.locator(".msg.output")).to_contain_text(ANSWER.json()["choices"][0]["message"]["content"])
    expect(page.locator("#span")).to_contain_text("input tokens")
    expect(page.locator("#span tr", has_text="cost")).to_contain_text("$")  # priced by the store (genai-prices)
    page.locator("#raw summary").click()
    expect(page.locator("#raw")).to_contain_text("gen_ai.response.id")
    screenshot(page, f"detail-{backend(store_uri)}")
    # a deep link selects its span
    tool_span = nodes.nth(2).get_attribute("data-span-id")
    page.goto(f"{server.url}/traces/{agent_id}?span={tool_span}")
    expect(page.locator("#tree .node.selected")).to_have_attribute("data-span-id", tool_span)
    expect(page.locator("#tool-io")).to_contain_text(TOOL_RESULT)


def test_a_trace_ingested_while_the_page_is_open_appears_without_a_reload(server, seeded, page):
    page.goto(server.url + "/")
    expect(rows(page)).to_have_count(3)
    page.evaluate("window.__same_page = true")
    provider = TracerProvider(resource=Resource.create({"service.name": "late-app"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=server.endpoint)))
    with provider.get_tracer("viewer.test").start_as_current_span("arrived-late"):
        pass
    provider.shutdown()
    expect(rows(page)).to_have_count(4)
    expect(rows(page).first.locator("td.name")).to_have_text("arrived-late")
    expect(rows(page).first.locator("td").nth(2)).to_have_text("late-app")
    assert page.evaluate("window.__same_page") is True  # the same document: no reload


def test_an_xss_payload_in_a_prompt_stays_text(server, seeded, page, store_uri):
    page.goto(f"{server.url}/traces/{seeded['xss']['trace_id']}")
    conversation = page.locator("#conversation")
    expect(conversation.locator(".msg.input pre.text")).to_have_text(XSS)
    assert conversation.locator("script, img, b").count() == 0
    assert page.evaluate("window.__xss") is None
    screenshot(page, f"xss-{backend(store_uri)}")
    page.locator("#raw summary").click()
    expect(page.locator("#raw")).to_contain_text(json.dumps(XSS)[1:-1])  # the attribute as stored: JSON text
    assert page.evaluate("window.__xss") is None


def test_sessions_group_the_traces_of_a_session(server, seeded, page, store_uri):
    page.goto(server.url + "/sessions")
    session = page.locator(f'section.session[data-session-id="{SESSION_ID}"]')
    expect(session).to_be_visible()
    expect(session.locator("tr.trace")).to_have_count(1)
    expect(session.locator("tr.trace")).to_have_attribute("data-trace-id", seeded["agent"]["trace_id"])
    expect(session).to_contain_text(f"{AGENT_USAGE['total_tokens']} tokens")
    screenshot(page, f"sessions-{backend(store_uri)}")


def test_with_content_capture_off_the_page_shows_what_is_there_and_says_content_was_not_captured(
        server, page, tmp_path, replayer):
    run_agent(tmp_path, replayer, server.endpoint, extra=False, capture="NO_CONTENT")
    (row,) = requests.get(server.url + "/api/traces", timeout=10).json()["traces"]
    page.goto(f"{server.url}/traces/{row['trace_id']}")
    expect(page.locator("#total")).to_contain_text(f"total {AGENT_USAGE['total_tokens']}")
    nodes = page.locator("#tree .node")
    nodes.nth(1).click()
    expect(page.locator("#conversation .not-captured")).to_contain_text("not captured")
    expect(page.locator("#span")).to_contain_text(ASK_MODEL)
    nodes.nth(2).click()
    expect(page.locator("#span .not-captured")).to_contain_text("not captured")


def test_a_tag_added_on_the_page_filters_the_list_and_a_trace_deleted_there_is_gone(server, seeded, page):
    agent_id, xss_id = seeded["agent"]["trace_id"], seeded["xss"]["trace_id"]
    page.goto(f"{server.url}/traces/{agent_id}")
    page.fill("#tag-key", "reviewed")
    page.fill("#tag-value", "yes")
    page.click("#add-tag")
    expect(page.locator('#tags .tag[data-tag="reviewed"]')).to_have_text("reviewed=yes×")
    page.goto(server.url + "/?filter=" + requests.utils.quote("tag.reviewed = 'yes'"))
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_have_attribute("data-trace-id", agent_id)
    page.goto(f"{server.url}/traces/{xss_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Delete trace")
    page.wait_for_url(server.url + "/")
    expect(rows(page)).to_have_count(2)
    assert page.locator(f'#traces tr[data-trace-id="{xss_id}"]').count() == 0


def test_paging_walks_the_list_fifty_traces_at_a_time(server, page):
    provider = TracerProvider(resource=Resource.create({"service.name": "many"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=server.endpoint)))
    tracer = provider.get_tracer("viewer.test")
    for i in range(55):
        with tracer.start_as_current_span(f"step-{i:02d}"):
            pass
    provider.shutdown()
    page.goto(server.url + "/")
    expect(rows(page)).to_have_count(50)
    expect(rows(page).first.locator("td.name")).to_have_text("step-54")
    page.click("#next")
    expect(rows(page)).to_have_count(5)
    expect(rows(page).last.locator("td.name")).to_have_text("step-00")
    expect(page.locator("#list-status")).not_to_contain_text("live")  # a later page does not poll
    page.click("text=First page")
    expect(rows(page)).to_have_count(50)


PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def test_images_are_placeholders_unless_captured(server, page):
    """A ``blob`` part (semconv v1.41.1 input messages) whose content was not captured (the default binary
    policy keeps ``mime_type``, empties ``content``) is a placeholder; a captured one is shown."""
    messages = [{"role": "user", "parts": [
        {"type": "text", "content": "What is in these pictures?"},
        {"type": "blob", "modality": "image", "mime_type": "image/jpeg", "content": ""},
        {"type": "blob", "modality": "image", "mime_type": "image/png", "content": PIXEL},
        {"type": "uri", "modality": "image", "uri": "https://example.invalid/cat.png"},
    ]}]
    provider = TracerProvider(resource=Resource.create({"service.name": "vision"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=server.endpoint)))
    with provider.get_tracer("viewer.test").start_as_current_span("chat gpt-4o") as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                             "gen_ai.input.messages": json.dumps(messages)})
    provider.shutdown()
    (row,) = requests.get(server.url + "/api/traces", timeout=10).json()["traces"]
    page.goto(f"{server.url}/traces/{row['trace_id']}")
    media = page.locator("#conversation .media")
    expect(media).to_have_count(3)
    expect(media.nth(0)).to_have_text("image (image/jpeg, content not captured)")
    expect(media.nth(1).locator("img")).to_have_attribute("src", f"data:image/png;base64,{PIXEL}")
    expect(media.nth(1)).to_contain_text("image (image/png, 70 bytes)")
    expect(media.nth(2)).to_contain_text("https://example.invalid/cat.png")  # shown as text, never fetched
    assert media.nth(2).locator("img, a").count() == 0
    expect(page.locator("#conversation .not-captured")).to_contain_text("Output messages not captured")
