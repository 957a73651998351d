"""The loader validates every knowledge file and loads all of it or nothing."""
from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
import yaml

from knowledge.loader import KnowledgeError, build_database, content_hash, load_catalog
from knowledge.queries import KnowledgeBase, get_procedure
from knowledge.schema import is_official_host

MOVING = "procedures/02_moving.yaml"


def edit(root: Path, name: str, change) -> None:
    path = root / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def tennyu(data):
    return next(p for p in data["procedures"] if p["id"] == "tennyu")


def problems_after(root: Path, name: str, change) -> str:
    edit(root, name, change)
    with pytest.raises(KnowledgeError) as error:
        load_catalog(root)
    return "\n".join(error.value.problems)


def test_shipped_knowledge_covers_the_required_procedures(catalog):
    ids = {p.id for p in catalog.procedures}
    assert len(ids) >= 45
    for required in ("tennyu", "tenshutsu", "tenkyo", "shussei_todoke", "shibo_todoke",
                     "konin_todoke", "juminhyo", "inkan_shomei", "koseki_shomei",
                     "mynumber_shinsei", "kokuho_kanyu", "jido_teate"):
        assert required in ids
    events_used = {e for p in catalog.procedures for e in p.life_events}
    assert events_used == {e.id for e in catalog.life_events}


def test_every_procedure_has_an_official_source_and_a_checked_date(catalog):
    for procedure in catalog.procedures:
        assert any(is_official_host(s.url) for s in procedure.sources), procedure.id
        assert all(isinstance(s.checked, dt.date) for s in procedure.sources)


def test_every_deadline_rule_names_its_legal_basis(catalog):
    rules = [p.deadline.rule for p in catalog.procedures if p.deadline and p.deadline.rule]
    assert len(rules) >= 10
    assert all(rule.basis.strip() for rule in rules)


def test_unknown_field_names_file_procedure_and_field(knowledge_copy):
    message = problems_after(knowledge_copy, MOVING,
                             lambda d: tennyu(d).update(deadlne="typo"))
    assert "knowledge/procedures/02_moving.yaml" in message
    assert "procedure 'tennyu' (転入届)" in message
    assert "field 'deadlne'" in message and "extra fields not permitted" in message


def test_missing_source_fails(knowledge_copy):
    message = problems_after(knowledge_copy, MOVING, lambda d: tennyu(d).update(sources=[]))
    assert "procedure 'tennyu'" in message and "field 'sources'" in message


def test_only_unofficial_sources_fail(knowledge_copy):
    def unofficial(data):
        for source in tennyu(data)["sources"]:
            source["url"] = "https://blog.example.com/tennyu"
    message = problems_after(knowledge_copy, MOVING, unofficial)
    assert "official" in message and "field 'sources'" in message


def test_malformed_date_fails(knowledge_copy):
    message = problems_after(knowledge_copy, MOVING,
                             lambda d: tennyu(d)["sources"][0].update(checked="2026-13-01"))
    assert "field 'sources.0.checked'" in message


def test_malformed_url_fails(knowledge_copy):
    message = problems_after(knowledge_copy, MOVING,
                             lambda d: tennyu(d)["sources"][0].update(url="www.city.example.lg.jp"))
    assert "field 'sources.0.url'" in message and "not a web address" in message


def test_alias_used_by_two_procedures_fails_even_in_another_spelling(knowledge_copy):
    message = problems_after(knowledge_copy, MOVING,
                             lambda d: tennyu(d)["aliases"].append("ﾃﾝｼｭﾂﾄﾄﾞｹ"))
    assert "'ﾃﾝｼｭﾂﾄﾄﾞｹ' is also an alias of 'tenshutsu'" in message


def test_deadline_rule_without_legal_basis_fails(knowledge_copy):
    message = problems_after(knowledge_copy, MOVING,
                             lambda d: tennyu(d)["deadline"]["rule"].pop("basis"))
    assert "field 'deadline.rule.basis'" in message and "field required" in message


def test_unknown_life_event_fails(knowledge_copy):
    message = problems_after(knowledge_copy, MOVING,
                             lambda d: tennyu(d)["life_events"].append("space_travel"))
    assert "unknown life event 'space_travel'" in message


def test_invalid_yaml_names_the_file(knowledge_copy):
    (knowledge_copy / MOVING).write_text("procedures: [\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as error:
        load_catalog(knowledge_copy)
    assert "knowledge/procedures/02_moving.yaml: not valid YAML" in error.value.problems[0]


def test_failed_build_leaves_the_previous_database_untouched(knowledge_copy, tmp_path):
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    build_database(load_catalog(knowledge_copy), url, content_hash(knowledge_copy))
    edit(knowledge_copy, MOVING, lambda d: tennyu(d).update(name=None))
    from knowledge.loader import main
    assert main(["--db", url, "--root", str(knowledge_copy)]) == 1
    kb = KnowledgeBase(url)
    with kb.session() as session:
        assert get_procedure(session, "tennyu").name == "転入届"
    kb.close()


def test_a_new_procedure_needs_no_other_edit(knowledge_copy, tmp_path):
    """Added to the YAML, a procedure is loaded and its aliases are recognised, and
    Rasa's training cache does not restore the old alias tables."""
    from rasa.engine.training.fingerprinting import calculate_fingerprint_key

    from bot.nlu.procedure_extractor import ProcedureExtractor

    config = {"knowledge_root": str(knowledge_copy)}
    before = calculate_fingerprint_key(ProcedureExtractor, config, {})

    extra = {"procedures": [{
        "id": "kaiso_kyoka", "name": "改葬許可申請", "aliases": ["改葬許可", "かいそうきょか"],
        "office": "市区町村の戸籍の担当課です。", "department": "shimin",
        "online": {"status": "自治体による", "channels": ["その他"], "text": "自治体によります。"},
        "sources": [{"url": "https://www.city.example.lg.jp/gomi", "title": "例",
                     "checked": "2026-11-01"}]}]}
    (knowledge_copy / "procedures" / "99_extra.yaml").write_text(
        yaml.safe_dump(extra, allow_unicode=True), encoding="utf-8")
    assert calculate_fingerprint_key(ProcedureExtractor, config, {}) != before
    tables = ProcedureExtractor.build_tables(knowledge_copy)
    extractor = ProcedureExtractor({}, None, None, tables)
    found = extractor.extract("かいそうきょかはどこで申請するの")
    assert [(e["entity"], e["value"], e["text"]) for e in found] == [
        ("procedure", "kaiso_kyoka", "かいそうきょか")]


def test_every_fact_has_an_official_source_and_every_rule_its_basis(catalog):
    """Source hygiene over the real knowledge base, not just the schema's examples."""
    for item in [*catalog.procedures, *catalog.entries]:
        assert any(is_official_host(s.url) for s in item.sources), item.id
        assert all(s.checked <= dt.date(2026, 12, 1) for s in item.sources), item.id
    for procedure in catalog.procedures:
        if procedure.deadline and procedure.deadline.rule:
            assert procedure.deadline.rule.basis.strip(), procedure.id
    assert len(catalog.procedures) >= 120 and len(catalog.entries) >= 800


def test_the_report_shows_where_the_knowledge_is_thin(catalog):
    from knowledge.report import rows, write_csv

    table = rows(catalog)
    assert [r.procedure for r in table].count("juminhyo") == 1 and len(table) == len(
        catalog.procedures)
    juminhyo = next(r for r in table if r.procedure == "juminhyo")
    assert juminhyo.entries == sum(e.procedure == "juminhyo" for e in catalog.entries) > 0
    assert juminhyo.official >= 1 and juminhyo.oldest_checked <= dt.date(2026, 12, 1)
    # Thinnest first: no procedure with entries comes before one without.
    counts = [r.entries for r in table]
    assert counts == sorted(counts)
    out = io.StringIO()
    write_csv(table, out)
    assert out.getvalue().splitlines()[0] == "procedure,name,entries,sources,official,oldest_checked,unknown"
