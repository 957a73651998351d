"""Read queries over the knowledge base: plain functions that take the session first."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Dict, List, Optional, Type, TypeVar

from pydantic import BaseModel
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from knowledge.db import (DepartmentRow, LifeEventRow, MetaRow, MunicipalityRow,
                          ProcedureLifeEventRow, ProcedureRow, QaEntryRow, make_engine)
from knowledge.schema import Department, LifeEvent, Municipality, Procedure, QaEntry


M = TypeVar("M", bound=BaseModel)


class KnowledgeBaseUnavailable(Exception):
    """The knowledge database is missing, unreadable or empty; the message names it."""


def sqlite_path(url: str) -> Optional[Path]:
    """The file of an SQLite URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def read_only_engine(url: str) -> Engine:
    """SQLite files are opened read-only, so a missing file is an error rather than
    a new empty database; other databases as they are."""
    path = sqlite_path(url)
    if path is None:
        return make_engine(url)
    # A new connection per session: a rebuilt (atomically replaced) file is read at once.
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return create_engine("sqlite://", future=True, poolclass=NullPool,
                         creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False))


class KnowledgeBase:
    """A read-only engine on the built knowledge database; one short session per use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = read_only_engine(url)

    def session(self) -> Session:
        return Session(self.engine, future=True)

    def close(self) -> None:
        self.engine.dispose()


def get_procedure(session: Session, procedure_id: str) -> Optional[Procedure]:
    row = session.get(ProcedureRow, procedure_id)
    return Procedure.parse_raw(row.record) if row else None


def get_procedures(session: Session, procedure_ids: List[str]) -> List[Procedure]:
    """The procedures with these ids, in the order asked for; unknown ids skipped."""
    rows = session.execute(select(ProcedureRow).where(ProcedureRow.id.in_(procedure_ids)))
    by_id = {row.id: Procedure.parse_raw(row.record) for row in rows.scalars()}
    return [by_id[i] for i in procedure_ids if i in by_id]


def procedures_for_life_event(session: Session, life_event_id: str,
                              limit: Optional[int] = None) -> List[Procedure]:
    """The checklist for a life event, in the order the knowledge files list them."""
    statement = (
        select(ProcedureRow)
        .join(ProcedureLifeEventRow, ProcedureLifeEventRow.procedure_id == ProcedureRow.id)
        .where(ProcedureLifeEventRow.life_event_id == life_event_id)
        .order_by(ProcedureLifeEventRow.position, ProcedureRow.id)
        .limit(limit)
    )
    return [Procedure.parse_raw(row.record) for row in session.execute(statement).scalars()]


def count_procedures_for_life_event(session: Session, life_event_id: str) -> int:
    return session.scalar(select(func.count()).select_from(ProcedureLifeEventRow)
                          .where(ProcedureLifeEventRow.life_event_id == life_event_id))


def get_life_event(session: Session, life_event_id: str) -> Optional[LifeEvent]:
    row = session.get(LifeEventRow, life_event_id)
    return LifeEvent.parse_raw(row.record) if row else None


def get_municipality(session: Session, municipality_id: str) -> Optional[Municipality]:
    row = session.get(MunicipalityRow, municipality_id)
    return Municipality.parse_raw(row.record) if row else None


def _records(session: Session, column: Any, order: Any, model: Type[M]) -> List[M]:
    """Every validated record of a table, as its model, in ``order``."""
    return [model.parse_raw(record)
            for record in session.execute(select(column).order_by(order)).scalars()]


def get_entries(session: Session) -> List[QaEntry]:
    """Every Q&A entry, in file order (the matcher filters by date itself)."""
    return _records(session, QaEntryRow.record, QaEntryRow.position, QaEntry)


def get_entry(session: Session, entry_id: str) -> Optional[QaEntry]:
    row = session.get(QaEntryRow, entry_id)
    return QaEntry.parse_raw(row.record) if row else None


def get_departments(session: Session) -> List[Department]:
    return _records(session, DepartmentRow.record, DepartmentRow.id, Department)


def get_department(session: Session, department_id: str) -> Optional[Department]:
    row = session.get(DepartmentRow, department_id)
    return Department.parse_raw(row.record) if row else None


def all_procedures(session: Session) -> List[Procedure]:
    return _records(session, ProcedureRow.record, ProcedureRow.id, Procedure)


def all_life_events(session: Session) -> List[LifeEvent]:
    return _records(session, LifeEventRow.record, LifeEventRow.id, LifeEvent)


def qa_calibration(session: Session) -> Optional[Dict[str, Any]]:
    """The Q&A matcher's calibration, fitted when the knowledge base was built."""
    row = session.get(MetaRow, "qa_calibration")
    return json.loads(row.value) if row else None


def content_hash_of(session: Session) -> Optional[str]:
    row = session.get(MetaRow, "content_hash")
    return row.value if row else None


def check_knowledge_base(kb: KnowledgeBase) -> int:
    """The number of procedures, or KnowledgeBaseUnavailable saying what is wrong and
    what to run; checked at start-up so a broken file stops the bot with a clear message."""
    path = sqlite_path(kb.url)
    where = str(path) if path else make_url(kb.url).render_as_string(hide_password=True)
    if path is not None and not path.is_file():
        raise KnowledgeBaseUnavailable(
            f"the knowledge base {where} does not exist: build it with `make kb`")
    try:
        with kb.session() as session:
            count = session.scalar(select(func.count()).select_from(ProcedureRow))
            built = content_hash_of(session)
    except SQLAlchemyError as error:
        raise KnowledgeBaseUnavailable(
            f"the knowledge base {where} cannot be read ({getattr(error, 'orig', None) or error}): "
            "rebuild it with `make kb`") from None
    if not count or not built:
        raise KnowledgeBaseUnavailable(
            f"the knowledge base {where} holds no procedures: rebuild it with `make kb`")
    return count
