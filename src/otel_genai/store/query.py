"""The ``search_traces`` filter grammar: ``filter_string`` -> AST -> SQL for a dialect; ``order_by``
and page tokens. Shared by every SQL backend (a backend supplies a :class:`Dialect`).

The grammar is MLflow's (``mlflow.search_traces(filter_string=...)``, MLflow 3.x
``mlflow/utils/search_utils.py: SearchTraceUtils``): comparisons joined by ``AND`` (no ``OR``, no
parentheses), strings in single or double quotes (a quote inside is doubled), numbers bare,
backticks around a key holding dots or spaces (``tag.`mlflow.traceName```), keywords
case-insensitive.

=====================================  =============================  ==================================
field                                  operators                      value
=====================================  =============================  ==================================
``trace.status`` (``status``)          ``= !=``                       ``'OK'``, ``'ERROR'``, ``'IN_PROGRESS'`` (``info.state``)
``trace.timestamp_ms``                 ``= != < <= > >=``             ms since the epoch (``info.request_time``)
``trace.execution_time_ms``            ``= != < <= > >=``             ms (``info.execution_duration``)
``trace.name``                         ``= != LIKE ILIKE``            the root span's name
``tag.<key>`` / ``tags.<key>``         ``= != LIKE ILIKE``            ``info.tags[key]``
``metadata.<key>`` (``request_metadata.``)  ``= != LIKE ILIKE``       ``info.trace_metadata[key]``
``span.name``, ``span.type``           ``= != LIKE ILIKE``            some span's name / ``span_type``
``span.attributes.<key>``              ``= != LIKE ILIKE``            some span's attribute, as text
``trace.model``, ``trace.provider``    ``= != LIKE ILIKE``            ``info.model`` / ``info.provider`` (GenAI)
``trace.input_tokens``, ``trace.output_tokens``, ``trace.total_tokens``  ``= != < <= > >=``  ``info.token_usage``
``trace.cost``                         ``= != < <= > >=``             ``info.cost["total_cost"]``, USD
=====================================  =============================  ==================================

The ``trace.`` prefix may be left out (or written ``attributes.``, MLflow's older form) for the
trace fields. Semantics, the same in SQL and in :func:`matches`-style evaluation over
``Trace.to_dict()``: a comparison with a missing value (no tokens, no such tag) is false, ``!=``
included; a ``tag``/``metadata`` comparison needs the key; ``span.*`` holds when some span of the
trace satisfies it (each condition on its own); ``LIKE`` is case-sensitive with ``%`` and ``_`` as
wildcards, ``ILIKE`` ignores (ASCII) case; a span attribute's text is the string itself, else its
JSON text (``true``, ``5``, ``[1,2]``).

Malformed input raises ``ValueError`` naming the offending token and its 0-based position, with the
filter underlined::

    invalid filter_string at position 19: operator 'LIKE' is not allowed for 'trace.total_tokens' (allowed: =, !=, <, <=, >, >=)
      trace.total_tokens LIKE 'a'
                         ^
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

Value = Union[str, int, float]

NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("=", "!=", "LIKE", "ILIKE")
#: trace field -> (kind: "number" / "string" / "status", the ``Trace.to_dict()`` path it reads)
TRACE_FIELDS: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "status": ("status", ("info", "state")),
    "timestamp_ms": ("number", ("info", "request_time")),
    "execution_time_ms": ("number", ("info", "execution_duration")),
    "name": ("string", ("info", "trace_name")),
    "model": ("string", ("info", "model")),
    "provider": ("string", ("info", "provider")),
    "input_tokens": ("number", ("info", "token_usage", "input_tokens")),
    "output_tokens": ("number", ("info", "token_usage", "output_tokens")),
    "total_tokens": ("number", ("info", "token_usage", "total_tokens")),
    "cost": ("number", ("info", "cost", "total_cost")),
}
TRACE_ALIASES = {"timestamp": "timestamp_ms", "execution_time": "execution_time_ms", "state": "status"}
STATES = ("OK", "ERROR", "IN_PROGRESS")
#: ``order_by`` key -> the trace field it sorts on
ORDER_KEYS = {"timestamp_ms": "timestamp_ms", "timestamp": "timestamp_ms", "execution_time_ms": "execution_time_ms",
              "total_tokens": "total_tokens", "cost": "cost"}


class Field(NamedTuple):
    """What a comparison reads: ``kind`` ``"trace"`` (``name`` a :data:`TRACE_FIELDS` key, or one of
    the legacy ``"legacy_status"`` / ``"start_time_ns"``), ``"tag"``, ``"metadata"`` (``name`` the
    key), ``"span"`` (``name`` ``"name"`` / ``"type"``) or ``"span_attribute"`` (``name`` the key)."""

    kind: str
    name: str


class Comparison(NamedTuple):
    """``field op value``; ``position``: where it starts in the filter string."""

    field: Field
    op: str
    value: Value
    position: int = 0


#: a parsed filter: its comparisons, all of which must hold
Filter = Tuple[Comparison, ...]


# --- parsing ------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
      | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.`]))
      | (?P<op><=|>=|!=|<>|==|=|<|>)
      | (?P<ident>(?:`[^`]*`|[A-Za-z_][A-Za-z0-9_\-]*)(?:\.(?:`[^`]*`|[A-Za-z_0-9][A-Za-z0-9_\-]*))*)
      | (?P<bad>.)""",
    re.VERBOSE,
)


class Token(NamedTuple):
    kind: str
    text: str
    position: int


def _error(text: str, position: int, message: str) -> ValueError:
    return ValueError(f"invalid filter_string at position {position}: {message}\n  {text}\n  {' ' * position}^")


def tokenize(text: str) -> List[Token]:
    """The tokens of ``text`` (whitespace dropped). Raises ``ValueError`` at an unterminated quote
    or a character that starts no token."""
    out = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "ws":
            continue
        if kind == "bad":
            char = match.group()
            if char in "'\"`":
                raise _error(text, match.start(), f"unterminated {char}quote{char}")
            raise _error(text, match.start(), f"unexpected character {char!r}")
        out.append(Token(kind, match.group(), match.start()))
    return out


def _ident_parts(token: Token) -> List[str]:
    parts = re.findall(r"`([^`]*)`|([^.`]+)", token.text)
    return [quoted or plain for quoted, plain in parts]


def _field(text: str, token: Token) -> Field:
    parts = _ident_parts(token)
    head = parts[0].lower()
    if head in ("tag", "tags", "metadata", "request_metadata"):
        if len(parts) < 2 or not parts[1]:
            raise _error(text, token.position, f"{parts[0]!r} needs a key: {parts[0]}.<key> (backticks for dots)")
        key = ".".join(parts[1:])
        return Field("tag" if head.startswith("tag") else "metadata", key)
    if head == "span":
        if len(parts) >= 3 and parts[1].lower() == "attributes":
            return Field("span_attribute", ".".join(parts[2:]))
        if len(parts) == 2 and parts[1].lower() in ("name", "type", "span_type"):
            return Field("span", "type" if parts[1].lower() != "name" else "name")
        raise _error(text, token.position, f"unknown span field {token.text!r} (span.name, span.type, span.attributes.<key>)")
    name_parts = parts[1:] if head in ("trace", "attribute", "attributes", "run") and len(parts) > 1 else parts
    if len(name_parts) != 1:
        raise _error(text, token.position, f"unknown field {token.text!r}")
    name = TRACE_ALIASES.get(name_parts[0].lower(), name_parts[0].lower())
    if name not in TRACE_FIELDS:
        known = ", ".join("trace." + f for f in TRACE_FIELDS)
        raise _error(text, token.position, f"unknown field {token.text!r} (known: {known}, tag.<key>, metadata.<key>,"
                     " span.name, span.type, span.attributes.<key>)")
    return Field("trace", name)


def field_kind(field: Field) -> str:
    """``"number"``, ``"string"`` or ``"status"``: what values and operators ``field`` takes."""
    if field.kind == "trace":
        if field.name == "start_time_ns":
            return "number"
        if field.name == "legacy_status":
            return "status"
        return TRACE_FIELDS[field.name][0]
    return "string"


def parse_filter(text: Optional[str]) -> Filter:
    """Parse ``text`` (see the module docstring); ``None`` or blank: no condition.

    Raises ``ValueError`` pointing at the offending token: an unknown field, an operator the field
    does not take, a value of the wrong type, ``OR``, a missing ``AND``, a dangling token.
    """
    if text is None or not text.strip():
        return ()
    tokens = tokenize(text)
    out: List[Comparison] = []
    i = 0
    end = len(text)
    while True:
        if i >= len(tokens):
            raise _error(text, end, "expected a field (trace.status, tag.<key>, ...) after AND" if out else "empty filter")
        tok = tokens[i]
        if tok.kind != "ident" or tok.text.upper() in ("AND", "OR", "LIKE", "ILIKE", "NOT", "IN"):
            raise _error(text, tok.position, f"expected a field, got {tok.text!r}")
        field = _field(text, tok)
        kind = field_kind(field)
        i += 1
        if i >= len(tokens):
            raise _error(text, end, f"expected an operator after {tok.text!r}")
        op_tok = tokens[i]
        op = op_tok.text.upper()
        if op_tok.kind == "op":
            if op in ("==", "<>"):
                raise _error(text, op_tok.position, f"unknown operator {op_tok.text!r} (use = or !=)")
        elif not (op_tok.kind == "ident" and op in ("LIKE", "ILIKE")):
            raise _error(text, op_tok.position, f"expected an operator (=, !=, <, <=, >, >=, LIKE, ILIKE), got {op_tok.text!r}")
        allowed = NUMERIC_OPS if kind == "number" else ("=", "!=") if kind == "status" else STRING_OPS
        if op not in allowed:
            raise _error(text, op_tok.position,
                         f"operator {op_tok.text!r} is not allowed for {tok.text!r} (allowed: {', '.join(allowed)})")
        i += 1
        if i >= len(tokens):
            raise _error(text, end, f"expected a value after {op_tok.text!r}")
        val_tok = tokens[i]
        value: Value
        if val_tok.kind == "string":
            value = val_tok.text[1:-1].replace(val_tok.text[0] * 2, val_tok.text[0])
            if kind == "number":
                raise _error(text, val_tok.position, f"{tok.text!r} takes a number, not the string {val_tok.text}")
            if kind == "status":
                value = value.upper()
                if value not in STATES:
                    raise _error(text, val_tok.position, f"trace.status is one of {', '.join(STATES)}, not {val_tok.text}")
        elif val_tok.kind == "number":
            if kind != "number":
                raise _error(text, val_tok.position, f"{tok.text!r} takes a quoted string, not {val_tok.text}")
            number = float(val_tok.text)
            value = int(number) if number.is_integer() and not re.search(r"[.eE]", val_tok.text) else number
        else:
            raise _error(text, val_tok.position, f"expected a value (a quoted string or a number), got {val_tok.text!r}")
        out.append(Comparison(field, op, value, tok.position))
        i += 1
        if i >= len(tokens):
            return tuple(out)
        conj = tokens[i]
        if conj.kind == "ident" and conj.text.upper() == "OR":
            raise _error(text, conj.position, "OR is not supported (MLflow's grammar joins conditions with AND only)")
        if not (conj.kind == "ident" and conj.text.upper() == "AND"):
            raise _error(text, conj.position, f"expected AND, got {conj.text!r}")
        i += 1


def legacy_filter(status: Optional[str] = None, root_span_name: Optional[str] = None,
                  min_start_ns: Optional[int] = None, max_start_ns: Optional[int] = None) -> Filter:
    """Today's keyword filters as comparisons: ``status`` (``info.status``: OK / ERROR), the root
    span's name, inclusive start bounds in ns. Raises ``ValueError`` for another status."""
    out: List[Comparison] = []
    if status is not None:
        wanted = str(status).upper()
        if wanted not in ("OK", "ERROR"):
            raise ValueError(f"status must be 'OK' or 'ERROR', not {status!r}")
        out.append(Comparison(Field("trace", "legacy_status"), "=", wanted))
    if root_span_name is not None:
        out.append(Comparison(Field("trace", "name"), "=", root_span_name))
    if min_start_ns is not None:
        out.append(Comparison(Field("trace", "start_time_ns"), ">=", int(min_start_ns)))
    if max_start_ns is not None:
        out.append(Comparison(Field("trace", "start_time_ns"), "<=", int(max_start_ns)))
    return tuple(out)


# --- order_by and page tokens ---------------------------------------------------------------------


class OrderKey(NamedTuple):
    field: str  # a :data:`TRACE_FIELDS` key
    descending: bool


DEFAULT_ORDER: Tuple[OrderKey, ...] = (OrderKey("timestamp_ms", True),)


def parse_order_by(order_by: Optional[Sequence[str]]) -> Tuple[OrderKey, ...]:
    """``["cost DESC", "timestamp_ms"]`` -> order keys (default: newest first). A bare string is one
    clause. Raises ``ValueError`` naming an unknown key or direction."""
    if not order_by:
        return DEFAULT_ORDER
    if isinstance(order_by, str):
        order_by = [order_by]
    out = []
    for clause in order_by:
        words = str(clause).split()
        if not words or len(words) > 2:
            raise ValueError(f"invalid order_by clause {clause!r}: write '<key> [ASC|DESC]'")
        key = words[0]
        for prefix in ("trace.", "attributes.", "attribute."):
            if key.lower().startswith(prefix):
                key = key[len(prefix):]
        field = ORDER_KEYS.get(key.lower())
        if field is None:
            raise ValueError(f"invalid order_by key {words[0]!r} in {clause!r} (known: {', '.join(ORDER_KEYS)})")
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise ValueError(f"invalid order_by direction {words[1]!r} in {clause!r} (ASC or DESC)")
        out.append(OrderKey(field, direction == "DESC"))
    return tuple(out)


def encode_page_token(offset: int) -> str:
    """The opaque token of the page starting at ``offset`` (rows already returned)."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def decode_page_token(token: Optional[str]) -> int:
    """The offset a page token stands for (``None``: 0). Raises ``ValueError`` for a foreign token."""
    if token is None or token == "":
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (ValueError, KeyError, TypeError):
        pass
    raise ValueError(f"invalid page_token {token!r}: pass the .token of a previous search_traces page")


class _DefaultPageSize(int):
    """The default ``max_results`` (100), told apart from an explicit 100 by identity."""


#: ``search_traces``' default ``max_results``: 100
DEFAULT_MAX_RESULTS: int = _DefaultPageSize(100)


def search_arguments(filter_string: Any, max_results: Any) -> Tuple[Optional[str], Optional[int]]:
    """``(filter_string, max_results)`` with today's positional form accepted: the first argument
    used to be ``max_results``, so an ``int`` there is ``max_results``, and ``None`` there with no
    ``max_results`` given means every trace (``search_traces(None)``). ``""`` is no filter.
    Raises ``TypeError`` for a ``filter_string`` that is not a str."""
    if isinstance(filter_string, int) and not isinstance(filter_string, bool):
        return None, filter_string
    if filter_string is None and max_results is DEFAULT_MAX_RESULTS:
        return None, None
    if filter_string is not None and not isinstance(filter_string, str):
        raise TypeError(f"filter_string must be a str, not {type(filter_string).__name__}")
    if max_results is not None and (isinstance(max_results, bool) or not isinstance(max_results, int)):
        raise TypeError(f"max_results must be an int or None, not {type(max_results).__name__}")
    return filter_string or None, None if max_results is None else int(max_results)


# --- SQL ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """What differs between SQL backends, for :func:`compile_filter` / :func:`compile_order`.

    The SQL references a trace row aliased ``t`` with the columns of :attr:`trace_columns`, a tags
    and a metadata table ``(trace_key, key, value)``, and the spans ``(trace_key, span_id, name,
    attributes: JSON text)`` with a span-type table ``(trace_key, span_id, span_type)``.

    Attributes:
        placeholder: the parameter marker (``?`` for sqlite3, ``%s`` for psycopg).
        trace_columns: trace field -> SQL expression (also ``trace_key``, ``trace_id``,
            ``legacy_status``, ``start_time_ns``).
        tags_table, metadata_table, spans_table, span_types_table: table names.
        case_sensitive_like: ``LIKE`` is case-sensitive as written (PostgreSQL); else it is
            rewritten to ``GLOB`` (SQLite, whose ``LIKE`` ignores ASCII case).
        json_text: SQL of a JSON-text column's value at one key, as text (string as is, else its
            JSON): a format string with ``{col}`` and ``{param}`` (the key).
        nulls_last: ``ORDER BY`` suffix putting NULLs last (``NULLS LAST``: SQLite >= 3.30, PostgreSQL),
            or ``None`` (emulated with ``IS NULL``).
    """

    placeholder: str
    trace_columns: Mapping[str, str]
    tags_table: str = "trace_tags"
    metadata_table: str = "trace_metadata"
    spans_table: str = "spans"
    span_types_table: str = "span_index"
    case_sensitive_like: bool = False
    json_text: str = ("CASE json_type({col}, {param}) WHEN 'text' THEN json_extract({col}, {param})"
                      " ELSE {col} -> {param} END")
    json_path: bool = True  # the key is passed as a JSON path ('$."key"'), else as the bare key
    nulls_last: Optional[str] = None


_TRACE_COLUMNS = {
    "trace_key": "t.trace_key",
    "trace_id": "t.trace_id",
    "status": "t.state",
    "legacy_status": "t.status",
    "timestamp_ms": "t.timestamp_ms",
    "start_time_ns": "t.start_time_ns",
    "execution_time_ms": "t.execution_time_ms",
    "name": "t.name",
    "model": "t.model",
    "provider": "t.provider",
    "input_tokens": "t.input_tokens",
    "output_tokens": "t.output_tokens",
    "total_tokens": "t.total_tokens",
    "cost": "t.total_cost",
}

SQLITE = Dialect(placeholder="?", trace_columns=_TRACE_COLUMNS, nulls_last="NULLS LAST")  # SQLite >= 3.30
POSTGRESQL = Dialect(
    placeholder="%s",
    trace_columns=_TRACE_COLUMNS,
    case_sensitive_like=True,
    json_text=("CASE jsonb_typeof(({col})::jsonb -> {param}) WHEN 'string' THEN ({col})::jsonb ->> {param}"
               " ELSE (({col})::jsonb -> {param})::text END"),
    json_path=False,
    nulls_last="NULLS LAST",
)


def _like_to_glob(pattern: str) -> str:
    """A LIKE pattern (``%``, ``_``) as a case-sensitive GLOB pattern (``*``, ``?``; GLOB's own
    ``* ? [`` escaped as ``[*] [?] [[]``)."""
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


def _string_test(dialect: Dialect, expr: str, op: str, value: str, params: List[Any]) -> str:
    p = dialect.placeholder
    if op == "LIKE":
        if dialect.case_sensitive_like:
            params.append(value)
            return f"{expr} LIKE {p}"
        params.append(_like_to_glob(value))
        return f"{expr} GLOB {p}"
    if op == "ILIKE":
        params.append(value)
        if dialect.case_sensitive_like:
            return f"{expr} ILIKE {p}"
        return f"lower({expr}) LIKE lower({p})"
    params.append(value)
    return f"{expr} {op} {p}"


def compile_filter(conditions: Filter, dialect: Dialect,
                   selective: Optional[Any] = None) -> Tuple[str, List[Any]]:
    """``(where_sql, params)`` for ``conditions`` (``"1=1"`` when there are none), referencing the
    trace row as ``t``; see :class:`Dialect`. Every value is a parameter.

    ``selective(comparison) -> bool``: for a ``tag``/``metadata`` equality, whether few traces
    have that key and value (the backend can tell from its index); those are compiled as
    ``trace_key IN (SELECT ...)`` so the query is driven from the tag index, the others as
    ``EXISTS`` probes while walking the traces in order (fast when many match).
    """
    if not conditions:
        return "1=1", []
    p = dialect.placeholder
    parts: List[str] = []
    params: List[Any] = []
    key_col = dialect.trace_columns["trace_key"]
    for cond in conditions:
        field, op, value = cond.field, cond.op, cond.value
        if field.kind == "trace":
            column = dialect.trace_columns[field.name]
            if field_kind(field) == "string":
                parts.append(_string_test(dialect, column, op, str(value), params))
            else:
                params.append(value)
                parts.append(f"{column} {op} {p}")
        elif field.kind in ("tag", "metadata"):
            table = dialect.tags_table if field.kind == "tag" else dialect.metadata_table
            params.append(field.name)
            test = _string_test(dialect, "g.value", op, str(value), params)
            if op == "=" and selective is not None and selective(cond):
                parts.append(f"{key_col} IN (SELECT g.trace_key FROM {table} g WHERE g.key = {p} AND {test})")
            else:
                parts.append(f"EXISTS (SELECT 1 FROM {table} g WHERE g.trace_key = {key_col} AND g.key = {p} AND {test})")
        elif field.kind == "span":
            if field.name == "name":
                test = _string_test(dialect, "s.name", op, str(value), params)
                parts.append(f"EXISTS (SELECT 1 FROM {dialect.spans_table} s WHERE s.trace_key = {key_col} AND {test})")
            else:
                test = _string_test(dialect, "y.span_type", op, str(value), params)
                parts.append(f"EXISTS (SELECT 1 FROM {dialect.span_types_table} y WHERE y.trace_key = {key_col} AND {test})")
        elif field.kind == "span_attribute":
            key = '$."' + field.name.replace('"', '""') + '"' if dialect.json_path else field.name
            expr = dialect.json_text.format(col="s.attributes", param=p)
            params.extend((key, key, key))  # the expression names the key three times
            test = _string_test(dialect, f"({expr})", op, str(value), params)
            parts.append(f"EXISTS (SELECT 1 FROM {dialect.spans_table} s WHERE s.trace_key = {key_col} AND {test})")
        else:  # pragma: no cover - parse_filter makes no other kind
            raise ValueError(f"unknown field kind {field.kind!r}")
    return " AND ".join(parts), params


#: order keys whose column can be NULL (no tokens, no cost)
_NULLABLE_ORDER = {"total_tokens", "cost"}


def compile_order(order: Sequence[OrderKey], dialect: Dialect) -> str:
    """``ORDER BY`` body for ``order``: NULLs (no tokens, no cost) last, then newest first, then
    trace id. ``timestamp_ms`` sorts on the start in ns (its index), with the trace id in the same
    direction, so newest-first pages are read off the index without sorting."""
    parts = []
    ts, tid = dialect.trace_columns["start_time_ns"], dialect.trace_columns["trace_id"]
    for key in order:
        direction = "DESC" if key.descending else "ASC"
        if key.field == "timestamp_ms":
            parts.append(f"{ts} {direction}, {tid} {direction}")
            return ", ".join(parts)
        column = dialect.trace_columns[key.field]
        if key.field not in _NULLABLE_ORDER:
            parts.append(f"{column} {direction}")
        elif dialect.nulls_last:
            parts.append(f"{column} {direction} {dialect.nulls_last}")
        else:
            parts.append(f"({column} IS NULL), {column} {direction}")
    parts.append(f"{ts} DESC, {tid} DESC")
    return ", ".join(parts)


__all__ = [
    "DEFAULT_MAX_RESULTS",
    "DEFAULT_ORDER",
    "POSTGRESQL",
    "SQLITE",
    "STATES",
    "TRACE_FIELDS",
    "Comparison",
    "Dialect",
    "Field",
    "Filter",
    "OrderKey",
    "compile_filter",
    "compile_order",
    "decode_page_token",
    "encode_page_token",
    "field_kind",
    "legacy_filter",
    "parse_filter",
    "parse_order_by",
    "search_arguments",
    "tokenize",
]
