"""How well the staff search finds the procedure a caller means (hit@1, hit@3) on the
paraphrased queries of ``bench/heldout/search.yml``, with the shipped knowledge base."""
from __future__ import annotations

import time
from typing import Any, Dict, List

import yaml

from bench.harness import percentile
from bot.config import ROOT, load_settings
from knowledge.queries import KnowledgeBase
from knowledge.search import SearchIndex

QUERIES = ROOT / "bench" / "heldout" / "search.yml"


def search_queries(part: str = "queries") -> List[Dict[str, str]]:
    """``queries``: the set the ranking weights were set on; ``fresh``: written after."""
    return yaml.safe_load(QUERIES.read_text(encoding="utf-8"))[part]


def hit_rates(index: SearchIndex, queries: List[Dict[str, str]]) -> Dict[str, Any]:
    first = top3 = 0
    misses, timings = [], []
    for case in queries:
        started = time.perf_counter()
        hits = [h.procedure.id for h in index.search(case["query"], limit=3)]
        timings.append((time.perf_counter() - started) * 1000)
        first += hits[:1] == [case["expect"]]
        top3 += case["expect"] in hits
        if hits[:1] != [case["expect"]]:
            misses.append(f"{case['query']} → {', '.join(hits) or 'nothing'} "
                          f"(expected {case['expect']})")
    return {"queries": len(queries),
            "hit_at_1": round(first / len(queries), 3), "hit_at_3": round(top3 / len(queries), 3),
            "p50_ms": round(percentile(timings, 50), 2),
            "p95_ms": round(percentile(timings, 95), 2), "misses": misses}


def search_quality() -> Dict[str, Any]:
    kb = KnowledgeBase(load_settings().knowledge_db_url)
    try:
        with kb.session() as session:
            index = SearchIndex.from_session(session)
    finally:
        kb.close()
    return {"procedures": len(index.procedures),
            "tuning_set": hit_rates(index, search_queries("queries")),
            "fresh_set": hit_rates(index, search_queries("fresh"))}
