"""Start-up cost of zero-code instrumentation: whole-process wall time of ``python -c "import openai"``
bare, under ``opentelemetry-instrument`` with otel-genai, and under ``opentelemetry-instrument`` with the
official GenAI instrumentations doing the work instead of ours.

    python benchmarks/startup.py              # 15 runs per variant, interleaved; medians
    python benchmarks/startup.py --runs 31

Run it in the venv of the test extra (``pip install '.[test]'``: both SDKs, the official
``opentelemetry-instrumentation-genai-openai`` / ``-anthropic`` installed beside otel-genai). Variants:

* ``bare``: ``python -c "import openai"``, no instrumentation;
* ``otel-genai``: ``opentelemetry-instrument python -c "import openai"``; our distro skips the official
  instrumentations (one span per call), traces to the embedded store;
* ``official``: the same with ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=otel_genai_openai,otel_genai_anthropic``,
  so the official instrumentations load (our distro and configurator still run: a few ms of ours remain);
* ``otel-genai, app imports both``: ``import openai, anthropic`` under otel-genai, for scale.

Each run is a fresh process (``subprocess.run``), timed with ``time.perf_counter`` around it; the
variants rotate within each round so drift hits them alike. Prints the medians, min/max and the
overhead over bare, and the budget of ``+0.35 s`` over the bare import.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 0.35


def instrument_command() -> list[str]:
    script = Path(sys.executable).with_name("opentelemetry-instrument")
    found = str(script) if script.exists() else shutil.which("opentelemetry-instrument")
    if not found:
        sys.exit("opentelemetry-instrument is not installed in this environment")
    return [found]


def variants(store: str) -> list[tuple[str, list[str], dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_GENAI_STORE_PATH"] = store
    official = dict(env, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="otel_genai_openai,otel_genai_anthropic")
    instrument = instrument_command()
    import_openai = [sys.executable, "-c", "import openai"]
    return [
        ("bare", import_openai, env),
        ("otel-genai", instrument + import_openai, env),
        ("official", instrument + import_openai, official),
        ("otel-genai, app imports both", instrument + [sys.executable, "-c", "import openai, anthropic"], env),
    ]


def run_once(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per variant (default 15)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = variants(str(Path(tmp) / "traces.db"))
        for _, command, env in cases:  # warm the file cache once
            run_once(command, env)
        times: dict[str, list[float]] = {name: [] for name, _, _ in cases}
        for round_index in range(args.runs):
            shift = round_index % len(cases)
            for name, command, env in cases[shift:] + cases[:shift]:
                times[name].append(run_once(command, env))
    bare = statistics.median(times["bare"])
    print(f"start-up, wall time of a whole process, {args.runs} runs each (python {sys.version.split()[0]})")
    print(f"{'variant':<32}{'median s':>10}{'min':>8}{'max':>8}{'over bare':>11}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<32}{median:>10.3f}{min(values):>8.3f}{max(values):>8.3f}{median - bare:>+11.3f}")
    added = statistics.median(times["otel-genai"]) - bare
    official = statistics.median(times["official"]) - bare
    verdict = "PASS" if added <= BUDGET_S else "MISS"
    print(f"otel-genai adds {added:+.3f} s (budget +{BUDGET_S:.2f} s: {verdict}); the official instrumentations add {official:+.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
