"""What to answer: the one decision, made in one place for every question the bot gets.

In order:
1. an entry chosen by a button → that entry;
2. a generic question, a procedure (named, carried over from the conversation, or
   clearly hinted at by its keywords) and a topic and nothing more → the topic section;
3. a Q&A entry that answers the question well enough (knowledge/qa_index.py; the
   procedure's entries first, then all) → the entry;
4. a service the knowledge base has no procedure for, named more fully than any
   procedure (障害者手帳, 住民税の納付書) → its department;
5. a life event with no procedure named → its checklist;
6. a specific question about a procedure: the procedure's notes answer it → the topic
   section with them; nothing does → say so, with the department to ask;
7. otherwise the intent decides: a greeting, out of scope, or which procedure was meant.

"Generic" is judged by the words left once the procedure's own names and the phrasing of
the training data's topic questions (data/nlu/: 「ネットでできますか」「何が必要」) are
taken away: what is left is what the question is specifically about.
"""
from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple

import yaml
from sqlalchemy.orm import Session

from bot.nlu.normalise import fold, fold_key
from bot.nlu.subject import longest_matches, primary_procedure
from bot.nlu.sudachi import SPLIT_MODES, sudachi_pool
from knowledge.answers import RELATED_ENTRIES, TOPIC_INTENT, matching_notes
from knowledge.qa_index import UNCALIBRATED, Calibration, QaIndex
from knowledge.queries import (content_hash_of, get_departments, get_entries, get_entry,
                               get_procedure, keyword_owners, qa_calibration)
from knowledge.schema import Department, Procedure, QaEntry
from knowledge.search import CONTENT_POS, analyse

ROOT = Path(__file__).resolve().parents[1]
# Training files whose examples are topic questions about a procedure (not small talk
# or out-of-scope requests).
TOPIC_DATA = ("online", "documents", "deadline", "fee", "where", "proxy", "overview",
              "compute_deadline", "life_events")
INTENT_TOPIC = {intent: topic for topic, intent in TOPIC_INTENT.items()}
CANDIDATE_MIN_SHARE = 0.5
# Words of time, self and reference that say nothing of what is asked (「来月ほかの市に」).
FILLER = frozenset("他 外 今 今度 来月 先月 今月 来年 今年 去年 昨年 昨日 今日 明日 先週 来週 今週 "
                   "私 僕 自分 方 件 事 物 時 所 前 後 ところ".split())


@dataclass
class Decision:
    """What the bot answers; ``kind`` names it, the other fields what it needs."""

    kind: str  # entry | topic | no_answer | unknown_service | life_event | clarify_topic
    #            | clarify_procedure | greeting | out_of_scope
    topic: str = "overview"
    procedure: Optional[Procedure] = None
    entry: Optional[QaEntry] = None
    related: List[QaEntry] = field(default_factory=list)
    department: Optional[Department] = None
    service: Optional[str] = None
    life_event: Optional[str] = None
    whole_checklist: bool = False  # the life event's whole checklist, not the first items
    candidates: List[str] = field(default_factory=list)
    specific: Tuple[str, ...] = ()  # the words the question is specifically about
    probability: Optional[float] = None


@dataclass(frozen=True)
class Message:
    """What the NLU made of the citizen's message, as the actions read it."""

    text: str
    intent: Optional[str]
    entities: Sequence[Dict[str, Any]]
    carried_procedure: Optional[str] = None

    def values(self, name: str) -> List[Dict[str, Any]]:
        return [e for e in self.entities if e.get("entity") == name]


@lru_cache(maxsize=1)
def generic_words() -> FrozenSet[str]:
    """Content words of the training data's topic questions: how citizens ask for a
    topic (ネット, 必要, 期限, いつまで …), not what a specific question is about."""
    words = set()
    for name in TOPIC_DATA:
        data = yaml.safe_load((ROOT / "data" / "nlu" / f"{name}.yml").read_text("utf-8"))
        for block in data.get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                words.update(analyse(line.strip().lstrip("- ")).words)
    return frozenset(words)


def specific_words(text: str, known: FrozenSet[str], pointing: FrozenSet[str] = frozenset()
                   ) -> Tuple[str, ...]:
    """The words of ``text`` that are neither in ``known`` nor generic: compounds whole,
    unless all their parts are known or generic. A word in ``pointing`` (another
    procedure's keyword: 有効期限 for マイナンバーカード) is specific even if the
    training data's topic questions use it."""
    cleaned = text.strip()
    if not cleaned:
        return ()
    tokenizer = sudachi_pool().tokenizer()
    ignore = known | generic_words() | FILLER
    left = []
    for morpheme in tokenizer.tokenize(cleaned, SPLIT_MODES["C"]):
        if morpheme.part_of_speech()[0] not in CONTENT_POS:
            continue
        if morpheme.part_of_speech()[1] in ("数詞", "固有名詞"):
            continue
        if fold_key(morpheme.surface()) in pointing or fold_key(morpheme.normalized_form()) in pointing:
            left.append(morpheme.normalized_form())
            continue
        if morpheme.normalized_form() in ignore:
            continue
        parts = [m.normalized_form() for m in morpheme.split(SPLIT_MODES["A"])
                 if m.part_of_speech()[0] in CONTENT_POS]
        if parts and all(p in ignore for p in parts):
            continue
        left.append(morpheme.normalized_form())
    return tuple(left)


def procedure_words(procedure: Procedure) -> FrozenSet[str]:
    """Words of the procedure's own names and keywords: naming it is not a question."""
    words = set()
    for text in (procedure.name, procedure.reading or "", *procedure.aliases, *procedure.keywords):
        words.update(analyse(text).words)
    return frozenset(words)


@lru_cache(maxsize=4096)
def _words_of(text: str) -> FrozenSet[str]:
    return frozenset(analyse(text).words)


def fact_words(procedure: Procedure) -> FrozenSet[str]:
    """Words of everything the procedure's record says (office, online, documents,
    deadline, fee, proxy, notes)."""
    return _words_of(procedure.json(ensure_ascii=False, exclude={"sources", "id"}))


class Knowledge:
    """The Q&A index and departments of one build of the knowledge base, rebuilt when
    the database's content hash changes (a rebuilt file is used at the next message)."""

    _lock = threading.Lock()
    _cached: Dict[str, "Knowledge"] = {}

    def __init__(self, session: Session) -> None:
        stored = qa_calibration(session)
        self.index = QaIndex(get_entries(session),
                             Calibration.from_json(stored) if stored else UNCALIBRATED)
        self.departments = {d.id: d for d in get_departments(session)}
        self.services = {fold_key(word): d.id for d in self.departments.values()
                         for word in d.services if fold_key(word)}
        self.keywords = keyword_owners(session)

    def keywords_except(self, procedure_id: str) -> FrozenSet[str]:
        """The folded keywords of the other procedures."""
        return frozenset(k for k, owners in self.keywords.items() if owners != {procedure_id})

    @classmethod
    def of(cls, session: Session) -> "Knowledge":
        digest = content_hash_of(session) or ""
        with cls._lock:
            if digest not in cls._cached:
                cls._cached = {digest: cls(session)}
            return cls._cached[digest]

    def service_in(self, text: str, procedure_span: Optional[Tuple[int, int]]
                   ) -> Optional[Tuple[str, Department]]:
        """A service word in ``text`` that is not just a procedure's name: none named,
        or the service's words cover the procedure's (住民税の納付書 ⊃ 住民税)."""
        folded = fold(text)
        for start, end, department_id in sorted(
                longest_matches(folded.text, self.services), key=lambda m: m[0] - m[1]):
            start, end = folded.span(start, end)
            if procedure_span is None or (start <= procedure_span[0]
                                          and procedure_span[1] <= end):
                return text[start:end], self.departments[department_id]
        return None


def decide(session: Session, message: Message, today: dt.date) -> Decision:
    """The one decision of what to answer; see the module docstring for the order."""
    knowledge = Knowledge.of(session)
    topic = INTENT_TOPIC.get(message.intent or "", "overview")
    chosen = message.values("qa_entry")
    if chosen:
        entry = get_entry(session, str(chosen[0].get("value")))
        if entry is not None and entry.valid_on(today):
            return _entry_decision(session, knowledge, entry, None)
    named = message.values("procedure")
    procedure_id = primary_procedure(message.text, named)
    span = next(((e.get("start", 0), e.get("end", 0)) for e in named
                 if e.get("value") == procedure_id), None)
    service = knowledge.service_in(message.text, span)
    events = message.values("life_event")
    subject = procedure_id or message.carried_procedure
    weak = message.values("procedure_candidate")
    if subject is None and weak and weak[0].get("confidence_entity", 0) > CANDIDATE_MIN_SHARE:
        subject = weak[0]["value"]
    procedure = get_procedure(session, subject) if subject and service is None else None
    specific = (specific_words(message.text, procedure_words(procedure),
                               knowledge.keywords_except(procedure.id))
                if procedure else specific_words(message.text, frozenset()))
    if procedure is not None and not specific and message.intent in TOPIC_INTENT.values():
        return Decision("topic", topic, procedure=procedure)
    # An entry answers a specific question: words that only ask for a topic
    # (「証明書がほしい」) are not matched to one.
    candidate = knowledge.index.best(message.text, subject, today) if specific else None
    if candidate is not None and (service is None
                                  or candidate.entry.department == service[1].id):
        return _entry_decision(session, knowledge, candidate.entry, candidate.probability)
    if service is not None:
        return Decision("unknown_service", topic, service=service[0], department=service[1])
    if procedure_id is None and events and (message.intent == "life_event" or subject is None):
        return _life_event(message, topic, events[0]["value"])
    if procedure is None:
        return _nothing_named(message, topic, [c["value"] for c in weak])
    if matching_notes(procedure, message.text):
        return Decision("topic", topic, procedure=procedure)
    # Words the procedure's own facts speak of (「他の市区町村から」「利用するには」) are
    # answered by its topic section; words they never use are a question it cannot answer.
    unexplained = tuple(w for w in specific if w not in fact_words(procedure))
    if not unexplained:
        if message.intent in TOPIC_INTENT.values() or message.intent == "life_event":
            return Decision("topic", topic, procedure=procedure)
        return Decision("clarify_topic", topic, procedure=procedure)
    return Decision("no_answer", topic, procedure=procedure,
                    department=knowledge.departments.get(procedure.department),
                    specific=unexplained)


def _entry_decision(session: Session, knowledge: Knowledge, entry: QaEntry,
                    probability: Optional[float]) -> Decision:
    procedure = get_procedure(session, entry.procedure) if entry.procedure else None
    department_id = procedure.department if procedure else entry.department
    return Decision("entry", "qa", procedure=procedure, entry=entry,
                    related=knowledge.index.related(entry, RELATED_ENTRIES),
                    department=knowledge.departments.get(department_id),
                    probability=probability)


def _life_event(message: Message, topic: str, event_id: str) -> Decision:
    whole = any(e.get("value") == "all" for e in message.values("checklist"))
    return Decision("life_event", topic, life_event=event_id, whole_checklist=whole)


def _nothing_named(message: Message, topic: str, candidates: List[str]) -> Decision:
    if message.intent == "greet":
        return Decision("greeting", topic)
    if message.intent == "out_of_scope":
        return Decision("out_of_scope", topic)
    return Decision("clarify_procedure", topic, candidates=candidates)
