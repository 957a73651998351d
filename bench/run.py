"""`make bench`: run the benchmarks, print a table, write the results and the report.

    python -m bench.run              # every benchmark
    python -m bench.run soak load    # some, by name

Results are merged into bench/results/latest.json (a benchmark not run keeps its last
figures, with their date) and docs/benchmarks.md is written from that file.
Benchmarks measure; they never fail on a figure (targets are reported, not enforced).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import psutil
import yaml

from bench.harness import (NO_CACHE, BaselineBot, MemorySampler, RunningBot, bench_environment,
                           machine, resident_mb, run_locust, windowed_p95)
from bench.kb_scale import kb_scale
from bench.search_quality import search_quality
from bench.qa_methods import qa_methods
from bench.quality import BROAD_CASES, ask, dev_case_answer_rate, heldout_answer_rate
from bench.report import write_report
from knowledge.loader import load_catalog
from bot.build import MODEL
from bot.config import ROOT
from bot.launcher import answers

RESULTS = ROOT / "bench" / "results" / "latest.json"

SOAK_MINUTES = int(os.environ.get("SOAK_MINUTES", "8"))  # shorter for a quick look
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




def probe(model: Path) -> Dict[str, Any]:
    """Held-out NLU scores, parse latency and memory of ``model``, in a fresh process."""
    result = subprocess.run([sys.executable, "-m", "bench.nlu_probe", str(model)], cwd=ROOT,
                            env=NO_CACHE, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def quality() -> Dict[str, Any]:
    """Held-out NLU scores of the current model, and answers end to end."""
    with RunningBot() as bot:
        dev_cases = dev_case_answer_rate(bot.url)
        broad = dev_case_answer_rate(bot.url, BROAD_CASES)
        heldout = heldout_answer_rate(bot.url)
    return {"nlu": probe(MODEL), "dev_cases": dev_cases, "broad_cases": broad,
            "heldout_answers": heldout}


def _word_features(pipeline: List[Dict[str, Any]], use_lemma: bool) -> List[Dict[str, Any]]:
    return [{**step, "use_lemma": use_lemma}
            if step["name"] == "CountVectorsFeaturizer" and "analyzer" not in step else step
            for step in pipeline]


def _with_ginza(pipeline: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [pipeline[0], {"name": "bench.ginza_featurizer.GinzaFeaturizer"}, *pipeline[1:]]


PIPELINES: Dict[str, Callable[[List[Dict[str, Any]]], List[Dict[str, Any]]]] = {
    "Sudachi surface forms + sparse + DIET": lambda p: _word_features(p, False),
    "Sudachi normalized forms + sparse + DIET": lambda p: _word_features(p, True),
    "Sudachi normalized forms + sparse + GiNZA dense + DIET":
        lambda p: _with_ginza(_word_features(p, True)),
}
# A pipeline must beat a cheaper one by more than this held-out macro-F1 to be worth it.
F1_MARGIN = 0.01


def pipelines() -> Dict[str, Any]:
    """Each candidate NLU pipeline trained on data/nlu and scored on the held-out set."""
    base = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    figures = {}
    with tempfile.TemporaryDirectory() as scratch:
        for number, (name, change) in enumerate(PIPELINES.items()):
            config = Path(scratch) / f"config-{number}.yml"
            config.write_text(yaml.safe_dump({**base, "pipeline": change(base["pipeline"])},
                                             allow_unicode=True), encoding="utf-8")
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "rasa", "train", "nlu", "--config", str(config),
                            "--nlu", "data/nlu", "--out", scratch,
                            "--fixed-model-name", f"pipeline-{number}"],
                           cwd=ROOT, env=NO_CACHE, check=True, stdout=subprocess.DEVNULL)
            trained = round(time.monotonic() - started, 1)
            figures[name] = {"train_s": trained,
                             **probe(Path(scratch) / f"pipeline-{number}.tar.gz")}
    configured = configured_pipeline(base["pipeline"])
    return {"pipelines": figures, "configured": configured, "f1_margin": F1_MARGIN,
            "chosen": choose_pipeline(figures, configured)}


def configured_pipeline(pipeline: List[Dict[str, Any]]) -> str:
    """Which of PIPELINES config.yml has."""
    for name, change in PIPELINES.items():
        if change(pipeline) == pipeline:
            return name
    return "a pipeline not among the candidates"


def choose_pipeline(figures: Dict[str, Dict[str, Any]], configured: str) -> str:
    """The configured pipeline stays unless another beats its held-out macro-F1 by more
    than F1_MARGIN (one training run's noise); then the best of those."""
    best = max(figures, key=lambda name: figures[name]["intent_macro_f1"])
    if configured not in figures:
        return best
    margin = figures[best]["intent_macro_f1"] - figures[configured]["intent_macro_f1"]
    return best if margin > F1_MARGIN else configured


LOAD_USERS = (1, 20, 50)
LOAD_SECONDS = 30


def load() -> Dict[str, Any]:
    """Closed-loop citizens on the REST channel, our bot and the bare-Rasa baseline
    alternating at each level, both running, so they share the machine's state."""
    with RunningBot() as ours, BaselineBot() as baseline:
        at_rest = ours.memory_mb()
        levels = {}
        for users in LOAD_USERS:
            levels[str(users)] = {
                "ours": run_locust(ours.url, users, LOAD_SECONDS).summary(),
                "baseline": run_locust(baseline.url, users, LOAD_SECONDS).summary()}
        after = ours.memory_mb()
        baseline_memory = baseline.memory_mb()
    twenty = levels["20"]
    return {"seconds_per_level": LOAD_SECONDS, "levels": levels,
            "p95_ratio_at_20": round(twenty["ours"]["p95_ms"] / twenty["baseline"]["p95_ms"], 2),
            "memory_at_rest_mb": at_rest, "memory_after_load_mb": after,
            "memory_after_load_total_mb": round(sum(after.values()), 1),
            "baseline_memory_after_load_mb": baseline_memory}


def startup() -> Dict[str, Any]:
    """`make run` to the first answer with a trained model present, and a full retrain."""
    with tempfile.TemporaryDirectory() as scratch:
        env = bench_environment(Path(scratch))
        started = time.monotonic()
        make = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{env['RASA_PORT']}"
        while not answers(f"{url}/webhooks/rest/") and time.monotonic() - started < 300:
            time.sleep(0.2)
        first_answer = _first_answer(url)
        cold = round(time.monotonic() - started, 1)
        at_rest = resident_mb(psutil.Process(make.pid).children(recursive=True))
        os.killpg(make.pid, signal.SIGINT)
        make.wait(timeout=60)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "rasa", "train", "--out", scratch,
                        "--fixed-model-name", "retrain"], cwd=ROOT, env=NO_CACHE, check=True,
                       stdout=subprocess.DEVNULL)
        retrain = round(time.monotonic() - started, 1)
        # The shipped knowledge base validated, calibrated and built from nothing.
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "bot.build", "kb"], cwd=ROOT, check=True,
                       env={**env, "KNOWLEDGE_DB_URL": f"sqlite:///{Path(scratch) / 'kb.db'}"},
                       stdout=subprocess.DEVNULL)
        kb_build = round(time.monotonic() - started, 1)
    catalog = load_catalog()
    return {"cold_start_s": cold, "first_answer": first_answer, "retrain_s": retrain,
            "memory_at_rest_total_mb": at_rest, "kb_build_s": kb_build,
            "procedures": len(catalog.procedures), "entries": len(catalog.entries)}


def _first_answer(url: str) -> str:
    reply = ask(url, "転入届はオンラインでできますか")
    return reply[0].get("text", "")[:40] if reply else ""


BENCHMARKS: Dict[str, Callable[[], Dict[str, Any]]] = {
    "quality": quality, "pipelines": pipelines, "load": load, "startup": startup,
    "kb_scale": kb_scale, "search": search_quality, "qa_methods": qa_methods, "soak": soak}


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks.")
    parser.add_argument("names", nargs="*",
                        help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)")
    names = parser.parse_args(argv).names or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    failed = []
    for name in names:
        print(f"running {name}...", flush=True)
        started = time.monotonic()
        try:
            results[name] = {"machine": machine(), **BENCHMARKS[name]()}
        except Exception as error:  # report it, keep the others' figures
            print(f"{name} failed: {error!r}", file=sys.stderr, flush=True)
            failed.append(name)
            continue
        results[name]["machine"]["took_s"] = round(time.monotonic() - started)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    print(write_report(results))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
