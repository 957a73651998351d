"""Reading Rasa's SQL tracker store (read-only): transcripts, and the scan that fills the
handoff queue and the unanswered-question log from what happened in conversations.

Rasa writes each event as a row of ``events`` (id, sender_id, type_name, timestamp,
intent_name, action_name, data as JSON). The scan reads the rows after the last one it
saw, so each poll of the staff tool costs only the new events:

- ``pause`` (``action_handoff`` on the widget or LINE) → a waiting handoff;
- a user message classified ``nlu_fallback`` / ``out_of_scope`` or with a confidence
  under ``LOW_CONFIDENCE`` → an unanswered entry;
- the bot asking back (which procedure, topic or date) with no user message within the
  abandon time → that question's entry becomes an abandoned clarification;
- the bot saying it has no answer (a specific question no Q&A entry answers, or a
  service the knowledge base lacks) → the question, marked no_answer;
- ``answer_unhelpful`` (👎) → the question answered before it, marked unhelpful.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, select
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from bot.privacy import mask_personal_data
from bot.staff.db import (HandoffRow, PendingClarificationRow, ScanStateRow,
                          UnansweredRow)
from knowledge.queries import read_only_engine

EVENTS = Table(
    "events", MetaData(),
    Column("id", Integer, primary_key=True), Column("sender_id", String),
    Column("type_name", String), Column("timestamp", Float),
    Column("intent_name", String), Column("action_name", String), Column("data", Text))

LOW_CONFIDENCE = 0.6
FEEDBACK_INTENTS = {"answer_helpful", "answer_unhelpful"}
# Weakest first: a stronger reason found later replaces a weaker one.
REASONS = ("out_of_scope", "low_confidence", "fallback", "abandoned_clarification",
           "no_answer", "unhelpful")
REASON_LABELS = {"out_of_scope": "対象外", "low_confidence": "確信度が低い",
                 "no_answer": "答えの情報がない",
                 "fallback": "理解できなかった", "abandoned_clarification": "聞き返しで離脱",
                 "unhelpful": "役に立たなかった(👎)"}
SCAN_BATCH = 5000
CURSOR = "events"


@dataclass(frozen=True)
class Line:
    """One line of a transcript, as staff see it."""

    id: int
    at: float
    speaker: str  # citizen, bot or staff
    text: str
    staff: Optional[str] = None


class TrackerReader:
    """Read-only access to the tracker store; an absent store reads as empty."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = read_only_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    def rows(self, query: Any) -> List[Row]:
        try:
            with self.engine.connect() as connection:
                return list(connection.execute(query))
        except (OperationalError, ProgrammingError):  # no conversation stored yet
            return []


def _data(row: Row) -> Dict[str, Any]:
    try:
        data = json.loads(row.data or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _masked(text: Any) -> str:
    return mask_personal_data(text).text if isinstance(text, str) else ""


def transcript(reader: TrackerReader, conversation_id: str, after_id: int = 0,
               limit: int = 500) -> List[Line]:
    """User and bot messages of a conversation in order, personal data masked."""
    query = (select(EVENTS).where(EVENTS.c.sender_id == conversation_id,
                                  EVENTS.c.type_name.in_(("user", "bot")),
                                  EVENTS.c.id > after_id)
             .order_by(EVENTS.c.id.desc()).limit(limit))
    lines = []
    for row in reversed(reader.rows(query)):
        data = _data(row)
        text = data.get("text")
        if row.type_name == "bot" and not text:
            custom = (data.get("data") or {}).get("custom") or {}
            text = f"[カード] {(custom.get('procedure') or {}).get('name', '')}".strip()
        staff = (data.get("metadata") or {}).get("staff")
        speaker = "citizen" if row.type_name == "user" else "staff" if staff else "bot"
        lines.append(Line(row.id, row.timestamp, speaker, _masked(text), staff))
    return lines


def latest_channel(reader: TrackerReader, conversation_id: str) -> Optional[str]:
    rows = reader.rows(select(EVENTS.c.data).where(
        EVENTS.c.sender_id == conversation_id, EVENTS.c.type_name == "user")
        .order_by(EVENTS.c.id.desc()).limit(1))
    return _data(rows[0]).get("input_channel") if rows else None


def _question_before(reader: TrackerReader, row: Row) -> Optional[Row]:
    """The citizen's last real question before ``row`` (not feedback, not a button)."""
    for candidate in reader.rows(select(EVENTS).where(
            EVENTS.c.sender_id == row.sender_id, EVENTS.c.type_name == "user",
            EVENTS.c.id < row.id).order_by(EVENTS.c.id.desc()).limit(20)):
        text = _data(candidate).get("text") or ""
        if candidate.intent_name not in FEEDBACK_INTENTS and not text.startswith("/"):
            return candidate
    return None


def _record(session: Session, row: Row, reason: str) -> None:
    """Add the user event as unanswered, or strengthen the reason it is there for."""
    existing = session.execute(select(UnansweredRow).where(
        UnansweredRow.event_id == row.id)).scalar_one_or_none()
    if existing is not None:
        if REASONS.index(reason) > REASONS.index(existing.reason):
            existing.reason = reason
        return
    data = _data(row)
    intent = (data.get("parse_data") or {}).get("intent") or {}
    session.add(UnansweredRow(
        event_id=row.id, conversation_id=row.sender_id, channel=data.get("input_channel"),
        at=row.timestamp, text=_masked(data.get("text")), reason=reason,
        intent=intent.get("name"), confidence=intent.get("confidence")))


def _user_event(session: Session, reader: TrackerReader, row: Row) -> None:
    data = _data(row)
    text = data.get("text") or ""
    confidence = ((data.get("parse_data") or {}).get("intent") or {}).get("confidence")
    if row.intent_name == "answer_unhelpful":
        question = _question_before(reader, row)
        if question is not None:
            _record(session, question, "unhelpful")
    elif text.startswith("/") or row.intent_name in FEEDBACK_INTENTS:
        return  # a button or 👍: not a question
    elif row.intent_name == "nlu_fallback":
        _record(session, row, "fallback")
    elif row.intent_name == "out_of_scope":
        _record(session, row, "out_of_scope")
    elif confidence is not None and confidence < LOW_CONFIDENCE:
        _record(session, row, "low_confidence")


def _handoff_event(session: Session, reader: TrackerReader, row: Row) -> None:
    open_handoff = session.execute(select(HandoffRow).where(
        HandoffRow.conversation_id == row.sender_id,
        HandoffRow.status != "closed")).scalar_one_or_none()
    if row.type_name == "pause" and open_handoff is None:
        session.add(HandoffRow(conversation_id=row.sender_id, request_event_id=row.id,
                               channel=latest_channel(reader, row.sender_id),
                               requested_at=row.timestamp, status="waiting"))
    elif row.type_name == "resume" and open_handoff is not None:
        by = (_data(row).get("metadata") or {}).get("by") or "bot"
        open_handoff.status, open_handoff.closed_at = "closed", row.timestamp
        open_handoff.closed_by = open_handoff.closed_by or by


def _settle_clarifications(session: Session, reader: TrackerReader, now: float,
                           abandon_after: float) -> None:
    for pending in session.execute(select(PendingClarificationRow)).scalars().all():
        answered = reader.rows(select(EVENTS.c.id).where(
            EVENTS.c.sender_id == pending.conversation_id, EVENTS.c.type_name == "user",
            EVENTS.c.id > pending.user_event_id).limit(1))
        if answered or now - pending.at >= abandon_after:
            if not answered:
                question = reader.rows(select(EVENTS).where(
                    EVENTS.c.id == pending.user_event_id))
                if question:
                    _record(session, question[0], "abandoned_clarification")
            session.delete(pending)


def marked(row: Row, mark: str) -> bool:
    """A bot message the actions marked (``knowledge.answers.Reply``): ``asks_back``
    when it asks which procedure, topic or date was meant, ``unanswered`` when it says
    it has no answer."""
    return bool((_data(row).get("metadata") or {}).get(mark))


def scan(session: Session, reader: TrackerReader, abandon_after: float = 600.0,
         now: Optional[float] = None) -> int:
    """Read the events stored since the last scan; the number read."""
    state = session.get(ScanStateRow, CURSOR) or ScanStateRow(key=CURSOR, value=0)
    session.add(state)
    rows = reader.rows(select(EVENTS).where(EVENTS.c.id > state.value)
                       .order_by(EVENTS.c.id).limit(SCAN_BATCH))
    last_user: Dict[str, Row] = {}
    for row in rows:
        if row.type_name == "user":
            last_user[row.sender_id] = row
            _user_event(session, reader, row)
        elif row.type_name in ("pause", "resume"):
            _handoff_event(session, reader, row)
            session.flush()
        elif row.type_name == "bot" and marked(row, "unanswered"):
            question = last_user.get(row.sender_id) or _question_before(reader, row)
            if question is not None:
                _record(session, question, "no_answer")
        elif row.type_name == "bot" and marked(row, "asks_back"):
            question = last_user.get(row.sender_id) or _question_before(reader, row)
            if question is not None and session.get(PendingClarificationRow,
                                                    question.id) is None:
                session.add(PendingClarificationRow(user_event_id=question.id,
                                                    conversation_id=row.sender_id,
                                                    at=row.timestamp))
        session.flush()
        state.value = row.id
    _settle_clarifications(session, reader, time.time() if now is None else now,
                           abandon_after)
    session.commit()
    return len(rows)
