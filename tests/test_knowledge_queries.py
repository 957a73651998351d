"""Queries against the real knowledge database."""
from __future__ import annotations

from knowledge.queries import (content_hash_of, count_procedures_for_life_event,
                               get_life_event, get_municipality, get_procedure,
                               get_procedures, procedures_for_life_event)
from knowledge.loader import content_hash


def test_get_procedure_returns_the_reviewed_record(kb):
    with kb.session() as session:
        procedure = get_procedure(session, "tennyu")
        assert procedure.name == "転入届"
        assert procedure.deadline.rule.days == 14
        assert procedure.deadline.rule.basis == "住民基本台帳法 第22条"
        assert get_procedure(session, "no_such_thing") is None


def test_get_procedures_keeps_the_requested_order_and_skips_unknown(kb):
    with kb.session() as session:
        found = get_procedures(session, ["juminhyo", "nope", "tennyu"])
        assert [p.id for p in found] == ["juminhyo", "tennyu"]


def test_life_event_checklist_follows_file_order(kb):
    with kb.session() as session:
        ids = [p.id for p in procedures_for_life_event(session, "moving")]
        assert ids[:3] == ["jido_teate", "kodomo_iryohi", "tenshutsu"]
        assert {"tennyu", "tenkyo", "kokuho_kanyu", "inkan_toroku"} <= set(ids)
        assert get_life_event(session, "moving").deadline_procedures == ["tennyu", "tenkyo"]


def test_a_long_checklist_is_cut_in_file_order_and_counted(kb):
    with kb.session() as session:
        everything = [p.id for p in procedures_for_life_event(session, "moving")]
        first = [p.id for p in procedures_for_life_event(session, "moving", limit=5)]
        assert first == everything[:5]
        assert count_procedures_for_life_event(session, "moving") == len(everything) == 14
        assert count_procedures_for_life_event(session, "nothing_like_this") == 0


def test_sample_municipality_is_marked_as_sample(kb):
    with kb.session() as session:
        sample = get_municipality(session, "sample")
        assert sample.sample is True and "サンプル" in sample.name
        assert sample.overrides["juminhyo"].fee.startswith("窓口300円")


def test_database_records_the_content_hash(kb):
    with kb.session() as session:
        assert content_hash_of(session) == content_hash()
