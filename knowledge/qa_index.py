"""Which Q&A entry answers a citizen's question: retrieval at answer time, calibrated.

Two ways find the candidates: each entry's question and paraphrases indexed as separate
phrasings with the staff search's analysis (BM25 over Sudachi words, reading bigrams and
character bigrams: knowledge/search.py; an entry scores as its best phrasing plus a little
for the words of its answer), and a linear classifier over the phrasings' character
n-grams and words, which learns which words tell one entry from its neighbours. The
top few of each (among the named procedure's entries and among all) are candidates. A
logistic model turns each candidate's scores, ranks and margins, how much of each side
the other covers (by idf), which of the question's specific words it lacks and whether
it belongs to the procedure the citizen named into the probability that it is the right
entry. That model is fitted on the calibration questions (knowledge/qa_calibration/)
when the knowledge base is built, and the bot answers with the most likely candidate
only above the probability chosen there.

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

from bot.nlu.normalise import fold_key
from knowledge.question_words import focus_share, word_parts
from knowledge.schema import QaEntry
from knowledge.search import Analysis, EntryIndex, analyse

FEATURES = ("classifier_score", "classifier_margin", "classifier_rank", "log_score",
            "score_share", "log_margin", "score_rank", "query_covered", "entry_covered",
            "focus_covered", "focus_missing", "focus_count", "focus_missing_most",
            "focus_unasked", "focus_unasked_most", "same_procedure", "other_procedure")
# Candidates: the best few entries by BM25 and by the classifier, in each pool.
BM25_CANDIDATES = 5
CLASSIFIER_CANDIDATES = 3
# Classifier weights smaller than this are dropped (see EntryClassifier).
PRUNE_BELOW = 0.005
# A rank beyond the candidates counts as this.
RANK_CAP = 10
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
UNCALIBRATED = Calibration((0.0,) * 7 + (3.0, 3.0, 2.0) + (0.0,) * 6 + (-2.0,), -6.0, 0.5)


class EntryClassifier:
    """A linear SVM over the phrasings (character 1–3-grams of the folded text and the
    content words), one class per entry: a few seconds to fit, so it is fitted with the
    index and nothing is trained into the Rasa model. Its weights are kept sparse: dense,
    they take 8 bytes × entries × n-grams (350 MB at 839 entries), and the weights below
    PRUNE_BELOW (96% of them) change no ranking that matters."""

    def __init__(self, texts: Sequence[str], words: Sequence[Sequence[str]],
                 labels: Sequence[int]) -> None:
        from scipy.sparse import csr_matrix, hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC

        self._hstack = hstack
        self._chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        # Every row has the marker, so a set of phrasings with no content word still fits.
        self._words = TfidfVectorizer(analyzer=lambda words: ["\0", *words], sublinear_tf=True)
        self._weights: Optional[csr_matrix] = None
        self._intercept = np.zeros(0)
        if len(set(labels)) > 1:
            matrix = hstack([self._chars.fit_transform([fold_key(t) for t in texts]),
                             self._words.fit_transform(words)]).tocsr()
            model = LinearSVC(C=0.5).fit(matrix, labels)
            weights = model.coef_
            weights[np.abs(weights) < PRUNE_BELOW] = 0.0
            # Stored feature × entry: a question's few n-grams pick their rows.
            self._weights = csr_matrix(weights.T.astype(np.float32))
            self._intercept = model.intercept_.astype(np.float32)

    def scores(self, text: str, words: Sequence[str], count: int) -> np.ndarray:
        """One decision value per entry (0 for all when there is only one entry)."""
        if self._weights is None:
            return np.zeros(count)
        row = self._hstack([self._chars.transform([fold_key(text)]),
                            self._words.transform([list(words)])]).tocsr()
        values = (row @ self._weights).toarray()[0] + self._intercept
        return values if len(values) > 1 else np.array([-values[0], values[0]])


@dataclass(frozen=True)
class _Top:
    """The best value of a score array and the next: the best of the others, for any
    entry, without a pass over all entries per candidate."""

    number: int
    first: float
    second: float

    @classmethod
    def of(cls, values: np.ndarray) -> "_Top":
        if len(values) < 2:
            return cls(0, float(values[0]) if len(values) else 0.0, 0.0)
        first, second = np.argpartition(-values, 1)[:2]
        if values[second] > values[first]:
            first, second = second, first
        return cls(int(first), float(values[first]), float(values[second]))

    def other_than(self, number: int) -> float:
        return self.second if number == self.number else self.first


@dataclass(frozen=True)
class _Asked:
    """One question as the features read it."""

    words: Set[str]
    focus: Tuple[str, ...]
    procedures: Tuple[str, ...]
    scores: np.ndarray
    classified: np.ndarray
    reach: float
    score_top: _Top
    value_top: _Top


class QaIndex:
    """All entries, indexed once; ``candidates`` ranks the entries that may answer a
    question."""

    def __init__(self, entries: Sequence[QaEntry],
                 calibration: Calibration = UNCALIBRATED) -> None:
        self.entries = list(entries)
        self.calibration = calibration
        self._search = EntryIndex(self.entries)
        self._phrasing_entry = self._search.phrasing_entry
        phrasings, answers = self._search.phrasings, self._search.answers
        self._phrasing_words = [set(a.words) for a in phrasings]
        self._phrasings_of: Dict[int, List[int]] = defaultdict(list)
        for phrasing, number in enumerate(self._phrasing_entry):
            self._phrasings_of[number].append(phrasing)
        self._asked_words = [set().union(*(self._phrasing_words[p] for p in self._phrasings_of[n]))
                             for n in range(len(self.entries))]
        self._classifier = EntryClassifier(
            self._search.phrasing_texts, [a.words for a in phrasings],
            self._phrasing_entry) if self.entries else None
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

    def _features(self, asked: "_Asked", number: int,
                  ranks: Tuple[float, float]) -> Tuple[float, ...]:
        words = asked.words
        score, value = float(asked.scores[number]), float(asked.classified[number])
        entry_words = self._entry_words[number]
        covered = self._weight(words & entry_words) / (self._weight(words) or 1)
        # How much of what the question is specifically about the entry speaks of, and
        # what it does not: a rare word it lacks (入場券, 養子縁組) says another question.
        focus = asked.focus
        focused = focus_share(focus, entry_words, lambda w: self._weight([w]))
        missing = [self._weight([w]) for w in focus if w not in entry_words]
        unasked = [self._weight([w]) for w in focus if w not in self._asked_words[number]]
        said = max((self._weight(self._phrasing_words[p] & words)
                    / (self._weight(self._phrasing_words[p]) or 1)
                    for p in self._phrasings_of[number]), default=0.0)
        entry = self.entries[number]
        procedures = asked.procedures
        return (value, value - asked.value_top.other_than(number), ranks[1], math.log1p(score),
                score / (asked.reach or 1.0),
                math.log1p(score) - math.log1p(max(asked.score_top.other_than(number), 0.0)),
                ranks[0], covered, said, focused, math.log1p(sum(missing)), float(len(focus)),
                max(missing, default=0.0), math.log1p(sum(unasked)), max(unasked, default=0.0),
                float(entry.procedure in procedures),
                float(bool(procedures) and entry.procedure not in (None, *procedures)))

    def candidates(self, text: str, procedures: Sequence[str], today: dt.date,
                   focus: Sequence[str] = ()) -> List[Candidate]:
        """The entries that may answer ``text``, most likely first, each with its
        calibrated probability: the best few by each way among the named procedures'
        entries (when any is named) and among all. ``focus``: the words the question is
        specifically about (knowledge/question_words.py)."""
        if not self.entries:
            return []
        query = analyse(text, content_only=True)
        valid = np.array([entry.valid_on(today) for entry in self.entries])
        scores = np.where(valid, self._search.scores(query), -1.0)
        classified = self._classifier.scores(text, query.words, len(self.entries))
        classified = np.where(valid, classified, classified.min() - 1.0)
        pools = [np.arange(len(self.entries))]
        named = [n for p in procedures for n in self._by_procedure.get(p, [])]
        if named:
            pools.insert(0, np.array(named))
        ranks: Dict[int, List[float]] = {}
        for pool in pools:
            by_score = pool[np.argsort(-scores[pool], kind="stable")]
            by_value = pool[np.argsort(-classified[pool], kind="stable")]
            chosen = [int(n) for n in by_score[:BM25_CANDIDATES] if scores[n] > 0]
            chosen += [int(n) for n in by_value[:CLASSIFIER_CANDIDATES] if valid[n]]
            score_rank = {int(n): r for r, n in enumerate(by_score[:BM25_CANDIDATES])}
            value_rank = {int(n): r for r, n in enumerate(by_value[:RANK_CAP])}
            for number in chosen:
                best = ranks.setdefault(number, [float(RANK_CAP), float(RANK_CAP)])
                best[0] = min(best[0], float(score_rank.get(number, RANK_CAP)))
                best[1] = min(best[1], float(value_rank.get(number, RANK_CAP)))
        # What every candidate's features compare with, worked out once per question.
        asked = _Asked(set(query.words), tuple(focus), tuple(procedures), scores, classified,
                       self._search.reach(query), _Top.of(scores), _Top.of(classified))
        found = []
        for number, (score_rank, value_rank) in ranks.items():
            features = self._features(asked, number, (score_rank, value_rank))
            found.append(Candidate(self.entries[number], float(scores[number]), features,
                                   self.calibration.probability(features)))
        return sorted(found, key=lambda c: -c.probability)

    def related(self, entry: QaEntry, limit: int) -> List[QaEntry]:
        """Other entries of the same procedure (or department), for follow-up buttons:
        those whose question is most like this one's first."""
        key = entry.procedure or f"department:{entry.department}"
        others = [self.entries[n] for n in self._by_procedure.get(key, [])
                  if self.entries[n].id != entry.id]
        if not others:
            return []
        query = analyse(entry.question, content_only=True)
        scores = self._search.scores(query)
        position = {e.id: n for n, e in enumerate(self.entries)}
        return sorted(others, key=lambda e: -scores[position[e.id]])[:limit]


@dataclass(frozen=True)
class Labelled:
    """One calibration question as the index sees it."""

    features: Tuple[float, ...]
    right: bool  # the candidate is the entry the question is about


# (text, the right entry id or None, the procedures it names, its focus words)
Question = Tuple[str, Optional[str], Tuple[str, ...], Tuple[str, ...]]


def labelled(index: QaIndex, questions: Sequence[Question], today: dt.date
             ) -> List[List[Labelled]]:
    """Each question's candidates, labelled; a question with no focus words is never
    matched to an entry, so it teaches nothing here."""
    return [[Labelled(c.features, c.entry.id == gold)
             for c in index.candidates(text, procedures, today, focus)]
            for text, gold, procedures, focus in questions if focus]


def fit_logistic(rows: Sequence[Labelled]) -> Tuple[Tuple[float, ...], float]:
    from sklearn.linear_model import LogisticRegression

    x = np.array([r.features for r in rows])
    y = np.array([r.right for r in rows])
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
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


def fit_calibration(index: QaIndex, questions: Sequence[Question], today: dt.date
                    ) -> Tuple[Calibration, Dict[str, float]]:
    """Fit the logistic model on all questions' candidates, and choose the threshold on
    two-fold held-apart predictions (the most likely candidate of each question, as the
    bot answers) so it is not set by looking at its own fit."""
    groups = [group for group in labelled(index, questions, today) if group]
    rows = [row for group in groups for row in group]
    if len(rows) < 10 or len({r.right for r in rows}) < 2:
        return UNCALIBRATED, {"questions": len(questions), "examples": len(rows)}
    folds = [groups[0::2], groups[1::2]]
    probabilities, right = [], []
    for train, test in ((folds[0], folds[1]), (folds[1], folds[0])):
        weights, intercept = fit_logistic([row for group in train for row in group])
        model = Calibration(weights, intercept, 0.5)
        for group in test:
            best = max(group, key=lambda row: model.probability(row.features))
            probabilities.append(model.probability(best.features))
            right.append(best.right)
    weights, intercept = fit_logistic(rows)
    calibration = Calibration(weights, intercept, threshold_for(probabilities, right))
    answered = [ok for p, ok in zip(probabilities, right) if p >= calibration.threshold]
    answerable = sum(any(row.right for row in group) for group in groups)
    report = {"questions": len(questions), "examples": len(rows),
              "threshold": round(calibration.threshold, 3),
              "heldapart_precision": round(sum(answered) / len(answered), 3) if answered else 0.0,
              "heldapart_recall": round(sum(answered) / max(answerable, 1), 3)}
    return calibration, report
