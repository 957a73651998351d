"""Where the knowledge is thin, for a reviewer: per procedure its Q&A entries, its
sources (official ones, the oldest checked date, all its entries' sources included) and
the facts it does not know from an official page. ``make report`` prints it, thinnest
first; ``python -m knowledge.report --csv`` writes the same rows as CSV.
"""
from __future__ import annotations

import csv
import datetime as dt
import sys
from dataclasses import dataclass
from typing import List, Sequence, TextIO, Tuple

from knowledge.loader import Catalog, load_catalog
from knowledge.schema import OnlineStatus, Procedure, Source, is_official_host


@dataclass(frozen=True)
class Row:
    procedure: str
    name: str
    entries: int
    sources: int
    official: int
    oldest_checked: dt.date
    unknown: Tuple[str, ...]  # facts not known from an official page


COLUMNS = ("procedure", "name", "entries", "sources", "official", "oldest_checked", "unknown")


def unknown_facts(procedure: Procedure) -> Tuple[str, ...]:
    """The sections the bot has to say it does not know."""
    missing = []
    if procedure.online.status == OnlineStatus.unknown:
        missing.append("online")
    if not procedure.documents:
        missing.append("documents")
    if procedure.deadline is None:
        missing.append("deadline")
    if procedure.fee is None:
        missing.append("fee")
    if procedure.proxy is None:
        missing.append("proxy")
    return tuple(missing)


def rows(catalog: Catalog) -> List[Row]:
    """One row per procedure, thinnest first (fewest entries, then most unknown facts)."""
    out = []
    for procedure in catalog.procedures:
        entries = [e for e in catalog.entries if e.procedure == procedure.id]
        sources: List[Source] = list(procedure.sources) + [s for e in entries for s in e.sources]
        urls = {s.url for s in sources}
        out.append(Row(procedure.id, procedure.name, len(entries), len(urls),
                       sum(is_official_host(u) for u in urls),
                       min(s.checked for s in sources), unknown_facts(procedure)))
    return sorted(out, key=lambda r: (r.entries, -len(r.unknown), r.procedure))


def write_csv(table: Sequence[Row], out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for r in table:
        writer.writerow([r.procedure, r.name, r.entries, r.sources, r.official,
                         r.oldest_checked.isoformat(), " ".join(r.unknown)])


def write_text(catalog: Catalog, table: Sequence[Row], out: TextIO) -> None:
    for r in table:
        unknown = ",".join(r.unknown) or "-"
        out.write(f"{r.procedure:28} entries {r.entries:3}  sources {r.sources:2} "
                  f"(official {r.official:2})  oldest {r.oldest_checked}  unknown {unknown}"
                  f"  {r.name}\n")
    departments = [e for e in catalog.entries if e.procedure is None]
    out.write(f"{len(table)} procedures, {len(catalog.entries)} Q&A entries "
              f"({len(departments)} attached to a department, not a procedure); "
              f"{sum(1 for r in table if not r.entries)} procedures have no entry\n")


def main(argv: Sequence[str]) -> int:
    catalog = load_catalog()
    table = rows(catalog)
    if "--csv" in argv:
        write_csv(table, sys.stdout)
    else:
        write_text(catalog, table, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
