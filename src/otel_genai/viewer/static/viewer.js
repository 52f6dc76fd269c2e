// otel-genai trace viewer: the trace list, sessions and one trace, rendered from /api/.
// Every captured value is put into the page as a DOM text node (never as HTML), so a prompt holding
// markup shows as that markup. No framework, no build step: this file is served as is.
"use strict";

(function () {
  const POLL_MS = 2000;
  const state = { info: null, token: sessionStorage.getItem("otel-genai-token") || "", timer: null };

  // --- DOM helpers: el("tag.class", {attr: value}, child...) -- strings become text nodes ------------

  function el(spec, attrs, ...children) {
    const pieces = spec.split(/(?=[.#])/);
    const node = document.createElement(pieces[0] && !/^[.#]/.test(pieces[0]) ? pieces.shift() : "div");
    const classes = [];
    for (const piece of pieces) {
      if (piece[0] === "#") node.id = piece.slice(1);
      else classes.push(piece.slice(1));
    }
    if (classes.length) node.className = classes.join(" ");
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "style") Object.assign(node.style, value);  // CSSOM: allowed by the CSP, unlike style=""
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    append(node, ...children);
    return node;
  }

  function append(node, ...children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  // --- formatting -----------------------------------------------------------------------------------

  const fmtInt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));

  function fmtTime(ms) {
    if (ms === null || ms === undefined) return "–";
    const d = new Date(ms);
    const pad = (n, w = 2) => String(n).padStart(w, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  function fmtDuration(ms) {
    if (ms === null || ms === undefined) return "–";
    if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
    if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
    return `${(ms / 1000).toFixed(2)} s`;
  }

  function fmtCost(cost) {
    const total = cost && typeof cost === "object" ? cost.total_cost : cost;
    if (total === null || total === undefined || total === "") return "–";
    const n = Number(total);
    return Number.isFinite(n) ? `$${n < 0.01 ? n.toFixed(6) : n.toFixed(4)}` : String(total);
  }

  function statusBadge(status) {
    const s = status || "UNSET";
    return el(`span.badge.status-${s.toLowerCase()}`, {}, s);
  }

  function jsonText(value) {
    if (typeof value === "string") {
      try { return JSON.stringify(JSON.parse(value), null, 2); } catch (e) { return value; }
    }
    return JSON.stringify(value, null, 2);
  }

  function parseJSON(value) {
    if (typeof value !== "string") return value;
    try { return JSON.parse(value); } catch (e) { return undefined; }
  }

  // --- the API ----------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path, options = {}) {
    const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    const response = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (response.status === 401) {
      const token = window.prompt("This trace store needs its bearer token:");
      if (token) {
        state.token = token;
        sessionStorage.setItem("otel-genai-token", token);
        return api(path, options);
      }
    }
    if (!response.ok) throw new ApiError(response.status, (body && body.error) || response.statusText);
    return body;
  }

  function showError(container, error) {
    append(container, el("p.error", { role: "alert" }, String(error.message || error)));
  }

  // --- routing ------------------------------------------------------------------------------------

  function go(url) {
    history.pushState(null, "", url);
    route();
  }

  function link(href, ...children) {
    return el("a", { href, onclick: (e) => { if (e.button === 0 && !e.metaKey && !e.ctrlKey) { e.preventDefault(); go(href); } } }, ...children);
  }

  function route() {
    if (state.timer) { clearTimeout(state.timer); state.timer = null; }
    const main = clear(document.getElementById("main"));
    const path = location.pathname;
    document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active",
      (a.dataset.nav === "sessions") === path.startsWith("/sessions") && !path.startsWith("/traces/")));
    const match = path.match(/^\/traces\/([^/]+)$/);
    if (match) return traceView(main, decodeURIComponent(match[1]), new URLSearchParams(location.search).get("span"));
    if (path.startsWith("/sessions")) return sessionsView(main);
    return listView(main);
  }

  // --- the trace list -----------------------------------------------------------------------------

  const SORTS = [
    ["timestamp_ms DESC", "newest first"], ["timestamp_ms ASC", "oldest first"],
    ["execution_time_ms DESC", "longest first"], ["total_tokens DESC", "most tokens first"],
    ["cost DESC", "most expensive first"],
  ];
  const FIELDS = [
    ["status", "trace.status = 'ERROR'"], ["model", "trace.model = ''"], ["tag", "tag.`key` = ''"],
    ["session", "metadata.`mlflow.trace.session` = ''"], ["tokens", "trace.total_tokens > 1000"],
    ["name", "trace.name LIKE '%agent%'"],
  ];

  function listQuery() {
    const params = new URLSearchParams(location.search);
    return { filter: params.get("filter") || "", order: params.get("order") || SORTS[0][0], page: params.get("page") || "" };
  }

  function listUrl(q) {
    const params = new URLSearchParams();
    if (q.filter) params.set("filter", q.filter);
    if (q.order && q.order !== SORTS[0][0]) params.set("order", q.order);
    if (q.page) params.set("page", q.page);
    const s = params.toString();
    return location.pathname + (s ? `?${s}` : "");
  }

  function apiQuery(q, features) {
    const params = new URLSearchParams({ max_results: "50" });
    if (q.filter) params.set("filter_string", q.filter);
    if (q.order && features.order_by) params.set("order_by", q.order);
    if (q.page) params.set("page_token", q.page);
    return params;
  }

  function filterBar(q, features, onApply) {
    const input = el("input#filter.filter", {
      type: "search", value: q.filter, placeholder: "filter_string, e.g. trace.status = 'ERROR' AND trace.model = 'gpt-4o-mini'",
      "aria-label": "filter", spellcheck: "false", name: "filter", id: "filter",
    });
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") onApply(input.value.trim(), sort.value); });
    const sort = el("select#sort", { "aria-label": "sort", id: "sort", disabled: !features.order_by },
      SORTS.map(([value, label]) => el("option", { value, selected: value === q.order }, label)));
    sort.addEventListener("change", () => onApply(input.value.trim(), sort.value));
    const chips = el("div.chips", {}, "Fields: ", FIELDS.map(([name, example]) => el("button.chip", {
      type: "button", title: example,
      onclick: () => { input.value = input.value ? `${input.value} AND ${example}` : example; input.focus(); },
    }, name)));
    return el("div.filterbar", {}, el("div.row", {}, input,
      el("button#apply", { type: "button", id: "apply", onclick: () => onApply(input.value.trim(), sort.value) }, "Filter"),
      el("button", { type: "button", onclick: () => onApply("", sort.value) }, "Clear"), sort), chips,
      features.filter_string ? null : el("p.muted", {}, "This store's backend has no filter_string support yet."));
  }

  function tokensOf(row, key) {
    return row.token_usage ? row.token_usage[key] : null;
  }

  function traceRow(row, fresh) {
    return el(`tr.trace${row.status === "ERROR" ? ".error" : ""}${fresh ? ".fresh" : ""}`, {
      dataset: { traceId: row.trace_id }, onclick: (e) => { if (e.target.tagName !== "A") go(`/traces/${row.trace_id}`); },
    },
    el("td.time", {}, fmtTime(row.start_time_ms)),
    el("td.name", {}, link(`/traces/${row.trace_id}`, row.root_span_name || "(no root span)")),
    el("td", {}, row.service || "–"),
    el("td.models", {}, (row.models || []).join(", ") || "–"),
    el("td", {}, statusBadge(row.status)),
    el("td.num", {}, fmtDuration(row.duration_ms)),
    el("td.num.in", {}, fmtInt(tokensOf(row, "input_tokens"))),
    el("td.num.out", {}, fmtInt(tokensOf(row, "output_tokens"))),
    el("td.num.total", {}, fmtInt(tokensOf(row, "total_tokens"))),
    el("td.num.cost", {}, fmtCost(row.cost)));
  }

  function tableHead() {
    return el("thead", {}, el("tr", {}, ["Start time", "Root span", "Service", "Model(s)", "Status",
      "Duration", "Input", "Output", "Total tokens", "Cost"].map((h) => el("th", {}, h))));
  }

  async function listView(main) {
    const info = await loadInfo();
    const features = (info && info.features) || {};
    const q = listQuery();
    const apply = (filter, order) => go(listUrl({ filter, order, page: "" }));
    const status = el("p.status.muted", { id: "list-status" });
    const tbody = el("tbody#traces", { id: "traces" });
    const pager = el("div.pager");
    const errors = el("div");
    append(main, el("h1", {}, "Traces"), filterBar(q, features, apply), errors, status,
      el("table.traces", {}, tableHead(), tbody), pager);
    let shown = null;
    async function refresh() {
      let page;
      try {
        page = await api(`/api/traces?${apiQuery(q, features)}`);
      } catch (error) {
        clear(errors);
        showError(errors, error);
        return;
      }
      clear(errors);
      const key = page.traces.map((t) => `${t.trace_id}:${t.span_count}`).join(",");
      if (key !== shown) {
        const before = shown === null ? null : new Set(shown.split(",").map((k) => k.split(":")[0]));
        shown = key;
        clear(tbody);
        page.traces.forEach((row) => tbody.appendChild(traceRow(row, before !== null && !before.has(row.trace_id))));
        if (!page.traces.length) tbody.appendChild(el("tr", {}, el("td.empty", { colspan: 10 },
          q.filter ? "No trace matches this filter." : "No traces yet: run an instrumented app (otel-genai demo) or export to /v1/traces.")));
      }
      const live = !q.page;
      status.textContent = `${page.traces.length} trace${page.traces.length === 1 ? "" : "s"}${live ? " · live" : ""}`;
      clear(pager);
      if (q.page) append(pager, el("button", { type: "button", onclick: () => go(listUrl(Object.assign({}, q, { page: "" }))) }, "First page"));
      if (page.next_page_token) append(pager, el("button#next", { type: "button", id: "next", onclick: () => go(listUrl(Object.assign({}, q, { page: page.next_page_token }))) }, "Next page"));
    }
    await refresh();
    const tick = async () => {
      if (!document.body.contains(tbody)) return;
      if (!q.page && !document.hidden) await refresh();
      if (document.body.contains(tbody)) state.timer = setTimeout(tick, POLL_MS);
    };
    state.timer = setTimeout(tick, POLL_MS);
  }

  // --- sessions -----------------------------------------------------------------------------------

  async function sessionsView(main) {
    const info = await loadInfo();
    const features = (info && info.features) || {};
    const q = listQuery();
    append(main, el("h1", {}, "Sessions"), el("p.muted", {}, "The latest traces grouped by session.id (or gen_ai.conversation.id)."));
    let data;
    try {
      data = await api(`/api/sessions?${apiQuery(Object.assign({}, q, { order: "" }), features)}`);
    } catch (error) {
      return showError(main, error);
    }
    if (!data.sessions.length) return append(main, el("p.empty", {}, "No trace of the latest page has a session id."));
    for (const s of data.sessions) {
      append(main, el("section.session", { dataset: { sessionId: s.session_id } },
        el("h2", {}, "Session ", el("code", {}, s.session_id)),
        el("p.muted", {}, `${s.trace_count} trace${s.trace_count === 1 ? "" : "s"} · ${fmtTime(s.start_time_ms)} – ${fmtTime(s.last_time_ms)} · ${fmtInt(s.total_tokens)} tokens · ${fmtCost(s.cost)}`),
        el("table.traces", {}, tableHead(), el("tbody", {}, s.traces.map((row) => traceRow(row, false))))));
    }
  }

  // --- one trace ----------------------------------------------------------------------------------

  function buildTree(spans) {
    const byId = new Map(spans.map((s) => [s.span_id, Object.assign({ children: [] }, s)]));
    const roots = [];
    for (const node of byId.values()) {
      const parent = node.parent_id && byId.get(node.parent_id);
      (parent ? parent.children : roots).push(node);
    }
    const order = [];
    const walk = (node, depth) => {
      node.depth = depth;
      order.push(node);
      node.children.sort((a, b) => a.offset_ms - b.offset_ms).forEach((c) => walk(c, depth + 1));
    };
    roots.sort((a, b) => a.offset_ms - b.offset_ms).forEach((r) => walk(r, 0));
    return order;
  }

  function usageLine(usage) {
    if (!usage) return "no token usage reported";
    const parts = [`input ${fmtInt(usage.input_tokens)}`, `output ${fmtInt(usage.output_tokens)}`, `total ${fmtInt(usage.total_tokens)}`];
    if (usage.cache_read_input_tokens) parts.push(`cache read ${fmtInt(usage.cache_read_input_tokens)}`);
    if (usage.cache_creation_input_tokens) parts.push(`cache write ${fmtInt(usage.cache_creation_input_tokens)}`);
    if (usage.reasoning_output_tokens) parts.push(`reasoning ${fmtInt(usage.reasoning_output_tokens)}`);
    return parts.join(" · ");
  }

  async function traceView(main, traceId, spanId) {
    const info = await loadInfo();
    let data;
    try {
      data = await api(`/api/traces/${encodeURIComponent(traceId)}`);
    } catch (error) {
      append(main, el("p", {}, link("/", "← all traces")));
      return showError(main, error);
    }
    const t = data.trace;
    const spans = buildTree(data.spans);
    document.title = `${t.root_span_name || t.trace_id} · otel-genai`;
    const selected = spans.find((s) => s.span_id === spanId) || spans[0];
    const panel = el("section.panel#span", { id: "span" });
    const tree = el("div.tree#tree", { id: "tree", role: "tree" });
    const total = Math.max(t.duration_ms || 0, 0.001);
    const select = (span, push) => {
      tree.querySelectorAll(".node").forEach((n) => n.classList.toggle("selected", n.dataset.spanId === span.span_id));
      if (push) history.replaceState(null, "", `/traces/${t.trace_id}?span=${span.span_id}`);
      renderSpan(clear(panel), span);
    };
    for (const span of spans) {
      const left = (100 * Math.max(span.offset_ms, 0)) / total;
      const width = Math.max((100 * span.duration_ms) / total, 0.3);
      const type = span.span_type || span.kind;
      tree.appendChild(el(`div.node${span.status === "ERROR" ? ".error" : ""}`, {
        role: "treeitem", tabindex: "0", dataset: { spanId: span.span_id }, onclick: () => select(span, true),
        onkeydown: (e) => { if (e.key === "Enter") select(span, true); },
      },
      el("div.label", { style: { paddingLeft: `${span.depth * 16 + 4}px` } }, el("span.type", {}, type), " ",
        el("span.span-name", {}, span.name), span.token_usage ? el("span.tok.muted", {}, ` ${fmtInt(span.token_usage.total_tokens)} tok`) : null),
      el("div.lane", {}, el("div.bar", { style: { left: `${left.toFixed(3)}%`, width: `${Math.min(width, 100 - left).toFixed(3)}%` },
        title: `${fmtDuration(span.duration_ms)} at +${fmtDuration(span.offset_ms)}` })),
      el("span.dur", {}, fmtDuration(span.duration_ms))));
    }
    const tagsBox = el("div.tags#tags", { id: "tags" });
    renderTags(tagsBox, t, info);
    const actions = el("div.actions");
    if (info && info.features && info.features.delete && !info.read_only) {
      append(actions, el("button.danger", { type: "button", onclick: async () => {
        if (!window.confirm(`Delete trace ${t.trace_id}?`)) return;
        try { await api(`/api/traces/${t.trace_id}`, { method: "DELETE" }); go("/"); } catch (error) { showError(actions, error); }
      } }, "Delete trace"));
    }
    append(main,
      el("p", {}, link("/", "← all traces"), t.session_id ? [" · session ", el("code", {}, t.session_id)] : null),
      el("header.trace-head", {},
        el("h1", {}, t.root_span_name || "(no root span)", " ", statusBadge(t.status)),
        el("p.muted", {}, "trace ", el("code#trace-id", { id: "trace-id" }, t.trace_id), ` · ${fmtTime(t.start_time_ms)} · ${fmtDuration(t.duration_ms)} · ${t.span_count} spans`,
          t.service ? ` · service ${t.service}` : "", (t.models || []).length ? ` · ${t.models.join(", ")}` : ""),
        el("p.total#total", { id: "total" }, el("strong", {}, "Total token usage: "), usageLine(t.token_usage),
          el("span.cost", {}, ` · cost ${fmtCost(t.cost)}`)),
        tagsBox, actions),
      el("div.detail", {}, el("section.waterfall", {}, el("h2", {}, "Spans"), tree), panel));
    if (selected) select(selected, false);
  }

  function renderTags(box, t, info) {
    clear(box);
    const canEdit = info && info.features && info.features.tags && !info.read_only;
    for (const [key, value] of Object.entries(t.tags || {})) {
      append(box, el("span.tag", { dataset: { tag: key } }, `${key}=${value}`, canEdit ? el("button.x", {
        type: "button", title: "remove tag", onclick: async () => {
          try { await api(`/api/traces/${t.trace_id}/tags/${encodeURIComponent(key)}`, { method: "DELETE" }); delete t.tags[key]; renderTags(box, t, info); } catch (error) { showError(box, error); }
        } }, "×") : null));
    }
    if (canEdit) {
      const k = el("input.small", { placeholder: "tag", "aria-label": "tag key", id: "tag-key" });
      const v = el("input.small", { placeholder: "value", "aria-label": "tag value", id: "tag-value" });
      append(box, k, v, el("button", { type: "button", id: "add-tag", onclick: async () => {
        if (!k.value.trim()) return;
        try {
          await api(`/api/traces/${t.trace_id}/tags/${encodeURIComponent(k.value.trim())}`, {
            method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ value: v.value }) });
          t.tags = Object.assign({}, t.tags, { [k.value.trim()]: v.value });
          renderTags(box, t, info);
        } catch (error) { showError(box, error); }
      } }, "Add tag"));
    }
  }

  // --- the selected span --------------------------------------------------------------------------

  const CONTENT_KEYS = ["gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"];

  function kv(rows) {
    return el("table.kv", {}, el("tbody", {}, rows.filter((r) => r && r[1] !== undefined && r[1] !== null && r[1] !== "")
      .map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))));
  }

  function renderSpan(panel, span) {
    const a = span.attributes || {};
    const u = span.token_usage || {};
    const params = Object.keys(a).filter((k) => k.startsWith("gen_ai.request.")).sort().map((k) => [k.slice(15), Array.isArray(a[k]) ? a[k].join(", ") : String(a[k])]);
    append(panel,
      el("h2", {}, span.name, " ", statusBadge(span.status)),
      kv([
        ["type", span.span_type || a["gen_ai.operation.name"] || span.kind], ["kind", span.kind], ["model", span.model],
        ["provider", a["gen_ai.provider.name"] || a["gen_ai.system"]], ["duration", fmtDuration(span.duration_ms)],
        ["starts at", `+${fmtDuration(span.offset_ms)}`],
        ["time to first chunk", span.time_to_first_chunk_ms !== null && span.time_to_first_chunk_ms !== undefined ? fmtDuration(span.time_to_first_chunk_ms) : null],
        ["input tokens", u.input_tokens !== undefined ? fmtInt(u.input_tokens) : null],
        ["output tokens", u.output_tokens !== undefined ? fmtInt(u.output_tokens) : null],
        ["total tokens", u.total_tokens !== undefined ? fmtInt(u.total_tokens) : null],
        ["cache read tokens", u.cache_read_input_tokens ? fmtInt(u.cache_read_input_tokens) : null],
        ["cache write tokens", u.cache_creation_input_tokens ? fmtInt(u.cache_creation_input_tokens) : null],
        ["reasoning tokens", u.reasoning_output_tokens ? fmtInt(u.reasoning_output_tokens) : null],
        ["cost", span.cost ? fmtCost(span.cost) : null],
        ["finish reasons", Array.isArray(a["gen_ai.response.finish_reasons"]) ? a["gen_ai.response.finish_reasons"].join(", ") : null],
        ["status", span.status === "ERROR" ? el("span.errtext", {}, span.status_message || "ERROR") : null],
        ["error type", a["error.type"] ? el("span.errtext", {}, a["error.type"]) : null],
      ]),
      params.length ? [el("h3", {}, "Parameters"), kv(params)] : null);
    const exceptions = (span.events || []).filter((e) => e.name === "exception");
    for (const e of exceptions) {
      append(panel, el("div.exception", {}, el("strong", {}, e.attributes["exception.type"] || "exception", ": "),
        e.attributes["exception.message"] || "", e.attributes["exception.stacktrace"] ? el("pre", {}, e.attributes["exception.stacktrace"]) : null));
    }
    const isInference = !!(a["gen_ai.operation.name"] && a["gen_ai.operation.name"] !== "execute_tool" && a["gen_ai.operation.name"] !== "invoke_agent" && a["gen_ai.operation.name"] !== "create_agent") || span.span_type === "CHAT_MODEL" || span.span_type === "LLM";
    const isTool = a["gen_ai.operation.name"] === "execute_tool" || span.span_type === "TOOL";
    if (isInference) renderConversation(panel, a);
    if (isTool) renderTool(panel, a);
    if (!isInference && !isTool && (a["mlflow.spanInputs"] !== undefined || a["mlflow.spanOutputs"] !== undefined)) {
      append(panel, el("h3", {}, "Inputs → outputs"), el("div.io", {}, el("pre.json", {}, jsonText(a["mlflow.spanInputs"] ?? "")), el("div.arrow", {}, "→"),
        el("pre.json", {}, jsonText(a["mlflow.spanOutputs"] ?? ""))));
    }
    const events = (span.events || []).filter((e) => e.name !== "exception");
    if (events.length) append(panel, el("h3", {}, "Events"), el("ul.events", {}, events.map((e) => el("li", {}, `+${fmtDuration(e.offset_ms)} `, el("code", {}, e.name),
      Object.keys(e.attributes || {}).length ? el("pre.json", {}, jsonText(e.attributes)) : null))));
    const raw = Object.keys(a).sort().map((k) => [k, el("pre.attr", {}, typeof a[k] === "string" ? a[k] : JSON.stringify(a[k]))]);
    append(panel, el("details.raw#raw", { id: "raw" }, el("summary", {}, `All attributes (${raw.length})`), kv(raw),
      el("h4", {}, "Resource"), kv(Object.entries(span.resource_attributes || {}).map(([k, v]) => [k, String(v)])),
      el("h4", {}, "Scope"), kv([["name", span.scope && span.scope.name], ["version", span.scope && span.scope.version],
        ["span id", span.span_id], ["parent id", span.parent_id || "(root)"]])));
  }

  function notCaptured(what) {
    return el("p.muted.not-captured", {}, `${what} not captured (content capture is off: set OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY to record it).`);
  }

  function renderConversation(panel, a) {
    const system = parseJSON(a["gen_ai.system_instructions"]);
    const input = parseJSON(a["gen_ai.input.messages"]);
    const output = parseJSON(a["gen_ai.output.messages"]);
    const tools = parseJSON(a["gen_ai.tool.definitions"]);
    const conv = el("div.conversation#conversation", { id: "conversation" });
    append(panel, el("h3", {}, "Conversation"), conv);
    if (system === undefined && input === undefined && output === undefined) {
      append(conv, notCaptured("Messages"));
    }
    if (Array.isArray(system) && system.length) append(conv, message({ role: "system", parts: system }, "system"));
    if (Array.isArray(input)) input.forEach((m) => append(conv, message(m, "input")));
    if (Array.isArray(output)) output.forEach((m) => append(conv, message(m, "output")));
    else if (input !== undefined) append(conv, notCaptured("Output messages"));
    if (Array.isArray(tools) && tools.length) {
      append(panel, el("details.tools#tool-definitions", { id: "tool-definitions" }, el("summary", {}, `Tool definitions (${tools.length})`),
        tools.map((t) => el("div.tooldef", {}, el("strong", {}, t.name || "(unnamed)"), t.description ? el("p", {}, t.description) : null,
          t.parameters ? el("pre.json", {}, jsonText(t.parameters)) : null))));
    }
  }

  function message(m, side) {
    const role = (m && m.role) || "?";
    return el(`div.msg.role-${String(role).replace(/[^a-z_]/gi, "")}.${side}`, {},
      el("div.role", {}, role, m && m.finish_reason ? el("span.muted", {}, ` · ${m.finish_reason}`) : null),
      (Array.isArray(m && m.parts) ? m.parts : [{ type: "text", content: m && m.content !== undefined ? m.content : m }]).map(part));
  }

  function byteSize(base64) {
    const n = Math.floor((String(base64).replace(/=+$/, "").length * 3) / 4);
    return n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} bytes`;
  }

  function part(p) {
    if (p === null || typeof p !== "object") return el("pre.text", {}, String(p));
    switch (p.type) {
      case "text": return el("pre.text", {}, p.content === undefined ? "" : String(p.content));
      case "reasoning": return el("div.reasoning", {}, el("span.muted", {}, "reasoning "), el("pre.text", {}, String(p.content || "")));
      case "tool_call":
      case "server_tool_call":
        return el("div.toolcall", {}, el("span.label", {}, "tool call "), el("code.fn", {}, p.name || "?"),
          p.id ? el("span.muted", {}, ` (${p.id})`) : null, el("pre.json.args", {}, jsonText(p.arguments ?? {})));
      case "tool_call_response":
      case "server_tool_call_response":
        return el("div.toolresult", {}, el("span.label", {}, "tool result"), p.id ? el("span.muted", {}, ` (${p.id})`) : null,
          el("pre.json", {}, jsonText(p.response ?? "")));
      case "blob": {
        const mime = p.mime_type || p.modality || "binary";
        if (p.content && String(mime).startsWith("image/")) {
          const img = el("img.inline", { alt: `${p.modality || "image"} (${mime})` });
          img.src = `data:${mime};base64,${p.content}`;
          return el("div.media", {}, img, el("span.muted", {}, ` ${p.modality || "image"} (${mime}, ${byteSize(p.content)})`));
        }
        return el("div.media.placeholder", {}, `${p.modality || "file"} (${mime}, ${p.content ? byteSize(p.content) : "content not captured"})`);
      }
      case "uri": return el("div.media.placeholder", {}, `${p.modality || "file"} (${p.mime_type || "uri"}) `, el("code", {}, p.uri || ""));
      case "file": return el("div.media.placeholder", {}, `${p.modality || "file"} (${p.mime_type || "file"}, id ${p.file_id || "?"})`);
      default: return el("pre.json", {}, jsonText(p));
    }
  }

  function renderTool(panel, a) {
    const args = a["gen_ai.tool.call.arguments"];
    const result = a["gen_ai.tool.call.result"];
    append(panel, el("h3", {}, "Tool ", el("code", {}, a["gen_ai.tool.name"] || "")),
      a["gen_ai.tool.description"] ? el("p.muted", {}, a["gen_ai.tool.description"]) : null,
      args === undefined && result === undefined ? notCaptured("Arguments and result") :
        el("div.io#tool-io", { id: "tool-io" }, el("div", {}, el("div.label", {}, "arguments"), el("pre.json", {}, args === undefined ? "(not captured)" : jsonText(args))),
          el("div.arrow", {}, "→"), el("div", {}, el("div.label", {}, "result"), el("pre.json", {}, result === undefined ? "(not captured)" : jsonText(result)))));
  }

  // --- start ----------------------------------------------------------------------------------------

  async function loadInfo() {
    if (state.info) return state.info;
    try {
      state.info = await api("/api/info");
      document.getElementById("store").textContent = `${state.info.store}${state.info.read_only ? " (read-only)" : ""}`;
    } catch (error) {
      state.info = null;
    }
    return state.info;
  }

  window.addEventListener("popstate", route);
  route();
})();
