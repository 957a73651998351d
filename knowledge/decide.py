"""What to answer: the one decision, made in one place for every question the bot gets.

In order:
1. an entry chosen by a button → that entry;
2. a generic question, a procedure (named, carried over from the conversation, or
   clearly hinted at by its keywords) and a topic and nothing more → the topic section;
3. a Q&A entry that answers the question well enough (knowledge/qa_index.py; among the
   named procedures' entries and among all) → the entry;
4. a service the knowledge base has no procedure for, named more fully than any
   procedure (ヘルプマーク, 国民健康保険税) → its department;
5. a life event with no procedure named → its checklist;
6. a specific question about a procedure: the procedure's notes answer it, or the words
   are ones its facts speak of, and no entry of another procedure comes near → the topic
   section (with the notes); nothing does → say so, with the department to ask;
7. otherwise the intent decides: a greeting, out of scope, or which procedure was meant.

"Generic" is judged by the words left once the procedure's own names and the phrasing of
the training data's topic questions are taken away (knowledge/question_words.py).
"""
from __future__ import annotations

import datetime as dt
import re
import threading
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple

from sqlalchemy.orm import Session

from bot.nlu.normalise import fold, fold_key
from bot.nlu.subject import longest_matches, primary_procedure
from bot.privacy import MASK
from knowledge.answers import RELATED_ENTRIES, TOPIC_INTENT, matching_notes
from knowledge.qa_index import UNCALIBRATED, Calibration, QaIndex
from knowledge.queries import (all_life_events, all_procedures, content_hash_of,
                               get_departments, get_entries, get_entry, get_procedure,
                               qa_calibration)
from knowledge.schema import Department, Note, Procedure, QaEntry
from knowledge.question_words import QuestionWords, focus_share
from knowledge.search import analyse

INTENT_TOPIC = {intent: topic for topic, intent in TOPIC_INTENT.items()}
CANDIDATE_MIN_SHARE = 0.5
CLAUSE = re.compile(r"[、。,.!?！？\n]")
# Entries offered as buttons when none is likely enough to answer with: at most this
# many, each at least this likely to be the one meant.
SUGGESTIONS = 2
SUGGEST_MIN_PROBABILITY = 0.3
# A note answers a specific question when it speaks of at least this share of its words.
NOTE_MIN_COVER = 0.5
# A word at least this many entries use is an ordinary way of asking, not a specific point.
COMMON_IN_ENTRIES = 5


@dataclass
class Decision:
    """What the bot answers; ``kind`` names it, the other fields what it needs."""

    kind: str  # entry | topic | no_answer | unknown_service | life_event | clarify_topic
    #            | clarify_procedure | greeting | out_of_scope (see decide())
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
        self.words = QuestionWords(all_procedures(session), all_life_events(session))
        self._facts: Dict[str, FrozenSet[str]] = {}

    def fact_words(self, procedure: Procedure) -> FrozenSet[str]:
        """Words of everything the procedure's record says (office, online, documents,
        deadline, fee, proxy, notes): what its sections can speak to."""
        if procedure.id not in self._facts:
            record = procedure.json(ensure_ascii=False, exclude={"sources", "id", "related"})
            self._facts[procedure.id] = frozenset(analyse(record).words)
        return self._facts[procedure.id]

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
    question = question_part(message.text)
    specific = knowledge.words.focus(question, procedure)
    if procedure is not None and not specific and message.intent in TOPIC_INTENT.values():
        return Decision("topic", topic, procedure=procedure)
    # An entry answers a specific question: words that only ask for a topic
    # (「証明書がほしい」) are not matched to one.
    pools = knowledge.words.pools(specific, procedure,
                                  (subject, *(e.get("value") for e in named)))
    found = knowledge.index.candidates(question, pools, today, specific) if specific else []
    threshold = knowledge.index.calibration.threshold
    # With a service named, only an entry of the service's own department answers it.
    candidate = next((c for c in found if c.probability >= threshold and (
        service is None or _department_of(session, c.entry) == service[1].id)), None)
    if candidate is not None:
        return _entry_decision(session, knowledge, candidate.entry, candidate.probability)
    # Not likely enough to answer with, but worth offering as the question it may be.
    near = list({c.entry.id: c.entry for c in found
                 if c.probability >= SUGGEST_MIN_PROBABILITY}.values())[:SUGGESTIONS]
    if service is not None:
        return Decision("unknown_service", topic, service=service[0], department=service[1],
                        related=near)
    if procedure_id is None and events and (message.intent == "life_event" or subject is None):
        return _life_event(message, topic, events[0]["value"])
    if procedure is None:
        return _nothing_named(message, topic, [c["value"] for c in weak])
    # An entry of another procedure nearly likely enough says the question is a
    # specific one about something else (婚姻届 + 本人確認書類がないと → the entry on
    # 離婚届's identity check), not one this procedure's notes or sections answer.
    elsewhere = any(c.entry.procedure not in pools for c in found
                    if c.probability >= SUGGEST_MIN_PROBABILITY)
    # The procedure's notes answer a specific question when they speak of what it is
    # about (「婚姻届を出せば住所や世帯も変わりますか」: the note on 住所・世帯) and no entry
    # of another procedure comes near it.
    if all(entry.procedure == procedure.id for entry in near) and any(
            focus_share(specific, note_words(note)) >= NOTE_MIN_COVER
            for note in matching_notes(procedure, message.text)):
        return Decision("topic", topic, procedure=procedure)
    # Words the procedure's facts speak of (「他の市区町村から」「利用するには」), or that many
    # entries use (費用, 提出, 可能, 家族: ordinary ways of asking), are answered by its
    # topic section; a rare word it never uses (夫婦別姓) is a question it cannot answer.
    spoken = knowledge.fact_words(procedure)
    unexplained = tuple(w for w in specific if len(specific) > 2 or elsewhere or (
        w not in spoken and knowledge.index.entries_with(w) < COMMON_IN_ENTRIES))
    if not unexplained:
        if message.intent in TOPIC_INTENT.values() or message.intent == "life_event":
            return Decision("topic", topic, procedure=procedure)
        return Decision("clarify_topic", topic, procedure=procedure)
    return Decision("no_answer", topic, procedure=procedure,
                    department=knowledge.departments.get(procedure.department),
                    specific=unexplained, related=near)


def question_part(text: str) -> str:
    """The words that carry the question: not a button's payload (/ask_fee{…}), and not
    the clauses whose personal data the intake masked (「電話は＊＊＊＊」)."""
    if text.startswith("/"):
        return ""
    return "。".join(part for part in CLAUSE.split(text) if MASK not in part)


@lru_cache(maxsize=2048)
def _words(text: str) -> FrozenSet[str]:
    return frozenset(analyse(text).words)


def note_words(note: Note) -> FrozenSet[str]:
    return _words(" ".join([note.text, *note.keywords]))


def _department_of(session: Session, entry: QaEntry) -> Optional[str]:
    procedure = get_procedure(session, entry.procedure) if entry.procedure else None
    return procedure.department if procedure else entry.department


def _entry_decision(session: Session, knowledge: Knowledge, entry: QaEntry,
                    probability: Optional[float]) -> Decision:
    procedure = get_procedure(session, entry.procedure) if entry.procedure else None
    department_id = _department_of(session, entry)
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
