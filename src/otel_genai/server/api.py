"""The JSON read API under ``/api/``: a thin layer over :class:`~otel_genai.store.interface.TraceStore`.

==========================================  ==============================================================
``GET /api/info``                           ``{"store", "read_only", "protect_reads", "features"}``
``GET /api/traces``                         ``{"traces": [summary...], "next_page_token"}``; query:
                                            ``filter_string``, ``order_by`` (repeatable), ``max_results``
                                            (1..500, default 50), ``page_token``
``GET /api/traces/{id}``                    ``{"trace": summary, "spans": [span...]}`` (id: full or a
                                            unique prefix of 8+ hex, ``tr-`` accepted)
``GET /api/sessions``                       ``{"sessions": [...]}``: the traces of one page grouped by
                                            session id (query as for ``/api/traces``)
``PUT /api/traces/{id}/tags/{key}``         body ``{"value": str}``: set a tag
``DELETE /api/traces/{id}/tags/{key}``      remove a tag
``DELETE /api/traces/{id}``                 delete the trace
==========================================  ==============================================================

Errors are ``{"error": message}``: 413 a body over :data:`MAX_BODY`, 400 a bad query (a malformed ``filter_string`` says where), 401 no
or wrong bearer token (writes, and reads when the server protects them), 403 a read-only server,
404 no such trace, 501 a call the store's backend does not offer, 503 the store is busy.

Shapes (units: ``*_ms`` milliseconds, times in ms since the Unix epoch as floats; token counts):

* summary: ``trace_id``, ``status`` (``OK``/``ERROR``), ``start_time_ms``, ``duration_ms``,
  ``root_span_name``, ``service`` (the root span's ``service.name``), ``models`` (every
  ``gen_ai.response.model``, else ``gen_ai.request.model``, in start order), ``token_usage``
  (``trace.info.token_usage``), ``cost`` (``{"input_cost", "output_cost", "total_cost"}`` USD, or
  ``None``), ``session_id`` (``session.id``, else ``gen_ai.conversation.id``, of the earliest span
  with one), ``tags``, ``span_count``.
* span: ``span_id``, ``parent_id``, ``name``, ``kind``, ``span_type`` (``mlflow.spanType``), ``offset_ms``
  (from the trace start), ``start_time_ms``, ``duration_ms``, ``status``, ``status_message``,
  ``model``, ``token_usage`` (the span's own), ``cost`` (the span's, priced by the store, else its
  ``mlflow.llm.cost``), ``time_to_first_chunk_ms``
  (``gen_ai.response.time_to_first_chunk``, s in the span), ``attributes`` (raw, JSON-valued strings
  kept as strings), ``events`` (``offset_ms``), ``resource_attributes``, ``scope``.

Names follow the GenAI semantic conventions v1.41.1 (``gen_ai.*``), OTel's ``session.id`` and the
MLflow keys of :mod:`otel_genai.semconv.mlflow`; the store's read API (``search_traces`` with
``filter_string`` / ``order_by`` / ``page_token``, tags, deletion, cost) is used where the backend has it.
"""

from __future__ import annotations

import inspect
import json
import math
from typing import Any, Dict, List, Optional

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..semconv import attributes as A
from ..store.interface import (
    AmbiguousTraceIdError,
    StoreError,
    StoreUnavailableError,
    TraceNotFoundError,
    TraceStore,
)
from .ingest import check_token, IngestError

DEFAULT_PAGE = 50
MAX_PAGE = 500
#: the largest request body the API reads (a tag's JSON); ingest has its own limit
MAX_BODY = 64 * 1024
SESSION_KEYS = ("session.id", A.GEN_AI_CONVERSATION_ID)
_COST = "mlflow.llm.cost"


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def features(store: TraceStore) -> Dict[str, bool]:
    """Which parts of the read API the store's backend offers (by its methods and keywords)."""
    try:
        params = inspect.signature(store.search_traces).parameters
    except (TypeError, ValueError):
        params = {}
    return {
        "filter_string": "filter_string" in params,
        "order_by": "order_by" in params,
        "paging": "page_token" in params,
        "tags": callable(getattr(store, "set_trace_tag", None)),
        "delete": callable(getattr(store, "delete_traces", None)),
    }


# --- shapes -------------------------------------------------------------------------------------


def _ms(ns: Optional[int]) -> Optional[float]:
    return None if ns is None else ns / 1e6


def _json_safe(value: Any) -> Any:
    """Attribute values as JSON: non-finite floats as strings, bytes as a size placeholder."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _decoded(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _span_model(attrs: dict) -> Optional[str]:
    return attrs.get(A.GEN_AI_RESPONSE_MODEL) or attrs.get(A.GEN_AI_REQUEST_MODEL) or None


def _info_dict(trace: Any) -> Dict[str, Any]:
    to_dict = getattr(trace, "to_dict", None)
    if callable(to_dict):
        try:
            data = to_dict()
            return data.get("info", {}) if isinstance(data, dict) else {}
        except Exception:  # noqa: BLE001 - an older model: the fields below still come from info
            return {}
    return {}


def summary(trace: Any) -> Dict[str, Any]:
    """A trace's list row (shape: the module docstring)."""
    info = trace.info
    extra = _info_dict(trace)
    spans = list(trace.data.spans)
    ids = {s.span_id for s in spans}
    root = next((s for s in spans if s.parent_id is None or s.parent_id not in ids), None)
    models: List[str] = []
    session = None
    for s in spans:
        model = _span_model(s.attributes)
        if model and model not in models:
            models.append(model)
        if session is None:
            session = next((s.attributes[k] for k in SESSION_KEYS if s.attributes.get(k)), None)
    if not models and info.model:
        models = [info.model]
    metadata = extra.get("trace_metadata") or getattr(info, "trace_metadata", None) or {}
    if session is None and isinstance(metadata, dict):
        session = metadata.get("mlflow.trace.session")
    tags = extra.get("tags") if isinstance(extra.get("tags"), dict) else getattr(info, "tags", None)
    cost = extra.get("cost", getattr(info, "cost", None))
    return {
        "trace_id": info.trace_id,
        "status": info.status,
        "start_time_ms": _ms(info.start_time_ns),
        "duration_ms": info.duration_ms,
        "root_span_name": info.root_span_name,
        "service": (root.resource_attributes.get("service.name") if root is not None else None),
        "models": models,
        "token_usage": info.token_usage,
        "cost": _json_safe(cost) if cost is not None else None,
        "session_id": None if session is None else str(session),
        "tags": _json_safe(dict(tags or {})),
        "span_count": len(spans),
        "request_preview": extra.get("request_preview"),
    }


def span_dict(span: Any, trace_start_ns: int) -> Dict[str, Any]:
    """One span for the detail view (shape: the module docstring)."""
    attrs = span.attributes
    ttfc = attrs.get(A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    return {
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "name": span.name,
        "kind": span.kind,
        "span_type": attrs.get(A.MLFLOW_SPAN_TYPE),
        "offset_ms": (span.start_time_ns - trace_start_ns) / 1e6,
        "start_time_ms": _ms(span.start_time_ns),
        "duration_ms": span.duration_ms,
        "status": span.status,
        "status_message": span.status_message,
        "model": _span_model(attrs),
        "token_usage": span.token_usage,
        "cost": _json_safe(getattr(span, "cost", None) or _decoded(attrs.get(_COST))),
        "time_to_first_chunk_ms": ttfc * 1000 if isinstance(ttfc, (int, float)) else None,
        "attributes": _json_safe(dict(attrs)),
        "events": [
            {"name": e.get("name"), "offset_ms": (int(e.get("time_ns") or 0) - trace_start_ns) / 1e6,
             "attributes": _json_safe(dict(e.get("attributes") or {}))}
            for e in span.events
        ],
        "resource_attributes": _json_safe(dict(span.resource_attributes)),
        "scope": {"name": span.scope_name, "version": span.scope_version},
    }


def sessions(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Summaries grouped by ``session_id`` (traces without one left out), newest session first."""
    groups: Dict[str, Dict[str, Any]] = {}
    for row in rows:
        sid = row["session_id"]
        if sid is None:
            continue
        group = groups.setdefault(sid, {"session_id": sid, "traces": [], "total_tokens": 0, "cost": None})
        group["traces"].append(row)
        group["total_tokens"] += int((row["token_usage"] or {}).get("total_tokens") or 0)
        total = (row["cost"] or {}).get("total_cost") if isinstance(row["cost"], dict) else None
        if total is not None:
            group["cost"] = (group["cost"] or 0.0) + float(total)
    out = list(groups.values())
    for group in out:
        group["traces"].sort(key=lambda r: r["start_time_ms"] or 0)
        group["trace_count"] = len(group["traces"])
        group["start_time_ms"] = group["traces"][0]["start_time_ms"]
        group["last_time_ms"] = group["traces"][-1]["start_time_ms"]
    out.sort(key=lambda g: g["last_time_ms"] or 0, reverse=True)
    return out


# --- the store calls (run in worker threads) ----------------------------------------------------


def _search(store: TraceStore, query: Dict[str, Any]) -> Dict[str, Any]:
    have = features(store)
    kwargs: Dict[str, Any] = {}
    for name in ("filter_string", "order_by", "page_token"):
        value = query.get(name)
        if value:
            if not have[name if name != "page_token" else "paging"]:
                raise ApiError(501, f"this store's backend does not support {name}")
            kwargs[name] = value
    try:
        result = store.search_traces(max_results=query["max_results"], include_spans=True, **kwargs)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    token = getattr(result, "token", None) or getattr(result, "next_page_token", None)
    return {"traces": [summary(t) for t in result], "next_page_token": token}


def _resolve(store: TraceStore, trace_id: str) -> str:
    try:
        return store.resolve_trace_id(trace_id)
    except (TraceNotFoundError, AmbiguousTraceIdError) as exc:
        raise ApiError(404, str(exc)) from None


def _detail(store: TraceStore, trace_id: str) -> Dict[str, Any]:
    trace = store.get_trace(_resolve(store, trace_id))
    if trace is None:
        raise ApiError(404, f"no trace {trace_id!r}")
    start = trace.info.start_time_ns
    return {"trace": summary(trace), "spans": [span_dict(s, start) for s in trace.data.spans]}


def _set_tag(store: TraceStore, trace_id: str, key: str, value: str) -> Dict[str, Any]:
    if not features(store)["tags"]:
        raise ApiError(501, "this store's backend does not support tags")
    full = _resolve(store, trace_id)
    store.set_trace_tag(full, key, value)  # type: ignore[attr-defined]
    return {"trace_id": full, "key": key, "value": value}


def _delete_tag(store: TraceStore, trace_id: str, key: str) -> Dict[str, Any]:
    if not callable(getattr(store, "delete_trace_tag", None)):
        raise ApiError(501, "this store's backend does not support tags")
    full = _resolve(store, trace_id)
    store.delete_trace_tag(full, key)  # type: ignore[attr-defined]
    return {"trace_id": full, "key": key}


def _delete(store: TraceStore, trace_id: str) -> Dict[str, Any]:
    if not features(store)["delete"]:
        raise ApiError(501, "this store's backend does not support deletion")
    full = _resolve(store, trace_id)
    deleted = store.delete_traces(trace_ids=[full])  # type: ignore[attr-defined]
    return {"trace_id": full, "deleted": deleted if isinstance(deleted, int) else 1}


# --- the endpoints ------------------------------------------------------------------------------


def _query(request: Request) -> Dict[str, Any]:
    params = request.query_params
    raw = params.get("max_results") or str(DEFAULT_PAGE)
    try:
        max_results = int(raw)
    except ValueError:
        raise ApiError(400, f"max_results must be an integer, not {raw!r}") from None
    if not 1 <= max_results <= MAX_PAGE:
        raise ApiError(400, f"max_results must be in 1..{MAX_PAGE}, not {max_results}")
    order_by = [o for o in params.getlist("order_by") if o.strip()]
    return {"filter_string": (params.get("filter_string") or "").strip() or None, "order_by": order_by or None,
            "page_token": params.get("page_token") or None, "max_results": max_results}


async def _call(request: Request, write: bool, fn: Any, *args: Any) -> Response:
    settings = request.app.state.settings
    try:
        if write or settings.protect_reads:
            try:
                check_token(request, settings.token)
            except IngestError as exc:
                raise ApiError(401, exc.message) from None
        if write and settings.read_only:
            raise ApiError(403, "this server is read-only (--read-only)")
        result = await run_in_threadpool(fn, request.app.state.store, *args)
        return JSONResponse(result, headers={"Cache-Control": "no-store"})
    except ApiError as exc:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)
    except StoreUnavailableError as exc:
        return JSONResponse({"error": f"the trace store is busy: {exc}"}, status_code=503, headers={"Retry-After": "1"})
    except StoreError as exc:
        return JSONResponse({"error": str(exc)}, status_code=500)


async def _info(request: Request) -> Response:
    settings = request.app.state.settings

    def info(store: TraceStore) -> Dict[str, Any]:
        return {"store": store.location, "read_only": settings.read_only, "protect_reads": settings.protect_reads,
                "features": features(store)}

    return await _call(request, False, info)


async def _traces(request: Request) -> Response:
    try:
        query = _query(request)
    except ApiError as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    return await _call(request, False, _search, query)


async def _sessions(request: Request) -> Response:
    try:
        query = _query(request)
    except ApiError as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    def grouped(store: TraceStore) -> Dict[str, Any]:
        page = _search(store, query)
        return {"sessions": sessions(page["traces"]), "next_page_token": page["next_page_token"]}

    return await _call(request, False, grouped)


async def _trace(request: Request) -> Response:
    trace_id = request.path_params["trace_id"]
    if request.method == "DELETE":
        return await _call(request, True, _delete, trace_id)
    return await _call(request, False, _detail, trace_id)


async def _tag(request: Request) -> Response:
    trace_id, key = request.path_params["trace_id"], request.path_params["key"]
    if request.method == "DELETE":
        return await _call(request, True, _delete_tag, trace_id, key)
    raw = bytearray()
    async for part in request.stream():
        raw += part
        if len(raw) > MAX_BODY:
            return JSONResponse({"error": f"a tag body is at most {MAX_BODY} bytes"}, status_code=413,
                                headers={"Connection": "close"})
    try:
        body = json.loads(bytes(raw) or b"{}")
        value = body["value"] if isinstance(body, dict) else None
    except (ValueError, KeyError):
        value = None
    if not isinstance(value, str):
        return JSONResponse({"error": 'send {"value": "<string>"}'}, status_code=400)
    return await _call(request, True, _set_tag, trace_id, key, value)


def routes() -> list:
    return [
        Route("/api/info", _info, methods=["GET"]),
        Route("/api/traces", _traces, methods=["GET"]),
        Route("/api/sessions", _sessions, methods=["GET"]),
        Route("/api/traces/{trace_id}", _trace, methods=["GET", "DELETE"]),
        Route("/api/traces/{trace_id}/tags/{key:path}", _tag, methods=["PUT", "DELETE"]),
    ]
