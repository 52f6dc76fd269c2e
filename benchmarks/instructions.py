#!/usr/bin/env python
"""Instructions per call of every ``overhead.py`` variant, counted by Valgrind's callgrind: a
deterministic figure beside ``overhead.py``'s wall and CPU times, which on a shared machine move by
2x between runs (the bare SDK's own figure does).

    python benchmarks/instructions.py [--calls N] [--official v2,genai,anthropic,google_genai|none] [--no-peers]

Same workloads, canned responses, variants and pipeline as ``overhead.py`` (imported from it). Each
variant runs in its own process under ``valgrind --tool=callgrind`` (so instrumentations that leave
wrappers behind after ``uninstrument()`` cannot slow the next one); in it, after a warm-up, the
count is switched on around ``--calls`` calls of each workload and the deferred metric recording
(``drain``), through callgrind's client requests (``valgrind/callgrind.h``, compiled here into a
small shared library with ``cc``; the garbage collector paused inside a count, whose collections
would land in whichever variant crosses a threshold). Every thread's instructions count, so work moved to a background
thread is in the figure. Instructions are not time: an interleaved CPU-time run adds cache misses
(``overhead.py`` shows those), but an A/B of a code change reads here to the instruction.

Needs ``valgrind`` (Debian ``valgrind``, which ships the header) and a C compiler; about 5 minutes.
Prints one table per workload (instructions per call, added over bare, per chunk), then the issue 13
ratios. A tool for people, not a test: it exits 0 unless it could not run.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
_MARKS_C = r"""
#include <valgrind/callgrind.h>
void marks_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; CALLGRIND_TOGGLE_COLLECT; }
void marks_stop(const char *name) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT(name); CALLGRIND_STOP_INSTRUMENTATION; }
"""
DECORATOR = "decorator"


# --- inside valgrind: one variant ---------------------------------------------------------------
def child(key: str, calls: int, marks_path: str, official: str, peers: bool) -> int:
    """Run ``key``'s workloads (or the decorator pair), each counted over ``calls`` calls."""
    sys.path.insert(0, HERE)
    import overhead as B
    from otel_genai.instrumentation._core import metrics
    from otel_genai.instrumentation._core.metrics import drain

    # Nothing on a timer inside a count: under valgrind a call takes ~50x longer, so the metric
    # thread's idle wake-up (1 s) and the span processor's schedule (5 s) would come every few calls
    # instead of every few thousand. Metrics drain at 64 pending calls, as under load; spans are
    # exported between counts.
    metrics._IDLE_S = 1e6
    marks = ctypes.CDLL(marks_path)
    tp = B.TracerProvider()
    tp.add_span_processor(B.BatchSpanProcessor(B.NullSpanExporter(), max_queue_size=1 << 20,
                                               max_export_batch_size=1 << 20, schedule_delay_millis=1e9))
    mp = B.MeterProvider(metric_readers=[B.InMemoryMetricReader()])

    def count(name: str, fn: object, n: int) -> None:
        for _ in range(20):  # warm-up: lazy imports, caches, first-span allocations
            fn()
        drain()
        tp.force_flush()  # the span queue starts empty: no block pays for another's spans
        gc.collect()
        gc.disable()
        marks.marks_start()
        for _ in range(n):
            fn()
        drain()
        marks.marks_stop(name.encode())
        gc.enable()

    if key == DECORATOR:
        bare_step, traced_step = B.decorator_steps(tp)
        for name, step in (("bare", bare_step), ("traced", traced_step)):
            count(f"{DECORATOR}.{name}", lambda step=step: step(1), calls * 20)
        return 0
    if key in ("insitu", "insitu_metrics"):
        request, response = B.validate(B.build_variants("none", False)[1])["chat"]
        variant = B.SpanAroundCall(tp.get_tracer("benchmarks.floor"), f"chat {B.MODEL}", request, response,
                                   metrics=key == "insitu_metrics")
    else:
        (variant,) = [v for v in B.build_variants(official, peers) if v.key == key]
    variant.enable(tp, mp, skip_dep_check=True)
    try:
        for workload in variant.workloads:
            _, fn, share = B.WORKLOADS[workload]
            count(f"{key}.{workload}", fn, max(1, round(calls * share)))
    finally:
        variant.disable()
    return 0


# --- outside: one valgrind process per variant, then the report -----------------------------------
def _compile_marks(workdir: str) -> str:
    source = os.path.join(workdir, "marks.c")
    library = os.path.join(workdir, "libmarks.so")
    with open(source, "w") as f:
        f.write(_MARKS_C)
    subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC", "-O2", "-o", library, source], check=True)
    return library


def _counts(out_prefix: str) -> dict[str, int]:
    """{dump name: instructions} from the callgrind dumps of one process."""
    found: dict[str, int] = {}
    for path in glob.glob(out_prefix + "*"):
        with open(path, errors="replace") as f:
            text = f.read()
        for name, total in re.findall(r"desc: Trigger: Client Request: (\S+).*?\nsummary: (\d+)", text, re.S):
            found[name] = int(total)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100, help="counted calls per workload; streams a quarter of it (default 100)")
    parser.add_argument("--official", default="v2,genai,anthropic,google_genai", help="as overhead.py's --official")
    parser.add_argument("--no-peers", dest="peers", action="store_false", help="leave out OpenInference and OpenLLMetry")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--marks", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.calls, args.marks, args.official, args.peers)

    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)")
        return 1
    sys.path.insert(0, HERE)
    import overhead as B

    variants = B.build_variants(args.official, args.peers)
    keys = [v.key for v in variants] + ["insitu", "insitu_metrics", DECORATOR]
    labels = {v.key: v.label for v in variants}
    labels.update(insitu="bare span around create() (in-situ floor)", insitu_metrics="bare span + 3 metric records (in-situ floor)")
    workdir = tempfile.mkdtemp(prefix="otel-genai-instructions-")
    counts: dict[str, int] = {}
    try:
        marks = _compile_marks(workdir)
        for key in keys:
            prefix = os.path.join(workdir, f"cg.{key}")
            command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
                       f"--callgrind-out-file={prefix}.%p", sys.executable, os.path.abspath(__file__),
                       "--child", key, "--marks", marks, "--calls", str(args.calls), "--official", args.official]
            if not args.peers:
                command.append("--no-peers")
            print(f"  counting {key} ...", file=sys.stderr, flush=True)
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{key}: failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
            counts.update(_counts(prefix))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def per_call(key: str, workload: str) -> float | None:
        total = counts.get(f"{key}.{workload}")
        share = B.WORKLOADS[workload][2] if workload in B.WORKLOADS else 20
        return None if total is None else total / max(1, round(args.calls * share))

    print(f"instructions per call (callgrind), {args.calls} counted calls per workload (streams a quarter)")
    added: dict[tuple[str, str], float] = {}
    for workload, (title, _, _) in B.WORKLOADS.items():
        bare = per_call("bare", workload)
        if bare is None:
            continue
        chunks = B.CHUNKS.get(workload)
        print(f"\n{title}\n  {'':<46} {'instr/call':>12} {'added':>11} {'per chunk':>10}")
        print(f"  {labels['bare']:<46} {bare:12,.0f}")
        for key in keys[1:]:
            mine = per_call(key, workload)
            if mine is None:
                continue
            added[(key, workload)] = extra = mine - bare
            chunk = f"{extra / chunks:10,.0f}" if chunks else ""
            print(f"  {labels.get(key, key):<46} {mine:12,.0f} {extra:+11,.0f} {chunk}")

    def ratio(what: str, mine: tuple[str, str], theirs: tuple[str, str], target: float | None) -> None:
        if mine in added and theirs in added and added[theirs] > 0:
            value = added[mine] / added[theirs]
            verdict = "" if target is None else f"target <= {target}  " + ("PASS" if value <= target else "MISS")
            print(f"  {what:<52} {added[mine]:>11,.0f} / {added[theirs]:>11,.0f} = {value:5.2f}  {verdict}")

    print("\nissue 13 ratios on added instructions")
    for workload, mine in B.ours_keys().items():
        for key in keys:
            if key in B.OFFICIAL:
                ratio(f"{workload}: ours / {labels[key]}", (mine, workload), (key, workload), B.TARGET_VS_OFFICIAL)
    ratio("chat: ours / in-situ floor (span + metrics)", ("ours", "chat"), ("insitu_metrics", "chat"), B.TARGET_VS_INSITU)
    ratio("chat, no content: ours / in-situ floor (span + metrics)", ("ours_off", "chat"), ("insitu_metrics", "chat"),
          B.TARGET_NO_CONTENT_VS_INSITU)
    bare, traced = counts.get(f"{DECORATOR}.bare"), counts.get(f"{DECORATOR}.traced")
    if bare and traced:
        value = traced / bare
        verdict = "PASS" if value <= B.TARGET_DECORATOR else "MISS"
        print(f"  {'otel_genai.trace / bare SDK span (whole call)':<52} {traced / (args.calls * 20):>11,.0f} / "
              f"{bare / (args.calls * 20):>11,.0f} = {value:5.2f}  target <= {B.TARGET_DECORATOR}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
