"""Queries of the staff tool: plain functions that take the session first."""
from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.staff.db import AuditRow, HandoffRow, UnansweredRow
from bot.staff.tracker import REASON_LABELS, REASONS
from knowledge.search import words

# Two questions share a group when their content words overlap at least this much
# (Jaccard): 「住民票を取りたい」 and 「住民票 取りたいです」 do, 「住民票」 and 「戸籍」 do not.
GROUP_SIMILARITY = 0.5
MAX_GROUPED_ROWS = 20_000
EXAMPLES_PER_GROUP = 3


class Conflict(Exception):
    """The handoff is not in a state that allows this (already claimed, closed)."""


def audit(session: Session, staff: str, action: str, conversation_id: Optional[str] = None,
          detail: Optional[str] = None) -> None:
    session.add(AuditRow(at=time.time(), staff=staff, action=action,
                         conversation_id=conversation_id, detail=detail))


def handoffs(session: Session, include_closed: bool = False) -> List[HandoffRow]:
    """The queue, oldest request first (closed ones last, newest first)."""
    query = select(HandoffRow)
    if not include_closed:
        query = query.where(HandoffRow.status != "closed")
    rows = list(session.execute(query.order_by(HandoffRow.requested_at)).scalars())
    return sorted(rows, key=lambda r: (r.status == "closed",
                                       -r.requested_at if r.status == "closed" else r.requested_at))


def get_handoff(session: Session, handoff_id: int) -> Optional[HandoffRow]:
    return session.get(HandoffRow, handoff_id)


def claim_handoff(session: Session, handoff: HandoffRow, staff: str) -> None:
    if handoff.status != "waiting":
        raise Conflict(f"already {handoff.status}"
                       + (f" by {handoff.claimed_by}" if handoff.claimed_by else ""))
    handoff.status, handoff.claimed_by, handoff.claimed_at = "claimed", staff, time.time()


def close_handoff(session: Session, handoff: HandoffRow, staff: str) -> None:
    if handoff.status == "closed":
        raise Conflict("already handed back")
    handoff.status, handoff.closed_by, handoff.closed_at = "closed", staff, time.time()


@dataclass
class Group:
    """Similar unanswered questions, as one line of the list a municipality works through."""

    key: FrozenSet[str]
    rows: List[UnansweredRow] = field(default_factory=list)

    @property
    def id(self) -> int:
        return min(r.id for r in self.rows)

    @property
    def text(self) -> str:
        """The most frequent wording."""
        return Counter(r.text for r in self.rows).most_common(1)[0][0]

    @property
    def first_seen(self) -> float:
        return min(r.at for r in self.rows)

    @property
    def last_seen(self) -> float:
        return max(r.at for r in self.rows)

    @property
    def reasons(self) -> Dict[str, int]:
        counts = Counter(r.reason for r in self.rows)
        return {reason: counts[reason] for reason in reversed(REASONS) if counts[reason]}

    @property
    def procedure_id(self) -> Optional[str]:
        linked = Counter(r.procedure_id for r in self.rows if r.procedure_id)
        return linked.most_common(1)[0][0] if linked else None

    @property
    def examples(self) -> List[str]:
        return [text for text, _ in Counter(r.text for r in self.rows).most_common(
            EXAMPLES_PER_GROUP)]


def _similarity(a: FrozenSet[str], b: FrozenSet[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def group_rows(rows: Sequence[UnansweredRow]) -> List[Group]:
    """Greedy grouping by content words, most asked first."""
    groups: List[Group] = []
    by_text: Dict[str, Group] = {}
    for row in rows:
        group = by_text.get(row.text)
        if group is None:
            key = frozenset(words(row.text)) or frozenset([row.text])
            group = next((g for g in groups if _similarity(g.key, key) >= GROUP_SIMILARITY),
                         None)
            if group is None:
                group = Group(key)
                groups.append(group)
            by_text[row.text] = group
        group.rows.append(row)
    return sorted(groups, key=lambda g: (-len(g.rows), -g.last_seen))


def unanswered_groups(session: Session) -> List[Group]:
    rows = session.execute(select(UnansweredRow).order_by(UnansweredRow.at.desc())
                           .limit(MAX_GROUPED_ROWS)).scalars().all()
    return group_rows(list(reversed(rows)))


def link_group(session: Session, group_id: int, procedure_id: Optional[str],
               staff: str) -> Optional[Group]:
    """Link every question of the group to the procedure it should have matched."""
    group = next((g for g in unanswered_groups(session) if g.id == group_id), None)
    if group is not None:
        session.execute(update(UnansweredRow)
                        .where(UnansweredRow.id.in_([r.id for r in group.rows]))
                        .values(procedure_id=procedure_id, linked_by=staff))
    return group


def _local_time(at: float) -> str:
    return dt.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")


def _cell(value: object) -> object:
    """Citizens' text never becomes a spreadsheet formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def groups_csv(groups: Sequence[Group], names: Dict[str, str]) -> str:
    """One line per group; UTF-8 with BOM so that Excel opens the Japanese correctly."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["グループID", "代表的な質問", "件数", "初回", "最終", "理由",
                     "手続きID", "手続き名", "ほかの言い方"])
    for group in groups:
        writer.writerow([_cell(value) for value in [
            group.id, group.text, len(group.rows), _local_time(group.first_seen),
            _local_time(group.last_seen),
            " / ".join(f"{REASON_LABELS[r]} {n}" for r, n in group.reasons.items()),
            group.procedure_id or "", names.get(group.procedure_id or "", ""),
            " / ".join(e for e in group.examples if e != group.text)]])
    return out.getvalue()
