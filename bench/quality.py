"""Answer quality: intents and procedures understood on the held-out set, and answers
given end to end on it and on the shared development cases.

The held-out set (bench/heldout/nlu.yml) is kept apart from the training data; any
example that also appears in data/nlu/ after normalisation is reported and not scored.
"""
from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

from bench.harness import percentile
from bot.build import EVAL_CASES
from bot.config import ROOT
from bot.nlu.normalise import fold_key
from knowledge.answers import TOPIC_INTENT, is_answer_card

HELDOUT = ROOT / "bench" / "heldout" / "nlu.yml"
TRAINING = ROOT / "data" / "nlu"
INTENT_TOPIC = {intent: topic for topic, intent in TOPIC_INTENT.items()}


def load_examples(path: Path) -> List[Any]:
    from rasa.shared.nlu.training_data.loading import load_data
    return [m for m in load_data(str(path)).training_examples if m.get("intent")]


def entity_values(entities: List[Dict[str, Any]], kind: str) -> Set[str]:
    return {e["value"] for e in entities if e.get("entity") == kind}


def heldout_examples() -> Tuple[List[Any], int]:
    """Held-out examples not also in the training data; how many were left out."""
    trained = {fold_key(m.get("text")) for m in load_examples(TRAINING)}
    examples = load_examples(HELDOUT)
    kept = [m for m in examples if fold_key(m.get("text")) not in trained]
    return kept, len(examples) - len(kept)


def parse_all(model: Path, texts: List[str]) -> Tuple[List[Dict[str, Any]], List[float]]:
    """The trained model's NLU result for each text (Rasa's own Agent, in-process), and
    the milliseconds each parse took."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))

    async def parse() -> Tuple[List[Dict[str, Any]], List[float]]:
        results, times = [], []
        for text in texts:
            started = time.perf_counter()
            results.append(await agent.parse_message(text))
            times.append((time.perf_counter() - started) * 1000)
        return results, times

    return asyncio.run(parse())


def f1(true_positive: int, predicted: int, gold: int) -> Dict[str, float]:
    precision = true_positive / predicted if predicted else 0.0
    recall = true_positive / gold if gold else 0.0
    score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(score, 3)}


def entity_f1(gold: List[Set[str]], predicted: List[Set[str]]) -> Dict[str, float]:
    """Micro F1 over (utterance, id) pairs: the right procedure, not just a span."""
    hits = sum(len(g & p) for g, p in zip(gold, predicted, strict=True))
    return f1(hits, sum(map(len, predicted)), sum(map(len, gold)))


def nlu_scores(model: Path) -> Dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score

    examples, overlapping = heldout_examples()
    parsed, times = parse_all(model, [m.get("text") for m in examples])
    gold = [m.get("intent") for m in examples]
    guessed = [p["intent"]["name"] for p in parsed]
    confusions = Counter((g, p) for g, p in zip(gold, guessed, strict=True) if g != p)
    per_intent = f1_score(gold, guessed, labels=sorted(set(gold)), average=None)
    return {
        "utterances": len(examples), "left_out_as_in_training_data": overlapping,
        "parse_p50_ms": percentile(times, 0.5), "parse_p95_ms": percentile(times, 0.95),
        "intent_accuracy": round(accuracy_score(gold, guessed), 3),
        "intent_macro_f1": round(f1_score(gold, guessed, labels=sorted(set(gold)),
                                          average="macro"), 3),
        "intent_f1": dict(zip(sorted(set(gold)), (round(v, 3) for v in per_intent),
                              strict=True)),
        "confusion_pairs": [
            {"gold": g, "predicted": p, "count": n,
             "examples": [m.get("text") for m, q in zip(examples, guessed, strict=True)
                          if m.get("intent") == g and q == p][:3]}
            for (g, p), n in confusions.most_common(10)],
        "procedure_entity": entity_f1(
            [entity_values(m.get("entities") or [], "procedure") for m in examples],
            [entity_values(p["entities"], "procedure") for p in parsed]),
        "life_event_entity": entity_f1(
            [entity_values(m.get("entities") or [], "life_event") for m in examples],
            [entity_values(p["entities"], "life_event") for p in parsed]),
    }


def ask(url: str, text: str) -> List[Dict[str, Any]]:
    body = json.dumps({"sender": f"quality-{uuid.uuid4().hex[:12]}", "message": text})
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", body.encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def answered(messages: List[Dict[str, Any]], procedure: str, topic: str) -> bool:
    """The bot answered this procedure's question: its card, on the asked topic or with
    one of its Q&A entries."""
    cards = [m["custom"] for m in messages if is_answer_card(m.get("custom"))]
    return any((c.get("procedure") or {}).get("id") == procedure
               and c.get("topic") in (topic, "qa") for c in cards)


def heldout_answer_rate(url: str) -> Dict[str, Any]:
    """Of the held-out questions that name one procedure, how many got its answer."""
    examples, _ = heldout_examples()
    questions = [(m.get("text"), next(iter(ids)), INTENT_TOPIC[m.get("intent")])
                 for m in examples if m.get("intent") in INTENT_TOPIC
                 for ids in [entity_values(m.get("entities") or [], "procedure")]
                 if len(ids) == 1]
    misses = [text for text, procedure, topic in questions
              if not answered(ask(url, text), procedure, topic)]
    return {"questions": len(questions), "answered": len(questions) - len(misses),
            "answer_rate": round(1 - len(misses) / len(questions), 3) if questions else None,
            "missed": misses[:15]}


BROAD_CASES = ROOT.parent / "shared" / "eval" / "broad_dev_cases.yaml"


def dev_case_answer_rate(url: str, cases: Path = EVAL_CASES) -> Dict[str, Any]:
    """The shared scorer on a case file (../shared/eval/dev_cases.yaml by default)
    against the running bot: answer rate and the kind of each failure."""
    result = subprocess.run([sys.executable, str(ROOT.parent / "shared" / "eval" / "run_eval.py"),
                             str(cases), "--url", url], capture_output=True, text=True)
    summary = re.search(r"eval: (\d+)/(\d+) passed, p50 (\d+) ms, p95 (\d+) ms, "
                        r"off-target (\d+), refusal (\d+), clarify (\d+)", result.stdout)
    if not summary:
        return {"error": (result.stdout + result.stderr)[-300:]}
    passed, total, p50, p95, off_target, refusal, clarify = map(int, summary.groups())
    failed = total - passed
    return {"passed": passed, "cases": total, "answer_rate": round(passed / total, 3),
            "p50_ms": p50, "p95_ms": p95, "off_target": off_target, "refusal": refusal,
            "clarify": clarify,
            # Of the questions not answered right, the share the bot said it could not
            # answer (or routed to a department) instead of showing facts as the answer.
            "honest_share_of_failures": round((failed - off_target) / failed, 3) if failed else 1.0,
            "failed": [line for line in result.stdout.splitlines() if line.startswith("FAIL")]}
