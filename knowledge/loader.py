"""Validate the curated YAML and load it into the database, all or nothing.

    python -m knowledge.loader [--db URL]   (default: KNOWLEDGE_DB_URL or var/knowledge.db)

Any error (unknown field, missing source, malformed date or URL, an alias two procedures
claim, a deadline rule without legal basis …) stops the build with messages naming the
file, the procedure and the field; the previous database stays as it was.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.config import load_settings
from bot.nlu.normalise import fold_key
from bot.nlu.subject import named_procedures
from knowledge.db import (AliasRow, Base, DepartmentRow, KeywordRow, LifeEventRow, MetaRow,
                          MunicipalityRow, ProcedureLifeEventRow, ProcedureRow, QaEntryRow,
                          SourceRow, make_engine)
from knowledge.qa_index import UNCALIBRATED, Calibration, QaIndex, Question, fit_calibration
from knowledge.question_words import QuestionWords
from knowledge.schema import (CalibrationFile, CalibrationQuestion, Department,
                              DepartmentFile, LifeEvent, LifeEventFile, Municipality,
                              Procedure, ProcedureFile, QaEntry, QaFile)

ROOT = Path(__file__).resolve().parent


class KnowledgeError(Exception):
    """The knowledge files are invalid; ``problems`` lists every message."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass
class Catalog:
    """Everything the knowledge files say, validated."""

    procedures: List[Procedure] = field(default_factory=list)
    life_events: List[LifeEvent] = field(default_factory=list)
    municipalities: List[Municipality] = field(default_factory=list)
    departments: List[Department] = field(default_factory=list)
    entries: List[QaEntry] = field(default_factory=list)
    origin: Dict[str, str] = field(default_factory=dict)  # procedure id -> file
    entry_origin: Dict[str, str] = field(default_factory=dict)  # entry id -> file
    calibration: List[Tuple[str, CalibrationQuestion]] = field(default_factory=list)  # file, q

    def alias_table(self) -> List[Tuple[str, str, str]]:
        """(folded key, procedure id, surface) for every name, reading and alias."""
        rows = []
        for procedure in self.procedures:
            seen = set()
            for surface in [procedure.name, procedure.reading, *procedure.aliases]:
                if not surface:
                    continue
                key = fold_key(surface)
                if key and key not in seen:
                    seen.add(key)
                    rows.append((key, procedure.id, surface))
        return rows


def _read_yaml(path: Path, root: Path) -> Tuple[str, Any]:
    name = str(path.relative_to(root.parent)) if path.is_relative_to(root.parent) else str(path)
    try:
        return name, yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise KnowledgeError([f"{name}: not valid YAML: {error}"]) from error


def _describe(loc: Tuple[Any, ...], raw: Any, kind: str) -> str:
    """'procedure 'tennyu' (転入届): field 'deadline.rule.basis'' from a pydantic error path."""
    if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(raw, dict):
        items = raw.get(loc[0]) or []
        item = items[loc[1]] if loc[1] < len(items) and isinstance(items[loc[1]], dict) else {}
        label = f"{kind} '{item.get('id', f'#{loc[1] + 1}')}'"
        if item.get("name"):
            label += f" ({item['name']})"
        path = ".".join(str(part) for part in loc[2:]) or "(whole entry)"
        return f"{label}: field '{path}'"
    return f"field '{'.'.join(str(part) for part in loc)}'"


def _validate(model: type, name: str, raw: Any, kind: str) -> Optional[BaseModel]:
    try:
        return model.parse_obj(raw)
    except ValidationError as error:
        raise KnowledgeError(
            [f"{name}: {_describe(e['loc'], raw, kind)}: {e['msg']}" for e in error.errors()]
        ) from error


def _read_items(root: Path, folder: str, model: type, kind: str, field: str,
                origin: Dict[str, str], problems: List[str]) -> List[Any]:
    """Every item of every file in ``folder``, validated; an id used twice is a problem."""
    items = []
    for path in sorted((root / folder).glob("*.yaml")):
        try:
            name, raw = _read_yaml(path, root)
            parsed = _validate(model, name, raw, kind)
        except KnowledgeError as error:
            problems.extend(error.problems)
            continue
        for item in getattr(parsed, field):
            if item.id in origin:
                problems.append(f"{name}: {kind} '{item.id}': field 'id': "
                                f"already used in {origin[item.id]}")
                continue
            origin[item.id] = name
            items.append(item)
    return items


def _read_file(root: Path, file: str, model: type, kind: str, field: str,
               problems: List[str]) -> List[Any]:
    try:
        name, raw = _read_yaml(root / file, root)
        return getattr(_validate(model, name, raw, kind), field)
    except (KnowledgeError, FileNotFoundError) as error:
        problems.extend(getattr(error, "problems", [f"{root / file}: missing"]))
        return []


def load_catalog(root: Path = ROOT) -> Catalog:
    """Read and validate every knowledge file under ``root``; raise KnowledgeError."""
    catalog = Catalog()
    problems: List[str] = []
    if not list((root / "procedures").glob("*.yaml")):
        raise KnowledgeError([f"{root / 'procedures'}: no procedure files found"])
    catalog.procedures = _read_items(root, "procedures", ProcedureFile, "procedure",
                                     "procedures", catalog.origin, problems)
    catalog.entries = _read_items(root, "qa", QaFile, "entry", "entries", catalog.entry_origin,
                                  problems)
    for path in sorted((root / "qa_calibration").glob("*.yaml")):
        try:
            name, raw = _read_yaml(path, root)
            parsed = _validate(CalibrationFile, name, raw, "question")
        except KnowledgeError as error:
            problems.extend(error.problems)
            continue
        catalog.calibration.extend((name, question) for question in parsed.queries)
    catalog.departments = _read_file(root, "departments.yaml", DepartmentFile, "department",
                                     "departments", problems)
    catalog.life_events = _read_file(root, "life_events.yaml", LifeEventFile, "life event",
                                     "life_events", problems)
    for path in sorted((root / "municipalities").glob("*.yaml")):
        try:
            name, raw = _read_yaml(path, root)
            catalog.municipalities.append(_validate(Municipality, name, raw, "municipality"))
        except KnowledgeError as error:
            problems.extend(error.problems)
    if not problems:
        problems.extend(_cross_check(catalog))
    if problems:
        raise KnowledgeError(problems)
    return catalog


def _cross_check(catalog: Catalog) -> List[str]:
    """Rules that span entries: unique aliases, known references."""
    problems = []
    owner: Dict[str, Tuple[str, str]] = {}
    for key, procedure_id, surface in catalog.alias_table():
        if key in owner and owner[key][0] != procedure_id:
            other_id, other_surface = owner[key]
            problems.append(
                f"{catalog.origin[procedure_id]}: procedure '{procedure_id}': field 'aliases': "
                f"{surface!r} is also an alias of '{other_id}' ({other_surface!r}, "
                f"{catalog.origin[other_id]})")
        owner.setdefault(key, (procedure_id, surface))
    known_events = {event.id for event in catalog.life_events}
    known = set(catalog.origin)
    for procedure in catalog.procedures:
        where = f"{catalog.origin[procedure.id]}: procedure '{procedure.id}'"
        for event in procedure.life_events:
            if event not in known_events:
                problems.append(f"{where}: field 'life_events': unknown life event {event!r}")
        for other in procedure.related:
            if other not in known:
                problems.append(f"{where}: field 'related': unknown procedure {other!r}")
    for event in catalog.life_events:
        for procedure_id in event.deadline_procedures:
            where = f"knowledge/life_events.yaml: life event '{event.id}'"
            if procedure_id not in known:
                problems.append(f"{where}: field 'deadline_procedures': "
                                f"unknown procedure {procedure_id!r}")
            elif not next(p for p in catalog.procedures if p.id == procedure_id).deadline:
                problems.append(f"{where}: field 'deadline_procedures': "
                                f"{procedure_id!r} has no deadline")
    departments = {department.id for department in catalog.departments}
    for procedure in catalog.procedures:
        if procedure.department not in departments:
            problems.append(f"{catalog.origin[procedure.id]}: procedure '{procedure.id}': "
                            f"field 'department': unknown department {procedure.department!r}")
    for entry in catalog.entries:
        where = f"{catalog.entry_origin[entry.id]}: entry '{entry.id}'"
        if entry.procedure and entry.procedure not in known:
            problems.append(f"{where}: field 'procedure': unknown procedure {entry.procedure!r}")
        if entry.department and entry.department not in departments:
            problems.append(f"{where}: field 'department': "
                            f"unknown department {entry.department!r}")
    for name, question in catalog.calibration:
        if question.entry is not None and question.entry not in catalog.entry_origin:
            problems.append(f"{name}: question {question.text!r}: field 'entry': "
                            f"unknown entry {question.entry!r}")
    for municipality in catalog.municipalities:
        where = f"knowledge/municipalities: municipality '{municipality.id}'"
        for procedure_id in [*municipality.pittari, *municipality.overrides]:
            if procedure_id not in known:
                problems.append(f"{where}: unknown procedure {procedure_id!r}")
        for department_id in municipality.departments:
            if department_id not in departments:
                problems.append(f"{where}: field 'departments': "
                                f"unknown department {department_id!r}")
    return problems


def content_hash(root: Path = ROOT) -> str:
    """Hash of every knowledge data file, the database schema and the Q&A matcher, to
    tell when the database is stale."""
    digest = hashlib.sha256()
    # The tables, and the matcher whose calibration is fitted into the database.
    for code in ("db.py", "qa_index.py", "question_words.py", "search.py"):
        digest.update(Path(__file__).with_name(code).read_bytes())
    for path in sorted(root.rglob("*.yaml")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def calibration_questions(catalog: Catalog) -> List[Question]:
    """Each calibration question with the procedure it names and its focus words, as the
    bot would find them."""
    aliases = {key: procedure_id for key, procedure_id, _ in catalog.alias_table()}
    procedures = {procedure.id: procedure for procedure in catalog.procedures}
    words = QuestionWords(catalog.procedures, catalog.life_events)
    questions = []
    for _, question in catalog.calibration:
        named = named_procedures(question.text, aliases)
        primary = procedures.get(named[0]) if named else None
        focus = words.focus(question.text, primary)
        questions.append((question.text, question.entry, words.pools(focus, primary, named),
                          focus))
    return questions


def calibrate(catalog: Catalog, today: dt.date) -> Tuple[Calibration, Dict[str, float]]:
    """Fit the Q&A matcher's calibration on the calibration questions."""
    return fit_calibration(QaIndex(catalog.entries), calibration_questions(catalog), today)


def _insert(session: Session, catalog: Catalog, digest: str,
            calibration: Dict[str, object]) -> None:
    for event in catalog.life_events:
        session.add(LifeEventRow(id=event.id, name=event.name, record=event.json()))
    for order, procedure in enumerate(catalog.procedures):
        session.add(ProcedureRow(
            id=procedure.id, name=procedure.name, reading=procedure.reading,
            office=procedure.office, online_status=procedure.online.status.value,
            has_deadline_rule=bool(procedure.deadline and procedure.deadline.rule),
            record=procedure.json(ensure_ascii=False)))
        for event in procedure.life_events:
            session.add(ProcedureLifeEventRow(procedure_id=procedure.id, life_event_id=event,
                                              position=order))
        for source in procedure.sources:
            session.add(SourceRow(procedure_id=procedure.id, url=source.url,
                                  title=source.title, checked=source.checked))
        for keyword in {fold_key(k) for k in procedure.keywords}:
            session.add(KeywordRow(key=keyword, procedure_id=procedure.id))
    session.flush()
    for key, procedure_id, surface in catalog.alias_table():
        session.add(AliasRow(key=key, surface=surface, procedure_id=procedure_id))
    for department in catalog.departments:
        session.add(DepartmentRow(id=department.id, name=department.name,
                                  record=department.json(ensure_ascii=False)))
    for position, entry in enumerate(catalog.entries):
        session.add(QaEntryRow(id=entry.id, procedure_id=entry.procedure,
                               department_id=entry.department, position=position,
                               record=entry.json(ensure_ascii=False)))
    session.add(MetaRow(key="qa_calibration", value=json.dumps(calibration)))
    for municipality in catalog.municipalities:
        session.add(MunicipalityRow(id=municipality.id, name=municipality.name,
                                    sample=municipality.sample,
                                    record=municipality.json(ensure_ascii=False)))
    session.add(MetaRow(key="content_hash", value=digest))


def build_database(catalog: Catalog, url: str, digest: str,
                   calibration: Optional[Calibration] = None) -> None:
    """Replace the database's contents with ``catalog`` so readers never see half of it."""
    stored = (calibration or UNCALIBRATED).to_json()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        target = Path(parsed.database)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(suffix=".db", dir=target.parent)
        os.close(handle)
        try:
            _build_into(catalog, f"sqlite:///{temporary}", digest, stored)
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return
    _build_into(catalog, url, digest, stored)


def _build_into(catalog: Catalog, url: str, digest: str, calibration: Dict[str, object]
                ) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            Base.metadata.drop_all(connection)
            Base.metadata.create_all(connection)
            with Session(bind=connection, future=True) as session:
                _insert(session, catalog, digest, calibration)
                session.flush()
    finally:
        engine.dispose()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=load_settings().knowledge_db_url)
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    try:
        catalog = load_catalog(args.root)
    except KnowledgeError as error:
        print("knowledge base NOT built:", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    calibration, report = calibrate(catalog, dt.date.today())
    build_database(catalog, args.db, content_hash(args.root), calibration)
    print(f"knowledge base built: {len(catalog.procedures)} procedures, "
          f"{len(catalog.alias_table())} aliases, {len(catalog.entries)} Q&A entries, "
          f"{len(catalog.departments)} departments, {len(catalog.life_events)} life events, "
          f"{len(catalog.municipalities)} municipalities -> {args.db}")
    print(f"Q&A matcher calibrated on {report.get('questions', 0)} questions: "
          + ", ".join(f"{k} {v}" for k, v in report.items() if k != "questions"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
