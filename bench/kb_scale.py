"""Knowledge-base scale: the shipped knowledge plus generated procedures up to the size of
the Digital Agency's 棚卸 survey (令和7年度: about 75,000 procedures), loaded into SQLite.

The survey cannot be downloaded here, so its shape is generated: per procedure a
ministry, a name, an online status (実施済 / 未実施 / 適用除外 / その他), attached
documents and, for a share of them, the personal life event it belongs to. Every
procedure goes through the same validation (pydantic schema) and database build as the
curated files; then the queries the actions run are timed on random keys.
"""
from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

from bench.harness import percentile
from bench.search_quality import search_queries
from knowledge.answers import CHECKLIST_LIMIT
from knowledge.loader import Catalog, build_database, load_catalog
from knowledge.queries import (KnowledgeBase, count_procedures_for_life_event, get_life_event,
                               get_municipality, get_procedure, get_procedures,
                               procedures_for_life_event)
from knowledge.schema import Procedure
from knowledge.search import SearchIndex

SURVEY_SIZE = 75_000
# Assumed shares (the survey's own figures are not on this machine): most procedures
# are for businesses; about one in eight has a personal life event.
PERSONAL_SHARE = 0.12
ONLINE_STATUS = [("できる", 0.55), ("できない", 0.35), ("自治体による", 0.05), ("不明", 0.05)]
MINISTRIES = ["内閣府", "総務省", "法務省", "財務省", "文部科学省", "厚生労働省", "農林水産省",
              "経済産業省", "国土交通省", "環境省", "デジタル庁", "金融庁", "警察庁"]
DOCUMENTS = ["申請書", "本人確認書類", "委任状", "登記事項証明書", "住民票の写し", "図面",
             "事業計画書", "収支予算書", "誓約書", "写真"]
QUERY_SAMPLES = 2000


def generated_procedure(number: int, life_events: List[str], departments: List[str],
                        rng: random.Random) -> Procedure:
    ministry = MINISTRIES[number % len(MINISTRIES)]
    status = rng.choices([s for s, _ in ONLINE_STATUS], [w for _, w in ONLINE_STATUS])[0]
    online = status in ("できる", "自治体による")
    return Procedure(
        id=f"survey_{number:06d}", name=f"{ministry}所管の手続 第{number}号",
        aliases=[f"手続番号{number:06d}"],
        life_events=[rng.choice(life_events)] if rng.random() < PERSONAL_SHARE else [],
        office=f"{ministry}(所管部局)", department=rng.choice(departments),
        online={"status": status, "channels": ["e-Gov"] if online else [],
                "text": "e-Govから申請できます。" if online else "オンラインではできません。"},
        documents=[{"name": name} for name in rng.sample(DOCUMENTS, rng.randint(0, 4))],
        sources=[{"url": f"https://www.digital.go.jp/resources/procedures/{number}",
                  "title": "行政手続等の棚卸調査結果(生成データ)",
                  "checked": dt.date(2026, 11, 1)}])


def scaled_catalog(size: int, seed: int = 7) -> Catalog:
    catalog = load_catalog()
    rng = random.Random(seed)
    events = [event.id for event in catalog.life_events]
    departments = [department.id for department in catalog.departments]
    start = len(catalog.procedures)
    catalog.procedures += [generated_procedure(n, events, departments, rng)
                           for n in range(start, size)]
    return catalog


def checklist(session: Any, life_event_id: str) -> Any:
    return (procedures_for_life_event(session, life_event_id, CHECKLIST_LIMIT),
            count_procedures_for_life_event(session, life_event_id))


def timed(query: Callable[[], Any], samples: int) -> Dict[str, float]:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        query()
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": percentile(times, 0.5), "p95_ms": percentile(times, 0.95)}


def kb_scale(size: int = SURVEY_SIZE) -> Dict[str, Any]:
    started = time.perf_counter()
    catalog = scaled_catalog(size)
    validated = time.perf_counter() - started
    rng = random.Random(11)
    ids = [p.id for p in catalog.procedures]
    events = [e.id for e in catalog.life_events]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "knowledge.db"
        started = time.perf_counter()
        build_database(catalog, f"sqlite:///{path}", "bench")
        built = time.perf_counter() - started
        kb = KnowledgeBase(f"sqlite:///{path}")

        def in_session(query: Callable[..., Any], *args: Callable[[], Any]) -> Callable[[], Any]:
            def run() -> Any:
                with kb.session() as session:  # one short session per question, as the actions
                    return query(session, *(make() for make in args))
            return run

        queries = {
            "get_procedure": timed(in_session(get_procedure, lambda: rng.choice(ids)),
                                   QUERY_SAMPLES),
            "get_procedures (3 ids)": timed(in_session(
                get_procedures, lambda: rng.sample(ids, 3)), QUERY_SAMPLES),
            "get_life_event": timed(in_session(get_life_event, lambda: rng.choice(events)),
                                    QUERY_SAMPLES),
            "get_municipality": timed(in_session(get_municipality, lambda: "sample"),
                                      QUERY_SAMPLES),
            # What the life-event action reads: the first CHECKLIST_LIMIT and the count.
            "life-event checklist": timed(in_session(checklist, lambda: rng.choice(events)),
                                          QUERY_SAMPLES),
        }
        with kb.session() as session:
            per_event = max(count_procedures_for_life_event(session, e) for e in events)
            started = time.perf_counter()
            index = SearchIndex.from_session(session)
            indexed = time.perf_counter() - started
        kb.close()
        phrases = [q["query"] for q in search_queries()]
        staff_search = {"index_build_s": round(indexed, 1), **timed(
            lambda: index.search(rng.choice(phrases), limit=20), QUERY_SAMPLES)}
        size_mb = round(path.stat().st_size / 2 ** 20, 1)
    return {"procedures": len(ids), "validate_s": round(validated, 1),
            "build_s": round(built, 1), "database_mb": size_mb,
            "largest_life_event_checklist": per_event, "queries": queries,
            "staff_search": staff_search}
