"""Tables of the staff tool (SQLAlchemy 1.4, 2.0 style): the handoff queue, the
unanswered-question log and the audit log. SQLite by default (``STAFF_DB_URL``),
PostgreSQL in production. Conversations themselves stay in Rasa's tracker store; these
tables point into it by conversation id and event id.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Float, Integer, String, Text, create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class AuditRow(Base):
    """Who did what, when: logins, transcript views, claims, replies, exports."""

    __tablename__ = "staff_audit"
    id = Column(Integer, primary_key=True)
    at = Column(Float, nullable=False, index=True)  # Unix time
    staff = Column(String, nullable=False, index=True)
    action = Column(String, nullable=False)
    conversation_id = Column(String, index=True)
    detail = Column(Text)


class HandoffRow(Base):
    """A citizen asked for a person: waiting → claimed → closed (handed back)."""

    __tablename__ = "handoffs"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String, nullable=False, index=True)
    channel = Column(String)
    requested_at = Column(Float, nullable=False)
    request_event_id = Column(Integer, nullable=False, unique=True)
    status = Column(String, nullable=False, index=True)
    claimed_by = Column(String)
    claimed_at = Column(Float)
    closed_by = Column(String)
    closed_at = Column(Float)


class UnansweredRow(Base):
    """A citizen's message the bot could not answer well, one row per user event."""

    __tablename__ = "unanswered"
    id = Column(Integer, primary_key=True)
    event_id = Column(Integer, nullable=False, unique=True)  # the user event in the tracker
    conversation_id = Column(String, nullable=False)
    channel = Column(String)
    at = Column(Float, nullable=False, index=True)
    text = Column(Text, nullable=False)  # masked
    reason = Column(String, nullable=False)
    intent = Column(String)
    confidence = Column(Float)
    procedure_id = Column(String)  # linked by staff: what it should have matched
    linked_by = Column(String)


class PendingClarificationRow(Base):
    """The bot asked back (action_clarify); abandoned if no message follows in time."""

    __tablename__ = "pending_clarifications"
    user_event_id = Column(Integer, primary_key=True)
    conversation_id = Column(String, nullable=False)
    at = Column(Float, nullable=False)


class ScanStateRow(Base):
    """How far the tracker store has been read (the last event id seen)."""

    __tablename__ = "tracker_scan"
    key = Column(String, primary_key=True)
    value = Column(Integer, nullable=False)


def create_staff_engine(url: str) -> Engine:
    """The staff database, created with its tables when missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    Base.metadata.create_all(engine)
    return engine
