"""The GenAI client metric instruments (names and buckets from ``semconv.metrics``), recorded off
the caller's hot path.

The OTel SDK spends ~117k instructions (~10-20 µs of CPU) per ``Histogram.record`` (SDK 1.45.2: it
cleans, copies and hashes the attribute dict and offers an exemplar on every call; see
``benchmarks/instructions.py``): three per chat call and one more per stream chunk, more than the
rest of our per-call work. So a finished call only appends one small tuple to a queue (~0.2 µs), and the
measurements are recorded, unchanged (same values and attributes, in the context of the call's
span so exemplars point at it), by:

* a daemon thread, woken when ``_WAKE_AT`` calls are pending (and otherwise within ``_IDLE_S``);
* every metric collection: an observable instrument that never reports anything drains the queue
  in its callback, which the SDK runs before it reads the histograms. So a periodic export,
  ``force_flush()``, ``shutdown()`` (also at interpreter exit) or an ``InMemoryMetricReader`` sees
  every call that finished before it: nothing is lost or late at export;
* the caller itself, when ``_MAX_PENDING`` calls are pending (the thread cannot keep up): the queue
  is bounded and never drops a measurement.

Counters (the latest-experimental ``gen_ai.client.inference.usage.*``) are summed per counter and
attribute set over one drain and added once: a counter reports a sum, so the exported value is the
same, at one SDK call per attribute set instead of one per finished call. Histograms are recorded
once per measurement (their buckets, min and max need each value).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from typing import Any

from opentelemetry.metrics import Meter
from opentelemetry.trace import NonRecordingSpan, set_span_in_context

from ...semconv import attributes as A
from ...semconv import metrics as M
from ...semconv.usage import TokenUsage
from . import lifecycle
from .faults import log_fault

_METRIC_ATTRIBUTE_KEYS = (
    A.GEN_AI_OPERATION_NAME,
    A.GEN_AI_PROVIDER_NAME,
    A.GEN_AI_REQUEST_MODEL,
    A.SERVER_ADDRESS,
    A.SERVER_PORT,
)

# (slot, name, unit, description, advisory buckets) of each GenAI client histogram
_HISTOGRAMS = (
    ("duration", M.CLIENT_OPERATION_DURATION, M.UNIT_SECONDS, "GenAI operation duration", M.DURATION_BUCKETS),
    ("token_usage", M.CLIENT_TOKEN_USAGE, M.UNIT_TOKENS, "Number of input and output tokens used", M.TOKEN_BUCKETS),
    (
        "time_to_first_chunk",
        M.CLIENT_TIME_TO_FIRST_CHUNK,
        M.UNIT_SECONDS,
        "Time to receive the first chunk of a streamed response",
        M.CHUNK_TIME_BUCKETS,
    ),
    (
        "time_per_output_chunk",
        M.CLIENT_TIME_PER_OUTPUT_CHUNK,
        M.UNIT_SECONDS,
        "Time between consecutive chunks of a streamed response, after the first",
        M.CHUNK_TIME_BUCKETS,
    ),
)

_WAKE_AT = 64  # pending calls that wake the recording thread
_MAX_PENDING = 10_000  # beyond this the caller records (backpressure; nothing is dropped)
_IDLE_S = 1.0  # a partial queue is recorded at the latest after this long
DRAIN_LOCK_TIMEOUT_S = 5.0  # a collection never waits longer than this for a running drain


class GenAIMetrics:
    """``gen_ai.client.operation.duration`` (s), ``gen_ai.client.token.usage`` ({token}) and, for
    streams, ``gen_ai.client.operation.time_to_first_chunk`` / ``time_per_output_chunk`` (s)."""

    __slots__ = ("duration", "token_usage", "time_to_first_chunk", "time_per_output_chunk")

    def __init__(self, meter: Meter) -> None:
        for slot, name, unit, description, buckets in _HISTOGRAMS:
            histogram = meter.create_histogram(
                name, unit=unit, description=description, explicit_bucket_boundaries_advisory=buckets
            )
            setattr(self, slot, histogram)
        # reports nothing: its callback records the pending measurements before each collection
        meter.create_observable_gauge(M.PENDING_FLUSH_INSTRUMENT, callbacks=[_flush_callback])

    @staticmethod
    def attributes(span_attributes: dict[str, Any], response_model: Any, error: str | None) -> dict[str, Any]:
        """Metric attributes: the low-cardinality subset of the span's, plus response model / error."""
        attrs = {key: span_attributes[key] for key in _METRIC_ATTRIBUTE_KEYS if key in span_attributes}
        if response_model is not None:
            attrs[A.GEN_AI_RESPONSE_MODEL] = response_model
        if error is not None:
            attrs[A.ERROR_TYPE] = error
        return attrs

    def submit(
        self,
        span_attributes: dict[str, Any],
        response_model: Any,
        error: str | None,
        span_context: Any,
        duration_s: float,
        usage: TokenUsage | None,
        first_chunk_s: float | None = None,
        chunk_times: list[float] | None = None,
    ) -> None:
        """Queue one finished operation for :meth:`record` (see the module docstring).

        ``span_attributes`` must not change afterwards; ``chunk_times`` are the ``perf_counter``
        arrival times of a stream's chunks (one ``time_per_output_chunk`` value per chunk after the
        first); ``span_context`` (the span's ``SpanContext``, not the span: a queued call keeps no
        span alive) links exemplars to the span."""
        _pending.append(
            (self, span_attributes, response_model, error, span_context, duration_s, usage, first_chunk_s, chunk_times)
        )
        if _thread is None:
            if lifecycle.exiting or lifecycle.finalizing():
                # the process is ending: no thread may start now (Thread.start() hangs in a
                # finalizing interpreter); record inline, unless the interpreter is tearing down
                if not lifecycle.finalizing():
                    drain()
                return
            _start_thread()
        pending = len(_pending)
        if pending >= _MAX_PENDING:
            drain()
        elif pending >= _WAKE_AT and not _wake.is_set():
            _wake.set()

    def record(
        self,
        attrs: dict[str, Any],
        duration_s: float,
        usage: TokenUsage | None,
        first_chunk_s: float | None = None,
        chunk_intervals_s: list[float] | None = None,
        context: Any = None,
        adds: "CounterSums | None" = None,
    ) -> None:
        """Record one finished operation now (durations in seconds, usage in tokens). Counters (a
        dialect that has them) go to ``adds`` when given (summed over a drain, see the module
        docstring), else are added at once."""
        self._record_duration(attrs, duration_s, context)
        if usage is not None:
            self._record_tokens(attrs, usage, context, adds)
        self._record_chunks(attrs, first_chunk_s, chunk_intervals_s, context)

    def _record_duration(self, attrs: dict[str, Any], duration_s: float, context: Any) -> None:
        self.duration.record(duration_s, attrs, context)

    def _record_tokens(self, attrs: dict[str, Any], usage: TokenUsage, context: Any, adds: "CounterSums | None") -> None:
        if usage.input_tokens is not None:
            self.token_usage.record(usage.input_tokens, {**attrs, A.GEN_AI_TOKEN_TYPE: A.GenAITokenType.INPUT}, context)
        if usage.output_tokens is not None:
            self.token_usage.record(usage.output_tokens, {**attrs, A.GEN_AI_TOKEN_TYPE: A.GenAITokenType.OUTPUT}, context)

    def _record_chunks(
        self, attrs: dict[str, Any], first_chunk_s: float | None, chunk_intervals_s: list[float] | None, context: Any
    ) -> None:
        if first_chunk_s is None:
            return
        if A.ERROR_TYPE in attrs:  # the chunk metrics carry no error.type
            attrs = {k: v for k, v in attrs.items() if k != A.ERROR_TYPE}
        self.time_to_first_chunk.record(first_chunk_s, attrs, context)
        if chunk_intervals_s:
            record = self.time_per_output_chunk.record
            for interval in chunk_intervals_s:  # one per chunk after the first (semconv)
                record(interval, attrs, context)


class LatestGenAIMetrics(GenAIMetrics):
    """The same measurements under the semantic-conventions-genai "latest experimental" names
    (``semconv.dialect``): ``gen_ai.client.inference.duration`` for inference operations (else
    ``gen_ai.client.operation.duration``), ``gen_ai.client.inference.time_to_first_chunk`` /
    ``time_per_output_chunk`` (s), the ``gen_ai.client.inference.operation.{input,output}_tokens``
    histograms and the ``gen_ai.client.inference.usage.*`` counters ({token}, with
    ``gen_ai.token.modality``)."""

    __slots__ = (
        "inference_duration",
        "input_tokens",
        "output_tokens",
        "usage_input",
        "usage_output",
        "usage_cache_read",
        "usage_cache_write",
        "usage_reasoning",
    )

    def __init__(self, meter: Meter) -> None:
        histogram = meter.create_histogram
        self.duration = histogram(
            M.CLIENT_OPERATION_DURATION, unit=M.UNIT_SECONDS, description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=M.DURATION_BUCKETS,
        )  # fmt: skip
        self.inference_duration = histogram(
            M.LATEST_INFERENCE_DURATION, unit=M.UNIT_SECONDS, description="GenAI inference duration",
            explicit_bucket_boundaries_advisory=M.DURATION_BUCKETS,
        )  # fmt: skip
        self.time_to_first_chunk = histogram(
            M.LATEST_TIME_TO_FIRST_CHUNK, unit=M.UNIT_SECONDS,
            description="Time to receive the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=M.CHUNK_TIME_BUCKETS,
        )  # fmt: skip
        self.time_per_output_chunk = histogram(
            M.LATEST_TIME_PER_OUTPUT_CHUNK, unit=M.UNIT_SECONDS,
            description="Time between consecutive chunks of a streamed response, after the first",
            explicit_bucket_boundaries_advisory=M.CHUNK_TIME_BUCKETS,
        )  # fmt: skip
        self.token_usage = None
        self.input_tokens = histogram(
            M.LATEST_OPERATION_INPUT_TOKENS, unit=M.UNIT_TOKENS, description="Input tokens per inference operation",
            explicit_bucket_boundaries_advisory=M.TOKEN_BUCKETS,
        )  # fmt: skip
        self.output_tokens = histogram(
            M.LATEST_OPERATION_OUTPUT_TOKENS, unit=M.UNIT_TOKENS, description="Output tokens per inference operation",
            explicit_bucket_boundaries_advisory=M.TOKEN_BUCKETS,
        )  # fmt: skip
        counter = meter.create_counter
        self.usage_input = counter(M.LATEST_USAGE_INPUT_TOKENS, unit=M.UNIT_TOKENS, description="Input tokens used, including cached tokens")
        self.usage_output = counter(M.LATEST_USAGE_OUTPUT_TOKENS, unit=M.UNIT_TOKENS, description="Output tokens used, including reasoning tokens")
        self.usage_cache_read = counter(M.LATEST_USAGE_CACHE_READ_INPUT_TOKENS, unit=M.UNIT_TOKENS, description="Input tokens served from a provider-managed cache")
        self.usage_cache_write = counter(M.LATEST_USAGE_CACHE_WRITE_INPUT_TOKENS, unit=M.UNIT_TOKENS, description="Input tokens written to a provider-managed cache")
        self.usage_reasoning = counter(M.LATEST_USAGE_REASONING_OUTPUT_TOKENS, unit=M.UNIT_TOKENS, description="Output tokens used for reasoning")
        meter.create_observable_gauge(M.PENDING_FLUSH_INSTRUMENT, callbacks=[_flush_callback])

    def _record_duration(self, attrs: dict[str, Any], duration_s: float, context: Any) -> None:
        inference = attrs.get(A.GEN_AI_OPERATION_NAME) in M.INFERENCE_OPERATIONS
        (self.inference_duration if inference else self.duration).record(duration_s, attrs, context)

    def _record_tokens(self, attrs: dict[str, Any], usage: TokenUsage, context: Any, adds: "CounterSums | None") -> None:
        if A.ERROR_TYPE in attrs:  # the token metrics carry no error.type
            attrs = {k: v for k, v in attrs.items() if k != A.ERROR_TYPE}
        if usage.input_tokens is not None:
            self.input_tokens.record(usage.input_tokens, attrs, context)
        if usage.output_tokens is not None:
            self.output_tokens.record(usage.output_tokens, attrs, context)
        by_modality = {**attrs, M.TOKEN_MODALITY: M.TOKEN_MODALITY_UNKNOWN}
        sums = adds if adds is not None else CounterSums()
        for counter, count in (
            (self.usage_input, usage.input_tokens),
            (self.usage_output, usage.output_tokens),
            (self.usage_cache_read, usage.cache_read_input_tokens),
            (self.usage_cache_write, usage.cache_creation_input_tokens),
            (self.usage_reasoning, usage.reasoning_output_tokens),
        ):
            if count:
                sums.add(counter, count, by_modality, context)
        if adds is None:
            sums.flush()


class CounterSums:
    """Counter increments summed per (counter, attribute set) until :meth:`flush` adds each sum once.

    The exemplar context kept for a sum is its last increment's (an exemplar is a sample)."""

    __slots__ = ("_sums",)

    def __init__(self) -> None:
        self._sums: dict[tuple, list] = {}

    def add(self, counter: Any, amount: int, attrs: dict[str, Any], context: Any) -> None:
        key = (id(counter), *attrs.items())
        try:
            entry = self._sums.get(key)
        except TypeError:  # an unhashable attribute value: no summing, add it as it is
            counter.add(amount, attrs, context)
            return
        if entry is None:
            self._sums[key] = [counter, amount, attrs, context]
        else:
            entry[1] += amount
            entry[3] = context

    def flush(self) -> None:
        """``Counter.add`` each sum once, then forget them."""
        sums, self._sums = self._sums, {}
        for counter, amount, attrs, context in sums.values():
            try:
                counter.add(amount, attrs, context)
            except Exception:
                log_fault("GenAIMetrics counter add")


# --- the queue and its drains ----------------------------------------------------------------------
_pending: deque[tuple] = deque()  # appends and pops are atomic: no lock on the hot path
_drain_lock = threading.Lock()  # one drain at a time: a collection waits for a running one
_wake = threading.Event()
_thread: threading.Thread | None = None
_thread_lock = threading.Lock()


def drain(timeout_s: float = -1) -> bool:
    """Record every pending measurement now; ``False`` if another drain held the lock past ``timeout_s``."""
    if not _drain_lock.acquire(timeout=timeout_s):
        return False
    adds = CounterSums()
    try:
        popleft = _pending.popleft
        while _pending:
            metrics, span_attributes, response_model, error, span_context, duration, usage, first_chunk, chunk_times = popleft()
            try:
                context = set_span_in_context(NonRecordingSpan(span_context)) if span_context is not None else None
                intervals = None
                if chunk_times and len(chunk_times) > 1:
                    intervals = [b - a for a, b in zip(chunk_times, chunk_times[1:])]
                attrs = GenAIMetrics.attributes(span_attributes, response_model, error)
                metrics.record(attrs, duration, usage, first_chunk, intervals, context, adds)
            except Exception:
                log_fault("GenAIMetrics.record")
        adds.flush()
    finally:
        _drain_lock.release()
    return True


def _flush_callback(options: Any) -> list:
    drain(DRAIN_LOCK_TIMEOUT_S)
    return []


def _run() -> None:
    while True:
        _wake.wait(_IDLE_S)
        _wake.clear()
        try:
            drain()
        except Exception:  # never let the thread die
            log_fault("metrics drain thread")


def _start_thread() -> None:
    global _thread
    with _thread_lock:
        if _thread is None:
            thread = threading.Thread(target=_run, name="otel-genai-metrics", daemon=True)
            thread.start()
            _thread = thread


def _after_fork_in_child() -> None:
    """The child has no recording thread, and the parent records its own pending calls."""
    global _thread, _drain_lock, _wake
    _thread = None
    _drain_lock = threading.Lock()
    _wake = threading.Event()
    _pending.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
