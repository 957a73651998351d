"""docs/benchmarks.md and the console table, written from bench/results/latest.json."""
from __future__ import annotations

from typing import Any, Dict, List

from bot.config import ROOT

REPORT = ROOT / "docs" / "benchmarks.md"

INTRO = """# Benchmarks

Written by `make bench` from `bench/results/latest.json`; do not edit by hand.
Each section says what was measured, how, on what machine and what the figures mean.
The machines are shared and noisy: compare figures from one run, and read ratios next to
absolute times. Benchmarks never fail on a figure; `make test` has no timing thresholds.
"""


def _machine(result: Dict[str, Any]) -> str:
    m = result["machine"]
    return (f"Measured {m['date']} on {m['cpus']} CPUs ({m['cpu']}), {m['memory_gb']} GB, "
            f"Python {m['python']}, load average {m['load_average_1m']:.1f} at the start.")


def _table(header: List[str], rows: List[List[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def soak_section(r: Dict[str, Any]) -> str:
    processes = sorted(set(r["memory_before_mb"]) | set(r["memory_after_mb"]))
    memory = _table(["process", "before (MB)", "after (MB)"],
                    [[p, r["memory_before_mb"].get(p, "-"), r["memory_after_mb"].get(p, "-")]
                     for p in processes])
    return f"""## Soak: a steady load for {r['minutes']} minutes

What: whether a long steady load causes errors, slows answers down over time or makes
memory grow. How: locust on loopback, {r['users']} citizens each paced at
{r['rate_per_s'] / r['users']:g} messages a second ({r['rate_per_s']:g} a second in all), short
conversations of up to three questions under fresh sender ids, through the REST channel
with its limits on, against the bot started by the launcher with a fresh SQLite tracker
database. {_machine(r)}

{_table(["requests", "failed", "5xx", "p50 (ms)", "p95 (ms)", "p99 (ms)", "answers/s"],
        [[r['requests'], r['failures'], r['status_5xx'], r['p50_ms'], r['p95_ms'],
          r['p99_ms'], r['throughput_per_s']]])}

p95 per minute (ms): {', '.join(str(v) for v in r['p95_per_minute_ms'])};
drift from the first minute to the last: {r['p95_drift_ms']} ms.

{memory}

All processes together, each minute (MB): {', '.join(str(v) for v in r.get('memory_per_minute_mb', []))};
grown by {r['memory_growth_mb']} MB over the run.
A failure is any answer that is not HTTP 200 with bot messages, or is the apology the
channels send when the bot could not answer. Growth in the first minutes is Rasa and
TensorFlow warming their caches; steady growth through the run would be a leak.
"""


SECTIONS = {"soak": soak_section}


def console_table(results: Dict[str, Any]) -> str:
    rows = []
    if "soak" in results:
        r = results["soak"]
        rows.append(["soak", f"{r['requests']} requests, {r['failures']} failed, "
                     f"{r['status_5xx']} 5xx, p95 {r['p95_ms']} ms "
                     f"(drift {r['p95_drift_ms']} ms), memory +{r['memory_growth_mb']} MB"])
    width = max((len(name) for name, _ in rows), default=0)
    return "\n".join(f"{name.ljust(width)}  {line}" for name, line in rows)


def write_report(results: Dict[str, Any]) -> str:
    """Write docs/benchmarks.md; the console table."""
    parts = [INTRO] + [SECTIONS[name](results[name]) for name in SECTIONS if name in results]
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(parts), encoding="utf-8")
    return console_table(results)
