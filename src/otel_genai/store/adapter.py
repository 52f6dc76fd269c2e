"""What the two SQL adapters (:mod:`~otel_genai.store.sqlite`, :mod:`~otel_genai.store.postgres`) do
alike, stated once. No SQL statement (only the names of the columns the rows are read in), no
driver, no connection: an adapter runs its own SQL, hands the rows it read to the functions here and
writes the values they return.

It owns:

* :class:`SQLTraceStore`, the base class of both adapters: the :class:`~otel_genai.store.interface.TraceStore`
  methods whose work around the SQL is the same (``search_traces``, ``delete_traces``,
  ``resolve_trace_id``, ``get_trace``: their arguments checked and normalised here, then one hook the adapter
  implements with its SQL);
* the stored text of a record's JSON values (:func:`dumps`) and a resource's id (:class:`ResourceIds`);
* the column lists that the rows below are read in (the fields of
  :class:`~otel_genai.store.summary.TraceSummary`, :class:`~otel_genai.store.summary.TraceDetails`,
  :class:`~otel_genai.store.summary.TraceIndex`, in their order; a trace row's and a span row's
  columns): names only, the adapters' statements select them;
* stored rows -> :mod:`~otel_genai.store.model` records (:func:`summary_from_row`,
  :func:`details_from_row`, :func:`span_from_row`, :func:`traces_from_rows`, :func:`key_values`);
* the ``trace_index`` rows a batch writes (:func:`keys_needing_spans`, :func:`index_rows`);
* a read's page (:func:`page`) and what a deletion selects (:class:`Deletion`).

Units: times in ns since the Unix epoch, token counts in tokens, costs in USD.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from .interface import AmbiguousTraceIdError, PagedList, TimeLike, TraceNotFoundError, normalize_trace_id, to_ns
from .model import Span, Trace, TraceData, TraceInfo
from .pricing import parse_cost
from .query import (
    DEFAULT_MAX_RESULTS,
    decode_page_token,
    encode_page_token,
    legacy_filter,
    parse_filter,
    parse_order_by,
    search_arguments,
)
from .summary import TraceDetails, TraceSummary, aggregate_span_usage, index_trace, needs_spans, parse_token_usage

# --- the columns the rows are read in ------------------------------------------------------------

#: ``traces``: the fields of a :class:`TraceSummary`, in order
SUMMARY_COLUMNS = (
    "start_time_ns, end_time_ns, root_span_id, root_span_name, root_status_code, model, model_start_ns,"
    " has_token_usage"
)
#: ``trace_index``: the fields of a :class:`TraceDetails`, in order
DETAIL_COLUMNS = (
    "provider, provider_start_ns, service_name, root_seen, request_preview, request_rank, response_preview,"
    " response_rank"
)
#: ``trace_index``: the fields of a :class:`~otel_genai.store.summary.TraceIndex`, in order
INDEX_COLUMNS = (
    "state, status, name, timestamp_ms, execution_time_ms, input_tokens, output_tokens, total_tokens,"
    " token_usage, input_cost, output_cost, total_cost, cost, model, provider, service_name"
)
#: a trace row's columns, in the order :func:`traces_from_rows` reads them: of a ``trace_index`` row
#: ``t`` and its ``traces`` row ``tr``
TRACE_ROW = (
    "t.trace_key, t.trace_id, tr.start_time_ns, tr.end_time_ns, tr.root_span_id, "
    + ", ".join("t." + c.strip() for c in INDEX_COLUMNS.split(","))
    + ", t.request_preview, t.response_preview"
)
#: a span row's columns, in the order :func:`span_from_row` reads them: of a ``spans`` row ``s``, its
#: ``resources`` row ``r`` and its ``span_index`` row ``si``
SPAN_ROW = (
    "s.span_id, s.parent_id, s.name, s.kind, s.start_time_ns, s.end_time_ns, s.status_code, s.status_message,"
    " s.attributes, s.events, r.attributes, s.scope_name, s.scope_version, si.cost"
)
#: the tables holding a trace's rows, children first (the order a deletion empties them in)
TRACE_TABLES = ("spans", "span_index", "trace_tags", "trace_metadata", "trace_index", "traces")


# --- the methods both adapters run alike ---------------------------------------------------------


class Deletion(NamedTuple):
    """What :meth:`SQLTraceStore.delete_traces` deletes: the union of the traces selected by each field.

    Fields: ``cutoff`` (ns since the epoch: traces that started before it; ``None``: none by time),
    ``trace_ids`` (normalised ids, :func:`~otel_genai.store.interface.normalize_trace_id`), ``max_traces``
    (all but this many newest, by start; ``None``: none by count).
    """

    cutoff: Optional[int]
    trace_ids: List[str]
    max_traces: Optional[int]


class SQLTraceStore:
    """The base class of the SQL adapters: the :class:`~otel_genai.store.interface.TraceStore`
    methods that check and normalise their arguments the same way in both, each ending in one hook
    (below them) that a subclass implements with its SQL and its driver's error mapping.

    A subclass sets ``location`` (the store's name in messages).
    """

    location: str

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def get_trace(self, trace_id: str) -> Optional[Trace]:
        """The trace with this exact id (32 hex; ``tr-`` prefix accepted) with all its spans, or
        ``None`` when it is not stored."""
        return self._read_trace(normalize_trace_id(trace_id))

    def search_traces(
        self,
        filter_string: Optional[str] = "",
        order_by: Optional[Sequence[str]] = None,
        max_results: Optional[int] = DEFAULT_MAX_RESULTS,
        page_token: Optional[str] = None,
        include_spans: bool = True,
        *,
        status: Optional[str] = None,
        root_span_name: Optional[str] = None,
        min_start_time: Optional[TimeLike] = None,
        max_start_time: Optional[TimeLike] = None,
    ) -> PagedList:
        """Traces matching ``filter_string``, one page; see :meth:`TraceStore.search_traces`. The
        filter and order run in SQL over ``trace_index`` (:mod:`otel_genai.store.query`, in the
        adapter's dialect)."""
        filter_string, max_results = search_arguments(filter_string, max_results)
        conditions = parse_filter(filter_string) + legacy_filter(
            status, root_span_name,
            None if min_start_time is None else to_ns(min_start_time),
            None if max_start_time is None else to_ns(max_start_time),
        )
        order = parse_order_by(order_by)
        offset = decode_page_token(page_token)
        if max_results is not None and max_results <= 0:
            return PagedList([], None)
        return self._search(conditions, order, offset, max_results, include_spans)

    def delete_traces(
        self,
        *,
        older_than: Optional[Union[TimeLike, _dt.timedelta]] = None,
        trace_ids: Optional[Iterable[str]] = None,
        max_traces: Optional[int] = None,
    ) -> int:
        """Delete whole traces; see :meth:`TraceStore.delete_traces` (and the adapter's ``_delete``
        for what becomes of the space). Raises ``ValueError`` for a negative ``max_traces``."""
        if max_traces is not None and max_traces < 0:
            raise ValueError(f"max_traces must be >= 0, not {max_traces}")
        ids = [normalize_trace_id(t) for t in trace_ids] if trace_ids is not None else []
        if older_than is None and not ids and max_traces is None:
            return 0
        cutoff = None
        if older_than is not None:
            if isinstance(older_than, _dt.timedelta):
                cutoff = to_ns(_dt.datetime.now(_dt.timezone.utc) - older_than)
            else:
                cutoff = to_ns(older_than)
        return self._delete(Deletion(cutoff, ids, max_traces))

    def resolve_trace_id(self, id_or_prefix: str, *, min_prefix: int = 8) -> str:
        """Full trace id for a full id or a unique prefix of at least ``min_prefix`` hex characters.

        Raises :class:`TraceNotFoundError` (no match, or prefix too short) or
        :class:`AmbiguousTraceIdError` (several traces share the prefix).
        """
        tid = normalize_trace_id(id_or_prefix)
        if self._has_trace(tid):
            return tid
        if len(tid) >= 32 or any(c not in "0123456789abcdef" for c in tid):
            raise self._not_found(id_or_prefix)
        if len(tid) < min_prefix:
            raise TraceNotFoundError(
                f"no trace with id {id_or_prefix!r} in {self.location}"
                f" (a trace id prefix needs at least {min_prefix} hex characters)"
            )
        found = self._with_prefix(tid)
        if not found:
            raise self._not_found(id_or_prefix)
        if len(found) > 1:
            raise AmbiguousTraceIdError(f"trace id prefix {id_or_prefix!r} matches several traces in {self.location}")
        return found[0]

    def _not_found(self, trace_id: str) -> TraceNotFoundError:
        """The error for a trace id (as the caller gave it) that names no stored trace."""
        return TraceNotFoundError(f"no trace with id {trace_id!r} in {self.location}")

    # the hooks: what a subclass implements with its SQL

    def close(self) -> None:
        """Release the connection(s); idempotent."""
        raise NotImplementedError

    def _read_trace(self, trace_id: str) -> Optional[Trace]:
        """The trace ``trace_id`` (normalised) with its spans, or ``None`` (for :meth:`get_trace`)."""
        raise NotImplementedError

    def _search(self, conditions: list, order: tuple, offset: int, max_results: Optional[int],
                include_spans: bool) -> PagedList:
        """The page of :meth:`search_traces`: ``conditions`` and ``order`` parsed
        (:mod:`~otel_genai.store.query`), ``offset`` the page token's, ``max_results`` > 0 or
        ``None`` (all); :func:`page` builds the answer from the rows read."""
        raise NotImplementedError

    def _delete(self, deletion: Deletion) -> int:
        """Delete the traces ``deletion`` selects (at least one of its fields does); how many (for
        :meth:`delete_traces`)."""
        raise NotImplementedError

    def _has_trace(self, trace_id: str) -> bool:
        """Whether the trace ``trace_id`` (normalised) is stored (for :meth:`resolve_trace_id`)."""
        raise NotImplementedError

    def _with_prefix(self, prefix: str) -> List[str]:
        """The first two stored trace ids, in id order, that start with ``prefix`` (for
        :meth:`resolve_trace_id`)."""
        raise NotImplementedError


# --- records -> stored text -----------------------------------------------------------------------


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).hex()
    if hasattr(obj, "keys"):
        return dict(obj)
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    return str(obj)


#: the JSON text of attributes, events and resource attributes, as both adapters store it: compact;
#: bytes as hex, other mappings as dicts, sets as lists, anything else as ``str()``. ``ensure_ascii``
#: (the default) writes lone surrogates (and NUL, which PostgreSQL text cannot hold) as ``\\u``
#: escapes, so they never fail a batch's UTF-8 encoding
dumps: Callable[[Any], str] = json.JSONEncoder(separators=(",", ":"), default=_json_default).encode


class ResourceIds:
    """``(resource_id, JSON)`` of resource-attribute mappings: the JSON of the attributes sorted by
    key (:func:`dumps`) and, as the id, 16 hex characters of its BLAKE2b hash, so both adapters name
    a resource alike. Cached by object identity (a batch's spans share one mapping); the cache is
    emptied when it holds more than 64."""

    def __init__(self) -> None:
        self._cache: Dict[int, tuple] = {}

    def __call__(self, attributes: Any) -> Tuple[str, str]:
        cached = self._cache.get(id(attributes))
        if cached is not None and cached[0] is attributes:
            return cached[1], cached[2]
        text = dumps(dict(sorted(dict(attributes).items())))
        key = hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[id(attributes)] = (attributes, key, text)
        return key, text


# --- stored rows -> records -----------------------------------------------------------------------


def summary_from_row(values: Sequence[Any]) -> TraceSummary:
    """The :class:`TraceSummary` of a ``traces`` row's :data:`SUMMARY_COLUMNS` (``has_token_usage``
    as 0/1 or a bool)."""
    return TraceSummary(*values[:7], bool(values[7]))


def details_from_row(values: Sequence[Any]) -> TraceDetails:
    """The :class:`TraceDetails` of a ``trace_index`` row's :data:`DETAIL_COLUMNS` (``root_seen`` as
    0/1 or a bool)."""
    return TraceDetails(*values[:3], bool(values[3]), *values[4:])


def span_from_row(trace_id: str, row: Sequence[Any], resources: Dict[str, dict]) -> Span:
    """A :class:`Span` of the trace ``trace_id`` from a stored span row.

    ``row``: the :data:`SPAN_ROW` columns, ``(span_id, parent_id, name, kind, start_time_ns,
    end_time_ns, status_code, status_message, attributes JSON, events JSON or None, resource
    attributes JSON or None, scope_name, scope_version, span_index cost JSON or None)``. ``resources``: ``{JSON: parsed}``,
    shared by the rows of one read so that a resource is parsed once (each span gets its own copy).
    """
    (sid, pid, name, kind, start, end, code, message, attrs, events, res, scope, scope_version, cost) = row
    if res is not None:
        parsed = resources.get(res)
        if parsed is None:
            parsed = resources[res] = json.loads(res)
        res = dict(parsed)
    return Span(
        trace_id=trace_id, span_id=sid, parent_id=pid, name=name, kind=kind,
        start_time_ns=start, end_time_ns=end, status=code, status_message=message,
        attributes=json.loads(attrs), events=json.loads(events) if events else [],
        resource_attributes=res or {}, scope_name=scope, scope_version=scope_version,
        cost=parse_cost(cost),
    )


def traces_from_rows(rows: Sequence[tuple], spans: Optional[Mapping[Any, List[Span]]],
                     tags: Mapping[Any, Dict[str, str]], metadata: Mapping[Any, Dict[str, str]]) -> List[Trace]:
    """The :class:`Trace` s of trace rows, in their order.

    ``rows``: the :data:`TRACE_ROW` columns, ``(trace_key, trace_id, start_time_ns, end_time_ns,
    root_span_id, *INDEX_COLUMNS, request_preview, response_preview)``. ``spans``: ``{trace_key:
    [Span, ...] in start order}`` when the traces are read with their spans (the usage is then
    aggregated from them, :func:`~otel_genai.store.summary.aggregate_span_usage`), ``None`` for
    ``trace.info`` only (the usage is the row's ``token_usage``). ``tags`` / ``metadata``:
    ``{trace_key: {key: value}}`` (:func:`key_values`).
    """
    out = []
    for row in rows:
        key = row[0]
        if spans is None:
            found: List[Span] = []
            usage = parse_token_usage(row[13])
        else:
            found = spans.get(key, [])
            usage = aggregate_span_usage(found)
        out.append(_trace(row, found, usage, tags.get(key, {}), metadata.get(key, {})))
    return out


def _trace(row: tuple, spans: List[Span], usage: Optional[dict], tags: dict, metadata: dict) -> Trace:
    (_key, tid, start, end, _root_id, state, status, name, _ts, _dur, _in, _out, _total, _usage, _in_cost,
     _out_cost, _total_cost, cost, model, provider, service, request_preview, response_preview) = row
    info = TraceInfo(
        trace_id=tid,
        status=status,
        start_time_ns=start,
        end_time_ns=end,
        root_span_name=name,
        token_usage=usage,
        model=model,
        state=state,
        tags=tags,
        trace_metadata=metadata,
        cost=parse_cost(cost),
        request_preview=request_preview,
        response_preview=response_preview,
        provider=provider,
        service_name=service,
    )
    return Trace(info=info, data=TraceData(spans=spans))


def key_values(rows: Iterable[Tuple[Any, str, str]]) -> Dict[Any, Dict[str, str]]:
    """``{trace_key: {key: value}}`` of ``(trace_key, key, value)`` rows (``trace_tags``, ``trace_metadata``)."""
    out: Dict[Any, Dict[str, str]] = {}
    for trace_key, k, v in rows:
        out.setdefault(trace_key, {})[k] = v
    return out


def group_rows(rows: Iterable[Sequence[Any]]) -> Dict[Any, List[list]]:
    """``{first value: [the rest of the row, ...] in row order}`` of rows whose first value is a key
    (e.g. a trace's ``trace_key``)."""
    out: Dict[Any, List[list]] = {}
    for key, *rest in rows:
        out.setdefault(key, []).append(rest)
    return out


# --- the trace_index rows of a batch ----------------------------------------------------------------


def keys_needing_spans(traces: Sequence[tuple], fresh: Mapping[str, list]) -> List[Any]:
    """The ``trace_key`` s of the ``(trace_key, trace_id, TraceSummary, TraceDetails)`` in ``traces``
    whose index row needs their stored spans (:func:`~otel_genai.store.summary.needs_spans`) and
    whose spans are not all in hand (``fresh``: as for :func:`index_rows`)."""
    return [t[0] for t in traces if t[1] not in fresh and needs_spans(t[2])]


def index_rows(traces: Sequence[tuple], fresh: Mapping[str, list], stored: Mapping[Any, list]) -> List[tuple]:
    """The ``trace_index`` rows of ``traces`` (``(trace_key, trace_id, TraceSummary, TraceDetails)``):
    ``(trace_key, trace_id, start_time_ns, *TraceIndex, provider_start_ns, root_seen (a bool),
    request_preview, request_rank, response_preview, response_rank)``, the table's 25 columns in order.

    A trace's spans, the :data:`~otel_genai.store.summary.IndexNode` s
    ``(span_id, parent_id, name, status_code, usage, cost, start_time_ns)``, are ``fresh[trace_id]``
    for a trace that had no span stored before this batch (the batch's, in arrival order), else
    ``stored[trace_key]`` (read in start order for :func:`keys_needing_spans`; none for the others).
    """
    rows = []
    for key, tid, summary, details in traces:
        found = fresh.get(tid)
        if found is None:
            found = stored.get(key, ())
        elif summary.root_span_id is None and len(found) > 1:
            found = sorted(found, key=lambda n: n[6])  # start order, for the stand-in root
        index = index_trace(summary, details, found if needs_spans(summary) else ())
        rows.append((key, tid, summary.start_time_ns, *index, details.provider_start_ns, bool(details.root_seen),
                     details.request_preview, details.request_rank, details.response_preview, details.response_rank))
    return rows


# --- a read's page ---------------------------------------------------------------------------------


def page(rows: List[tuple], offset: int, max_results: Optional[int],
         traces: Callable[[List[tuple]], List[Trace]]) -> PagedList:
    """The page of a search from its rows, read with ``LIMIT max_results + 1 OFFSET offset`` (no
    limit for ``max_results`` ``None``): ``traces(rows)`` of the first ``max_results``, and the next
    page's token when there were more."""
    more = max_results is not None and len(rows) > max_results
    if more:
        rows = rows[:max_results]
    return PagedList(traces(rows), encode_page_token(offset + len(rows)) if more else None)


__all__ = [
    "DETAIL_COLUMNS",
    "INDEX_COLUMNS",
    "SPAN_ROW",
    "SUMMARY_COLUMNS",
    "TRACE_ROW",
    "TRACE_TABLES",
    "Deletion",
    "ResourceIds",
    "SQLTraceStore",
    "details_from_row",
    "dumps",
    "group_rows",
    "index_rows",
    "key_values",
    "keys_needing_spans",
    "page",
    "span_from_row",
    "summary_from_row",
    "traces_from_rows",
]
