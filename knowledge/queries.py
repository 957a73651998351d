"""Read queries over the knowledge base: plain functions that take the session first."""
from __future__ import annotations

from typing import List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.db import (LifeEventRow, MetaRow, MunicipalityRow,
                          ProcedureLifeEventRow, ProcedureRow, make_engine)
from knowledge.schema import LifeEvent, Municipality, Procedure


class KnowledgeBase:
    """An engine on the built knowledge database; hand out one short session per use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

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


def procedures_for_life_event(session: Session, life_event_id: str) -> List[Procedure]:
    """The checklist for a life event, in the order the knowledge files list them."""
    statement = (
        select(ProcedureRow)
        .join(ProcedureLifeEventRow, ProcedureLifeEventRow.procedure_id == ProcedureRow.id)
        .where(ProcedureLifeEventRow.life_event_id == life_event_id)
        .order_by(ProcedureLifeEventRow.position, ProcedureRow.id)
    )
    return [Procedure.parse_raw(row.record) for row in session.execute(statement).scalars()]


def get_life_event(session: Session, life_event_id: str) -> Optional[LifeEvent]:
    row = session.get(LifeEventRow, life_event_id)
    return LifeEvent.parse_raw(row.record) if row else None


def get_municipality(session: Session, municipality_id: str) -> Optional[Municipality]:
    row = session.get(MunicipalityRow, municipality_id)
    return Municipality.parse_raw(row.record) if row else None


def content_hash_of(session: Session) -> Optional[str]:
    row = session.get(MetaRow, "content_hash")
    return row.value if row else None
