"""Which way of finding the Q&A entry that answers a question: the method comparison.

The calibration questions (knowledge/qa_calibration/: questions written apart from the
entries, each with the entry that answers it or none) are split in two halves; each
method is fitted on one half and scored on the other, both ways round:

- ``response_selector``: Rasa's own FAQ mechanism, a ResponseSelector on a retrieval
  intent with one sub-intent per entry (trained on its question and paraphrases, beside
  the bot's own intents), answering above a confidence chosen on the other half; on a
  fixed sample of the entries, next to BM25 on the same sample (see SAMPLE_ENTRIES);
- ``bm25``: retrieval at answer time (knowledge/qa_index.py: candidates from BM25 and
  from a linear classifier over the phrasings, one calibrated model over both);
- ``bm25_dense``: the same with GiNZA's static word vectors: the cosine of the question
  and the candidate's closest phrasing as one more calibrated feature.

Scored: accuracy (the right entry first, of questions that have one), answers given and
how many were right (precision), questions with an entry answered right (recall),
abstention precision (abstentions that were right: no entry, or the first one wrong)
and recall (questions with no entry that were abstained on), train time, and time per
question.
"""
from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import yaml

from bench.harness import NO_CACHE
from bench.quality import parse_all
from bot.config import ROOT
from knowledge.loader import calibration_questions, load_catalog
from knowledge.qa_index import (Calibration, Labelled, QaIndex, Question, fit_logistic,
                                threshold_for)

TODAY = dt.date(2026, 12, 1)
# (answer or None, its confidence) for each question
Predictions = List[Tuple[Optional[str], float]]


def questions() -> Tuple[Any, List[Question]]:
    catalog = load_catalog()
    return catalog, calibration_questions(catalog)


def score(predictions: Predictions, gold: Sequence[Optional[str]],
          thresholds: Sequence[float]) -> Dict[str, float]:
    """The figures of the module docstring; each question with its half's threshold."""
    with_entry = [g is not None for g in gold]
    first_right = [p == g and g is not None for (p, _), g in zip(predictions, gold)]
    answered = [p is not None and c >= t for (p, c), t in zip(predictions, thresholds)]
    right = sum(a and r for a, r in zip(answered, first_right))
    abstained = [not a for a in answered]
    good_abstain = sum(a and not r for a, r in zip(abstained, first_right))
    return {
        "questions": len(gold), "with_entry": sum(with_entry),
        "accuracy": round(sum(first_right) / max(sum(with_entry), 1), 3),
        "answered": sum(answered),
        "precision": round(right / max(sum(answered), 1), 3),
        "recall": round(right / max(sum(with_entry), 1), 3),
        "abstention_precision": round(good_abstain / max(sum(abstained), 1), 3),
        "abstention_recall": round(sum(a and g is None for a, g in zip(abstained, gold))
                                   / max(sum(g is None for g in gold), 1), 3)}


def _halves(items: Sequence[Any]) -> Tuple[List[Any], List[Any]]:
    return list(items[0::2]), list(items[1::2])


def _two_fold(run: Callable[[List[Question], List[Question]], Tuple[Predictions, float]],
              asked: List[Question]) -> Dict[str, Any]:
    """``run(fit_on, test_on)`` → predictions on test_on and the threshold fitted on
    fit_on; both halves scored together."""
    first, second = _halves(asked)
    predictions: Predictions = []
    gold: List[Optional[str]] = []
    thresholds: List[float] = []
    fitted = []
    for fit_on, test_on in ((first, second), (second, first)):
        found, threshold = run(fit_on, test_on)
        predictions += found
        gold += [q[1] for q in test_on]
        thresholds += [threshold] * len(test_on)
        fitted.append(round(threshold, 3))
    return {**score(predictions, gold, thresholds), "thresholds": fitted}


def bm25(entries: Sequence[Any], asked: List[Question],
         extra: Optional[Callable[[str, Any], float]] = None) -> Dict[str, Any]:
    index = QaIndex(entries)

    def features(question: Question) -> List[Tuple[Any, Tuple[float, ...]]]:
        text, _, procedures, focus = question
        if not focus:  # never matched to an entry by the bot (knowledge/decide.py)
            return []
        found = index.candidates(text, procedures, TODAY, focus)
        if extra is None:
            return [(c.entry, c.features) for c in found]
        return [(c.entry, (*c.features, extra(text, c.entry))) for c in found]

    def run(fit_on: List[Question], test_on: List[Question]) -> Tuple[Predictions, float]:
        groups = [[Labelled(f, e.id == q[1]) for e, f in features(q)] for q in fit_on]
        weights, intercept = fit_logistic([row for group in groups for row in group])
        model = Calibration(weights, intercept, 0.5)
        # The threshold is read off each question's most likely candidate, as the bot
        # answers with it.
        best = [max(group, key=lambda r: model.probability(r.features))
                for group in groups if group]
        threshold = threshold_for([model.probability(r.features) for r in best],
                                  [r.right for r in best])
        out: Predictions = []
        for question in test_on:
            found = [(e.id, model.probability(f)) for e, f in features(question)]
            out.append(max(found, key=lambda p: p[1], default=(None, 0.0)))
        return out, threshold

    started = time.perf_counter()
    QaIndex(entries)
    built = time.perf_counter() - started
    result = _two_fold(run, asked)
    result["train_s"] = round(built, 2)
    result["retrain_for_a_new_entry"] = False
    started = time.perf_counter()
    for text, _, procedures, focus in asked:
        index.candidates(text, procedures, TODAY, focus)
    result["ms_per_question"] = round((time.perf_counter() - started) * 1000 / len(asked), 2)
    return result


def ginza_cosine(entries: Sequence[Any]) -> Optional[Callable[[str, Any], float]]:
    """Cosine of GiNZA document vectors (static word vectors, averaged) of the question
    and the entry's closest phrasing; None when spaCy/GiNZA are not installed."""
    try:
        import spacy
    except ImportError:
        return None
    nlp = spacy.load("ja_ginza", exclude=["parser", "ner", "attribute_ruler", "compound_splitter",
                                          "bunsetu_recognizer", "morphologizer"])

    def vector(text: str) -> np.ndarray:
        found = nlp(text).vector
        norm = np.linalg.norm(found)
        return found / norm if norm else found

    phrasings = {e.id: np.array([vector(t) for t in (e.question, *e.paraphrases)])
                 for e in entries}
    cache: Dict[str, np.ndarray] = {}

    def cosine(text: str, entry: Any) -> float:
        if text not in cache:
            cache[text] = vector(text)
        return float(np.max(phrasings[entry.id] @ cache[text]))

    return cosine


def response_selector(entries: Sequence[Any], asked: List[Question], epochs: int
                      ) -> Dict[str, Any]:
    """Rasa's ResponseSelector with a retrieval intent, one sub-intent per entry, beside
    the bot's own pipeline and intents."""
    base = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    pipeline = [*base["pipeline"][:-1],
                {"name": "ResponseSelector", "retrieval_intent": "faq", "epochs": epochs,
                 "random_seed": 42}, base["pipeline"][-1]]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "config.yml").write_text(yaml.safe_dump({**base, "pipeline": pipeline},
                                                          allow_unicode=True), encoding="utf-8")
        faq = "\n".join(
            f"- intent: faq/{e.id}\n  examples: |\n"
            + "".join(f"    - {t}\n" for t in (e.question, *e.paraphrases))
            for e in entries)
        data = folder / "nlu"
        shutil.copytree(ROOT / "data" / "nlu", data)
        (data / "faq.yml").write_text(f'version: "3.1"\nnlu:\n{faq}', encoding="utf-8")
        domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
        domain["intents"] = [*domain["intents"], "faq"]
        domain["responses"].update({f"utter_faq/{e.id}": [{"text": e.answer[0]}]
                                    for e in entries})
        (folder / "domain.yml").write_text(yaml.safe_dump(domain, allow_unicode=True),
                                           encoding="utf-8")
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "rasa", "train", "nlu", "--config",
                        str(folder / "config.yml"), "--nlu", str(data),
                        "--domain", str(folder / "domain.yml"),
                        "--out", scratch, "--fixed-model-name", "faq"],
                       cwd=ROOT, env=NO_CACHE, check=True, stdout=subprocess.DEVNULL)
        trained = time.monotonic() - started
        parsed, times = parse_all(folder / "faq.tar.gz", [q[0] for q in asked])
    predictions = {}
    for (text, *_), result in zip(asked, parsed):
        selected = ((result.get("response_selector") or {}).get("faq") or {}).get("response") or {}
        key = selected.get("intent_response_key") or ""
        predictions[text] = (key.split("/", 1)[1] if "/" in key else None,
                             float(selected.get("confidence") or 0.0))

    def run(fit_on: List[Question], test_on: List[Question]) -> Tuple[Predictions, float]:
        fitted = [predictions[q[0]] for q in fit_on]
        threshold = threshold_for([c for _, c in fitted],
                                  [p == q[1] for (p, _), q in zip(fitted, fit_on)])
        return [predictions[q[0]] for q in test_on], threshold

    result = _two_fold(run, asked)
    result["train_s"] = round(trained, 1)
    result["epochs"] = epochs
    result["retrain_for_a_new_entry"] = True
    result["ms_per_question"] = round(float(np.median(times)), 2)
    return result


# Rasa's ResponseSelector trains for 300 epochs by default; on all entries that takes
# over an hour here (60 epochs: 20 minutes, and it had not learnt them: training
# accuracy 5%), so it is compared with BM25 on a fixed sample of the entries.
SAMPLE_ENTRIES = 120
SELECTOR_EPOCHS = 300


def qa_methods() -> Dict[str, Any]:
    catalog, asked = questions()
    results: Dict[str, Any] = {"entries": len(catalog.entries), "questions": len(asked),
                               "methods": {}}
    results["methods"]["bm25"] = bm25(catalog.entries, asked)
    cosine = ginza_cosine(catalog.entries)
    if cosine is not None:
        results["methods"]["bm25_dense"] = bm25(catalog.entries, asked, cosine)
    sample = set(random.Random(1).sample([e.id for e in catalog.entries], SAMPLE_ENTRIES))
    entries = [e for e in catalog.entries if e.id in sample]
    sampled = [q for q in asked if q[1] in sample or q[1] is None]
    results["sample"] = {"entries": len(entries), "questions": len(sampled)}
    results["methods"]["bm25_sample"] = bm25(entries, sampled)
    results["methods"]["response_selector_sample"] = response_selector(
        entries, sampled, SELECTOR_EPOCHS)
    return results


if __name__ == "__main__":
    print(json.dumps(qa_methods(), ensure_ascii=False, indent=1))
