"""`make bench`: run the benchmarks, print a table, write the results and the report.

    python -m bench.run              # every benchmark
    python -m bench.run soak         # one (or several) by name

Results are merged into bench/results/latest.json (a benchmark not run keeps its last
figures, with their date) and docs/benchmarks.md is written from that file.
Benchmarks measure; they never fail on a figure (targets are reported, not enforced).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Dict, List

from bench.harness import MemorySampler, RunningBot, machine, run_locust, windowed_p95
from bench.report import write_report
from bot.config import ROOT

RESULTS = ROOT / "bench" / "results" / "latest.json"

SOAK_MINUTES = int(os.environ.get("SOAK_MINUTES", "10"))  # shorter for a quick look
SOAK_RATE = 5.0  # messages a second, steady, from SOAK_USERS citizens
SOAK_USERS = 10


def soak() -> Dict[str, Any]:
    """A steady rate for SOAK_MINUTES: errors, p95 per minute (drift), memory growth."""
    with RunningBot() as bot:
        before = bot.memory_mb()
        with MemorySampler(bot, every=60.0) as memory:
            load = run_locust(bot.url, SOAK_USERS, SOAK_MINUTES * 60, SOAK_RATE / SOAK_USERS)
        after = bot.memory_mb()
    per_minute = windowed_p95(load.latencies)
    return {**load.summary(), "minutes": SOAK_MINUTES, "rate_per_s": SOAK_RATE,
            "users": SOAK_USERS, "p95_per_minute_ms": per_minute,
            "p95_drift_ms": round(per_minute[-1] - per_minute[0], 1) if per_minute else None,
            "memory_per_minute_mb": memory.totals,
            "memory_before_mb": before, "memory_after_mb": after,
            "memory_growth_mb": round(sum(after.values()) - sum(before.values()), 1)}


BENCHMARKS: Dict[str, Callable[[], Dict[str, Any]]] = {"soak": soak}


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks.")
    parser.add_argument("names", nargs="*",
                        help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)")
    names = parser.parse_args(argv).names or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in names:
        print(f"running {name}...", flush=True)
        results[name] = {"machine": machine(), **BENCHMARKS[name]()}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    print(write_report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
