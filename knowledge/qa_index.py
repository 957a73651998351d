"""Which Q&A entry answers a citizen's question: retrieval at answer time, calibrated.

Each entry's question and paraphrases are indexed as separate phrasings with the staff
search's analysis (BM25 over Sudachi words, reading bigrams and character bigrams:
knowledge/search.py); an entry scores as its best phrasing plus a little for the words of
its answer. A logistic model turns the best entry's score, its margin over the next one,
how much of each side the other covers (by idf) and whether it belongs to the procedure
the citizen named into the probability that it is the right entry. That model is fitted
on the calibration questions (knowledge/qa_calibration/) when the knowledge base is
built, and the bot answers with an entry only above the probability chosen there.

Nothing here is trained into the Rasa model: an entry added or edited is answerable as
soon as the knowledge base is rebuilt (docs/benchmarks.md compares this with Rasa's
ResponseSelector).
"""
from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np

from knowledge.question_words import focus_share, word_parts
from knowledge.schema import QaEntry
from knowledge.search import WAYS, Analysis, Bm25Field, analyse

# How much each way of matching counts (as the staff search, knowledge/search.py).
WAY_WEIGHTS = {"words": 1.0, "readings": 0.4, "chars": 0.4}
# The answer's words say less about the question than its phrasings do.
ANSWER_WEIGHT = 0.3
FEATURES = ("log_score", "score_share", "log_margin", "query_covered", "entry_covered", "focus_covered",
            "same_procedure", "other_procedure")
# The precision the answering threshold is chosen for on the calibration questions: an
# entry that answers a different question is the worst reply the bot can give.
TARGET_PRECISION = 0.9


@dataclass(frozen=True)
class Candidate:
    """The best entry of a pool, the features the calibration reads, and its probability."""

    entry: QaEntry
    score: float
    features: Tuple[float, ...]
    probability: float


@dataclass(frozen=True)
class Calibration:
    """A logistic model over FEATURES and the probability above which the bot answers."""

    weights: Tuple[float, ...]
    intercept: float
    threshold: float

    def probability(self, features: Sequence[float]) -> float:
        z = self.intercept + sum(w * x for w, x in zip(self.weights, features))
        return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))

    def to_json(self) -> Dict[str, object]:
        return {"features": list(FEATURES), "weights": list(self.weights),
                "intercept": self.intercept, "threshold": self.threshold}

    @classmethod
    def from_json(cls, data: Dict[str, object]) -> "Calibration":
        if data.get("features") != list(FEATURES):
            raise ValueError("the stored calibration was fitted on other features: rebuild")
        return cls(tuple(data["weights"]), float(data["intercept"]), float(data["threshold"]))


# Before the knowledge base is built with calibration questions: answer only on a
# near-verbatim phrasing (never used by a built base; see fit_calibration).
UNCALIBRATED = Calibration((0.0, 0.0, 0.0, 3.0, 3.0, 2.0, 0.0, -2.0), -6.0, 0.5)


class QaIndex:
    """All entries, indexed once; ``best`` finds the entry that answers a question."""

    def __init__(self, entries: Sequence[QaEntry],
                 calibration: Calibration = UNCALIBRATED) -> None:
        self.entries = list(entries)
        self.calibration = calibration
        self._phrasing_entry: List[int] = []
        phrasings: List[Analysis] = []
        for number, entry in enumerate(self.entries):
            for text in (entry.question, *entry.paraphrases):
                phrasings.append(analyse(text, content_only=True))
                self._phrasing_entry.append(number)
        answers = [analyse(" ".join(entry.answer), content_only=True) for entry in self.entries]
        self._phrasing_of = np.array(self._phrasing_entry, dtype=np.int64)
        self._phrasings = {way: Bm25Field([getattr(a, way) for a in phrasings]) for way in WAYS}
        self._answers = {way: Bm25Field([getattr(a, way) for a in answers]) for way in WAYS}
        self._phrasing_words = [set(a.words) for a in phrasings]
        self._entry_words: List[Set[str]] = [set() for _ in self.entries]
        for number, words in zip(self._phrasing_entry, self._phrasing_words):
            self._entry_words[number] |= words
        for number, answer in enumerate(answers):
            self._entry_words[number] |= set(answer.words)
        frequency: Dict[str, int] = defaultdict(int)
        for words in self._entry_words:
            for word in words:
                frequency[word] += 1
        count = max(len(self.entries), 1)
        self._frequency = dict(frequency)
        self._idf = {w: math.log(1 + count / f) for w, f in frequency.items()}
        self._unseen_idf = math.log(1 + count)
        self._by_procedure: Dict[str, List[int]] = defaultdict(list)
        for number, entry in enumerate(self.entries):
            self._by_procedure[entry.procedure or f"department:{entry.department}"].append(number)

    def __len__(self) -> int:
        return len(self.entries)

    def entries_with(self, word: str) -> int:
        """How many entries use ``word`` (or, for a compound they never use whole, its
        rarest part)."""
        if word in self._frequency:
            return self._frequency[word]
        return min((self._frequency.get(p, 0) for p in word_parts(word)), default=0)

    def _weight(self, words: Iterable[str]) -> float:
        return sum(self._idf.get(w, self._unseen_idf) for w in words)

    def _reach(self, query: Analysis) -> float:
        """What the query's terms could score at most (their idf, weighted by way): the
        score as a share of it does not grow with the length of the question."""
        return sum(WAY_WEIGHTS[way] * (1 + ANSWER_WEIGHT) * sum(
            self._phrasings[way].idf.get(term, self._phrasings[way].unseen_idf)
            for term in set(getattr(query, way))) for way in WAYS)

    def _scores(self, query: Analysis) -> np.ndarray:
        phrasing = np.zeros(len(self._phrasing_entry))
        answer = np.zeros(len(self.entries))
        for way in WAYS:
            self._phrasings[way].add_scores(getattr(query, way), phrasing, WAY_WEIGHTS[way])
            self._answers[way].add_scores(getattr(query, way), answer, WAY_WEIGHTS[way])
        best = np.zeros(len(self.entries))
        np.maximum.at(best, self._phrasing_of, phrasing)
        return best + ANSWER_WEIGHT * answer

    def _features(self, query: Analysis, number: int, score: float, runner_up: float,
                  procedure_id: Optional[str], focus: Sequence[str]) -> Tuple[float, ...]:
        words = set(query.words)
        covered = self._weight(words & self._entry_words[number]) / (self._weight(words) or 1)
        # How much of what the question is specifically about the entry speaks of.
        focused = focus_share(focus, self._entry_words[number], lambda w: self._weight([w]))
        said = max((self._weight(p & words) / (self._weight(p) or 1)
                    for p, n in zip(self._phrasing_words, self._phrasing_entry) if n == number),
                   default=0.0)
        entry = self.entries[number]
        return (math.log1p(score), score / (self._reach(query) or 1.0),
                math.log1p(score) - math.log1p(max(runner_up, 0.0)),
                covered, said, focused,
                float(procedure_id is not None and entry.procedure == procedure_id),
                float(procedure_id is not None and entry.procedure not in (None, procedure_id)))

    def candidates(self, text: str, procedure_id: Optional[str], today: dt.date,
                   focus: Sequence[str] = ()) -> List[Candidate]:
        """The best entry among the named procedure's entries (when one is named), then
        the best among all entries, each with its calibrated probability. ``focus``: the
        words the question is specifically about (knowledge/question_words.py)."""
        if not self.entries:
            return []
        query = analyse(text, content_only=True)
        scores = self._scores(query)
        valid = np.array([entry.valid_on(today) for entry in self.entries])
        scores = np.where(valid, scores, -1.0)
        pools = []
        if procedure_id and procedure_id in self._by_procedure:
            pools.append(np.array(self._by_procedure[procedure_id]))
        pools.append(np.arange(len(self.entries)))
        found = []
        for pool in pools:
            ranked = pool[np.argsort(-scores[pool], kind="stable")]
            top = int(ranked[0])
            if scores[top] <= 0:
                continue
            runner_up = float(scores[ranked[1]]) if len(ranked) > 1 else 0.0
            features = self._features(query, top, float(scores[top]), runner_up, procedure_id,
                                      focus)
            found.append(Candidate(self.entries[top], float(scores[top]), features,
                                   self.calibration.probability(features)))
        return found

    def best(self, text: str, procedure_id: Optional[str], today: dt.date,
             focus: Sequence[str] = ()) -> Optional[Candidate]:
        """The entry that answers ``text``, or None when none is likely enough."""
        for candidate in self.candidates(text, procedure_id, today, focus):
            if candidate.probability >= self.calibration.threshold:
                return candidate
        return None

    def related(self, entry: QaEntry, limit: int) -> List[QaEntry]:
        """Other entries of the same procedure (or department), for follow-up buttons:
        those whose question is most like this one's first."""
        key = entry.procedure or f"department:{entry.department}"
        others = [self.entries[n] for n in self._by_procedure.get(key, [])
                  if self.entries[n].id != entry.id]
        if not others:
            return []
        query = analyse(entry.question, content_only=True)
        scores = self._scores(query)
        position = {e.id: n for n, e in enumerate(self.entries)}
        return sorted(others, key=lambda e: -scores[position[e.id]])[:limit]


@dataclass(frozen=True)
class Labelled:
    """One calibration question as the index sees it."""

    features: Tuple[float, ...]
    right: bool  # the candidate is the entry the question is about


Question = Tuple[str, Optional[str], Optional[str], Tuple[str, ...]]


def labelled(index: QaIndex, questions: Sequence[Question], today: dt.date) -> List[Labelled]:
    """(text, the right entry id or None, the procedure the text names, its focus words)
    → examples; a question with no focus words is never matched to an entry, so it
    teaches nothing here."""
    rows = []
    for text, gold, procedure_id, focus in questions:
        if not focus:
            continue
        for candidate in index.candidates(text, procedure_id, today, focus):
            rows.append(Labelled(candidate.features, candidate.entry.id == gold))
    return rows


def fit_logistic(rows: Sequence[Labelled]) -> Tuple[Tuple[float, ...], float]:
    from sklearn.linear_model import LogisticRegression

    x = np.array([r.features for r in rows])
    y = np.array([r.right for r in rows])
    model = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    return tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0])


def threshold_for(probabilities: Sequence[float], right: Sequence[bool],
                  precision: float = TARGET_PRECISION) -> float:
    """The lowest probability at which the answers given are at least ``precision``
    right, on held-apart questions."""
    order = sorted(zip(probabilities, right), key=lambda pair: -pair[0])
    best = 1.0
    hits = 0
    for answered, (probability, ok) in enumerate(order, start=1):
        hits += ok
        if hits / answered >= precision:
            best = probability
    return best


def fit_calibration(index: QaIndex, questions: Sequence[Question], today: dt.date) -> Tuple[Calibration, Dict[str, float]]:
    """Fit the logistic model on all questions, and choose the threshold on two-fold
    held-apart predictions so it is not set by looking at its own fit."""
    rows = labelled(index, questions, today)
    if len(rows) < 10 or len({r.right for r in rows}) < 2:
        return UNCALIBRATED, {"questions": len(questions), "examples": len(rows)}
    folds = [rows[0::2], rows[1::2]]
    probabilities, right = [], []
    for train, test in ((folds[0], folds[1]), (folds[1], folds[0])):
        weights, intercept = fit_logistic(train)
        model = Calibration(weights, intercept, 0.5)
        probabilities += [model.probability(r.features) for r in test]
        right += [r.right for r in test]
    weights, intercept = fit_logistic(rows)
    calibration = Calibration(weights, intercept, threshold_for(probabilities, right))
    answered = [ok for p, ok in zip(probabilities, right) if p >= calibration.threshold]
    report = {"questions": len(questions), "examples": len(rows),
              "threshold": round(calibration.threshold, 3),
              "heldapart_precision": round(sum(answered) / len(answered), 3) if answered else 0.0,
              "heldapart_recall": round(sum(answered) / max(sum(right), 1), 3)}
    return calibration, report
