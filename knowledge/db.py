"""Database tables for the knowledge base (SQLAlchemy 1.4, 2.0 style).

Searchable columns (names, aliases, life events, sources) get their own tables; the
validated record of each procedure is also kept whole as JSON, so answers are composed
from exactly what the reviewed YAML said.
"""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, Date, ForeignKey, Index, Integer, String, Text,
                        create_engine)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class ProcedureRow(Base):
    __tablename__ = "procedures"
    id = Column(String, primary_key=True)
    name = Column(String, nullable=False)
    reading = Column(String)
    office = Column(Text, nullable=False)
    online_status = Column(String, nullable=False)
    has_deadline_rule = Column(Boolean, nullable=False)
    record = Column(Text, nullable=False)  # the validated Procedure as JSON


class AliasRow(Base):
    __tablename__ = "aliases"
    key = Column(String, primary_key=True)  # folded form, unique across procedures
    surface = Column(String, nullable=False)
    procedure_id = Column(String, ForeignKey("procedures.id"), nullable=False, index=True)


class KeywordRow(Base):
    __tablename__ = "keywords"
    id = Column(Integer, primary_key=True)
    key = Column(String, nullable=False, index=True)
    procedure_id = Column(String, ForeignKey("procedures.id"), nullable=False)


class LifeEventRow(Base):
    __tablename__ = "life_events"
    id = Column(String, primary_key=True)
    name = Column(String, nullable=False)
    record = Column(Text, nullable=False)


class ProcedureLifeEventRow(Base):
    __tablename__ = "procedure_life_events"
    # Checklists are read by life event in file order: without this index a 75,000-
    # procedure base scans the whole table (see bench/kb_scale.py).
    __table_args__ = (Index("ix_procedure_life_events_checklist", "life_event_id", "position"),)
    procedure_id = Column(String, ForeignKey("procedures.id"), primary_key=True)
    life_event_id = Column(String, ForeignKey("life_events.id"), primary_key=True)
    position = Column(Integer, nullable=False)  # the procedure's order in the files


class SourceRow(Base):
    __tablename__ = "sources"
    id = Column(Integer, primary_key=True)
    procedure_id = Column(String, ForeignKey("procedures.id"), nullable=False, index=True)
    url = Column(Text, nullable=False)
    title = Column(Text, nullable=False)
    checked = Column(Date, nullable=False)


class DepartmentRow(Base):
    __tablename__ = "departments"
    id = Column(String, primary_key=True)
    name = Column(String, nullable=False)
    record = Column(Text, nullable=False)  # the validated Department as JSON


class QaEntryRow(Base):
    __tablename__ = "qa_entries"
    id = Column(String, primary_key=True)
    procedure_id = Column(String, ForeignKey("procedures.id"), index=True)
    department_id = Column(String, ForeignKey("departments.id"), index=True)
    position = Column(Integer, nullable=False)  # the entry's order in the files
    record = Column(Text, nullable=False)  # the validated QaEntry as JSON


class MunicipalityRow(Base):
    __tablename__ = "municipalities"
    id = Column(String, primary_key=True)
    name = Column(String, nullable=False)
    sample = Column(Boolean, nullable=False)
    record = Column(Text, nullable=False)


class MetaRow(Base):
    __tablename__ = "kb_meta"
    key = Column(String, primary_key=True)
    value = Column(Text, nullable=False)


def make_engine(url: str) -> Engine:
    """An engine in SQLAlchemy 2.0 mode."""
    return create_engine(url, future=True)
