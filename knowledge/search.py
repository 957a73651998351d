"""Full-text search over the knowledge base, for the staff assist tool.

Staff type what a caller says: 「じゅうみんひょうのうつし」, 「住民標」, 「ひっこしの届け」.
Each procedure is indexed three ways and every way is ranked with BM25 (Okapi, with
the non-negative idf of Lucene):

- words: Sudachi's normalized forms (引越し→引っ越し) in split modes C and A, so a
  compound (住民票) and its parts (住民, 票) both match;
- readings: character bigrams of the Sudachi reading in hiragana, so kana-only input
  and a homophone typo (住民表) meet the kanji;
- characters: bigrams of the folded text (width, kana, long vowels), so a one-character
  typo (住民標) still shares most of its bigrams.

A name or alias written out in the query, in kanji or in kana (かくていしんこく), adds
a bonus by its length: BM25 alone ranks 準確定申告 with 確定申告 for that query.

The index is an inverted index with each posting's BM25 weight computed at build
time, so a query costs only the postings of its terms (rank_bm25 scans every document
per term, too slow for a 75,000-procedure base: see bench/kb_scale.py).
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from sqlalchemy.orm import Session

from bot.nlu.normalise import fold_key, normalise
from bot.nlu.sudachi import SPLIT_MODES, sudachi_pool
from knowledge.queries import all_procedures, get_entries
from knowledge.schema import Channel, OnlineStatus, Procedure, QaEntry

# Parts of speech that carry the meaning of a query (no particles, auxiliaries, marks).
CONTENT_POS = {"名詞", "動詞", "形容詞", "形状詞", "接頭辞", "接尾辞", "副詞"}
# How much each way of matching counts; tuned on bench/heldout/search.yml.
WAY_WEIGHTS = {"words": 1.0, "readings": 0.4, "chars": 0.4}
# A match in the name or an alias says more than one in a keyword, and that more than
# one in the documents or notes.
PART_WEIGHTS = {"title": 1.0, "keywords": 0.5, "body": 0.3}
# A Q&A entry's answer says less about the question it answers than its phrasings do.
ANSWER_WEIGHT = 0.3
# Bonus per character of the longest name or alias found whole in the query.
ALIAS_BONUS = 1.0
MAX_ALIAS_CHARS = 24
ONLINE = {OnlineStatus.yes, OnlineStatus.partial}


def _bigrams(key: str) -> List[str]:
    return [key[i:i + 2] for i in range(len(key) - 1)] if len(key) > 1 else [key] if key else []


@dataclass(frozen=True)
class Analysis:
    """One text, segmented once, in every form the index matches on."""

    words: List[str]  # normalized forms of the content words, compounds whole and split
    readings: List[str]  # bigrams of the reading, folded to hiragana
    chars: List[str]  # bigrams of the folded text
    reading_key: str  # the whole reading, folded (for names written out in kana)
    key: str  # the whole folded text


def analyse(text: str, content_only: bool = False) -> Analysis:
    """``content_only``: reading and character bigrams of the content words alone, each
    word apart, so the grammar of a whole sentence (〜ですか, 〜ますか) does not match
    (the Q&A matcher compares sentences with sentences; the staff search short queries)."""
    cleaned = normalise(text).text
    tokenizer = sudachi_pool().tokenizer()
    # Strings are taken out of each morpheme list before the tokenizer runs again.
    whole = [(m.normalized_form(), m.reading_form(), m.part_of_speech()[0], m.surface())
             for m in (tokenizer.tokenize(cleaned, SPLIT_MODES["C"]) if cleaned else [])]
    parts = [(m.normalized_form(), m.part_of_speech()[0])
             for m in (tokenizer.tokenize(cleaned, SPLIT_MODES["A"]) if cleaned else [])]
    reading = fold_key("".join(r for _, r, pos, _ in whole if pos != "補助記号"))
    key = fold_key(text)
    words = ([form for form, _, pos, _ in whole if pos in CONTENT_POS]
             + [form for form, pos in parts if pos in CONTENT_POS])
    if content_only:
        content = [(fold_key(r), fold_key(surface)) for _, r, pos, surface in whole
                   if pos in CONTENT_POS]
        return Analysis(words=words, readings=[b for r, _ in content for b in _bigrams(r)],
                        chars=[b for _, c in content for b in _bigrams(c)],
                        reading_key=reading, key=key)
    return Analysis(words=words, readings=_bigrams(reading), chars=_bigrams(key),
                    reading_key=reading, key=key)


def words(text: str) -> List[str]:
    return analyse(text).words


WAYS = ("words", "readings", "chars")


def document_parts(procedure: Procedure) -> Dict[str, List[str]]:
    """The searchable texts of a procedure, by part."""
    return {
        "title": [procedure.name, *procedure.aliases, *([procedure.reading]
                                                         if procedure.reading else [])],
        "keywords": list(procedure.keywords) + [k for n in procedure.notes for k in n.keywords],
        "body": [d.name for d in procedure.documents] + [n.text for n in procedure.notes],
    }


class Bm25Field:
    """One inverted index: term → (document numbers, BM25 weights)."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.2,
                 b: float = 0.75) -> None:
        count = len(documents)
        lengths = np.array([len(d) for d in documents], dtype=float)
        average = float(lengths.mean()) if count and lengths.sum() else 1.0
        postings: Dict[str, List[Tuple[int, int]]] = defaultdict(list)
        for number, terms in enumerate(documents):
            for term, frequency in Counter(terms).items():
                postings[term].append((number, frequency))
        self.postings: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
        self.idf: Dict[str, float] = {}
        # The idf of a term no document has: the most a term can say.
        self.unseen_idf = math.log(1 + (count + 0.5) / 0.5)
        for term, entries in postings.items():
            numbers = np.array([n for n, _ in entries], dtype=np.int64)
            frequency = np.array([f for _, f in entries], dtype=float)
            idf = math.log(1 + (count - len(entries) + 0.5) / (len(entries) + 0.5))
            self.idf[term] = idf
            norm = k1 * (1 - b + b * lengths[numbers] / average)
            self.postings[term] = (numbers, idf * frequency * (k1 + 1) / (frequency + norm))

    def add_scores(self, query_terms: Sequence[str], scores: np.ndarray, weight: float) -> None:
        for term, times in Counter(query_terms).items():
            entry = self.postings.get(term)
            if entry is not None:
                np.add.at(scores, entry[0], weight * times * entry[1])


@dataclass(frozen=True)
class Hit:
    procedure: Procedure
    score: float


@dataclass(frozen=True)
class EntryHit:
    entry: QaEntry
    score: float


class EntryIndex:
    """The Q&A entries: each question and paraphrase indexed as a phrasing of its own
    (content words only, so sentence grammar does not match), the answer apart; an entry
    scores as its best phrasing plus a little for the words of its answer. The staff
    search and the bot's matcher (knowledge/qa_index.py) rank entries with it."""

    def __init__(self, entries: Sequence[QaEntry]) -> None:
        self.entries = list(entries)
        self.phrasing_entry: List[int] = []
        self.phrasing_texts: List[str] = []
        for number, entry in enumerate(self.entries):
            for text in (entry.question, *entry.paraphrases):
                self.phrasing_texts.append(text)
                self.phrasing_entry.append(number)
        self.phrasings = [analyse(text, content_only=True) for text in self.phrasing_texts]
        self.answers = [analyse(" ".join(entry.answer), content_only=True)
                        for entry in self.entries]
        self._phrasing_of = np.array(self.phrasing_entry, dtype=np.int64)
        self._phrasing_fields = {way: Bm25Field([getattr(a, way) for a in self.phrasings])
                                 for way in WAYS}
        self._answer_fields = {way: Bm25Field([getattr(a, way) for a in self.answers])
                               for way in WAYS}

    def scores(self, query: Analysis) -> np.ndarray:
        """One score per entry."""
        phrasing = np.zeros(len(self.phrasing_entry))
        answer = np.zeros(len(self.entries))
        for way in WAYS:
            self._phrasing_fields[way].add_scores(getattr(query, way), phrasing,
                                                  WAY_WEIGHTS[way])
            self._answer_fields[way].add_scores(getattr(query, way), answer, WAY_WEIGHTS[way])
        best = np.zeros(len(self.entries))
        if len(phrasing):
            np.maximum.at(best, self._phrasing_of, phrasing)
        return best + ANSWER_WEIGHT * answer

    def reach(self, query: Analysis) -> float:
        """What the query's terms could score at most (their idf, weighted by way): a
        score as a share of it does not grow with the length of the question."""
        return sum(WAY_WEIGHTS[way] * (1 + ANSWER_WEIGHT) * sum(
            self._phrasing_fields[way].idf.get(term, self._phrasing_fields[way].unseen_idf)
            for term in set(getattr(query, way))) for way in WAYS)

    def search(self, query: str, limit: int = 10) -> List[EntryHit]:
        """The entries whose phrasings match the query best, best first."""
        if not self.entries:
            return []
        scores = self.scores(analyse(query, content_only=True))
        ranked = np.argsort(-scores, kind="stable")[:limit]
        return [EntryHit(self.entries[n], float(scores[n])) for n in ranked if scores[n] > 0]


class SearchIndex:
    """All procedures and Q&A entries, indexed once; ``search`` ranks the procedures for a
    query with filters, ``entries`` the entries."""

    def __init__(self, procedures: Sequence[Procedure],
                 entries: Sequence[QaEntry] = ()) -> None:
        self.procedures = list(procedures)
        self.entries = EntryIndex(entries)
        analysed = [{part: [analyse(text) for text in texts]
                     for part, texts in document_parts(p).items()} for p in self.procedures]
        self.fields = {
            (part, way): Bm25Field([[t for a in doc[part] for t in getattr(a, way)]
                                    for doc in analysed])
            for part in PART_WEIGHTS for way in WAYS}
        self.titles: Dict[str, List[int]] = defaultdict(list)
        for number, doc in enumerate(analysed):
            keys = {key for a in doc["title"] for key in (a.key, a.reading_key)
                    if 1 < len(key) <= MAX_ALIAS_CHARS}
            for key in keys:
                self.titles[key].append(number)

    def _add_title_bonus(self, query: Analysis, scores: np.ndarray) -> None:
        longest: Dict[int, int] = {}
        for key in {query.key, query.reading_key}:
            for start in range(len(key)):
                for end in range(start + 2, min(len(key), start + MAX_ALIAS_CHARS) + 1):
                    for number in self.titles.get(key[start:end], ()):
                        longest[number] = max(longest.get(number, 0), end - start)
        for number, length in longest.items():
            scores[number] += ALIAS_BONUS * length

    @classmethod
    def from_session(cls, session: Session) -> "SearchIndex":
        return cls(all_procedures(session), get_entries(session))

    def search(self, query: str, life_event: Optional[str] = None,
               channel: Optional[str] = None, limit: int = 10) -> List[Hit]:
        """The best matches first. ``channel``: "online" for anything that can be done
        online, or a channel's name (e.g. "mynaportal")."""
        scores = np.zeros(len(self.procedures))
        analysed = analyse(query)
        for (part, way), field in self.fields.items():
            field.add_scores(getattr(analysed, way), scores, PART_WEIGHTS[part] * WAY_WEIGHTS[way])
        self._add_title_bonus(analysed, scores)
        ranked = np.argsort(-scores, kind="stable")
        hits = []
        for number in ranked:
            if scores[number] <= 0 or len(hits) == limit:
                break
            procedure = self.procedures[number]
            if life_event and life_event not in procedure.life_events:
                continue
            if channel and not offers(procedure, channel):
                continue
            hits.append(Hit(procedure, float(scores[number])))
        return hits


def offers(procedure: Procedure, channel: str) -> bool:
    """Whether the procedure can be done online ("online") or through one channel."""
    if procedure.online.status not in ONLINE:
        return False
    return channel == "online" or Channel[channel] in procedure.online.channels


CHANNEL_NAMES = {"online": "オンラインでできる", **{
    c.name: c.value for c in Channel if c not in (Channel.none, Channel.other)}}
