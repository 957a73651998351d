"""Q&A entries: validation, validity dates, the one decision of what to answer, and
answers short enough for a phone, against the real knowledge base and matcher."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
import yaml

from bot.channels.line_messages import to_line_messages
from bot.nlu.procedure_extractor import ProcedureExtractor
from bot.nlu.subject import named_procedures
from knowledge.answers import (CHECKLIST_FIRST, entry_answer, life_event_answer,
                               no_answer, procedure_answer, unknown_service_answer)
from knowledge.decide import Knowledge, Message, decide
from knowledge.loader import ROOT, KnowledgeError, load_catalog
from knowledge.qa_index import EntryClassifier, QaIndex
from knowledge.queries import (get_departments, get_life_event, get_municipality,
                               procedures_for_life_event)
from knowledge.schema import QaEntry

TODAY = dt.date(2026, 12, 1)
QA_FILE = "qa/90_test.yaml"
# The longest text one answer may be in a LINE bubble or the widget on a phone.
PHONE_TEXT_LIMIT = 700


def entry(**change: Any) -> Dict[str, Any]:
    base = {"id": "test_entry", "procedure": "tennyu", "question": "転入届は代理人でも出せますか",
            "paraphrases": ["家族が代わりに転入届を出せる?"], "answer": ["出せます。"],
            "scope": "national",
            "sources": [{"url": "https://www.city.example.lg.jp/tennyu", "title": "例",
                         "checked": "2026-12-01"}]}
    base.update(change)
    return base


def problems_with(root: Path, *entries: Dict[str, Any]) -> str:
    (root / QA_FILE).write_text(yaml.safe_dump({"entries": list(entries)}, allow_unicode=True),
                                encoding="utf-8")
    with pytest.raises(KnowledgeError) as error:
        load_catalog(root)
    return "\n".join(error.value.problems)


def test_an_unknown_field_names_the_file_and_the_entry(knowledge_copy):
    message = problems_with(knowledge_copy, entry(anwser=["typo"]))
    assert "knowledge/qa/90_test.yaml: entry 'test_entry': field 'anwser'" in message
    assert "extra fields not permitted" in message


def test_an_entry_needs_an_official_source(knowledge_copy):
    message = problems_with(knowledge_copy, entry(sources=[
        {"url": "https://blog.example.com/a", "title": "ブログ", "checked": "2026-12-01"}]))
    assert "entry 'test_entry': field 'sources'" in message and "official" in message
    assert "field 'sources'" in problems_with(knowledge_copy, entry(sources=[]))


def test_bad_dates_are_errors(knowledge_copy):
    message = problems_with(knowledge_copy, entry(valid_from="2025-02-30"))
    assert "entry 'test_entry': field 'valid_from'" in message
    message = problems_with(knowledge_copy, entry(valid_from="2025-03-01",
                                                  valid_until="2024-03-01"))
    assert "valid_until 2024-03-01 is before valid_from 2025-03-01" in message


def test_an_entry_belongs_to_one_known_procedure_or_department(knowledge_copy):
    assert "exactly one of" in problems_with(knowledge_copy, entry(department="shimin"))
    assert "unknown procedure 'tennyu_typo'" in problems_with(
        knowledge_copy, entry(procedure="tennyu_typo"))
    assert "unknown department 'nowhere'" in problems_with(
        knowledge_copy, entry(procedure=None, department="nowhere"))


def test_entry_ids_are_unique_and_calibration_names_real_entries(knowledge_copy):
    assert "already used in knowledge/qa/90_test.yaml" in problems_with(
        knowledge_copy, entry(), entry())
    (knowledge_copy / QA_FILE).unlink()
    (knowledge_copy / "qa_calibration" / "90_test.yaml").write_text(
        "queries:\n- text: 転入届の質問\n  entry: no_such_entry\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as error:
        load_catalog(knowledge_copy)
    assert "unknown entry 'no_such_entry'" in "\n".join(error.value.problems)


def _rule(valid_from=None, valid_until=None, answer="") -> QaEntry:
    return QaEntry.parse_obj(entry(id=f"rule_{answer}", question="健康保険証はまだ使えますか",
                                   paraphrases=["保険証は使える?"], answer=[answer],
                                   valid_from=valid_from, valid_until=valid_until))


def test_the_rule_in_force_on_the_day_is_the_one_answered():
    old = _rule(valid_until=dt.date(2025, 12, 1), answer="old")
    new = _rule(valid_from=dt.date(2025, 12, 2), answer="new")
    index = QaIndex([old, new])
    def top(day: dt.date) -> str:
        return index.candidates("保険証は使える?", (), day)[0].entry.answer[0]
    assert top(dt.date(2025, 6, 1)) == "old"
    assert top(dt.date(2025, 12, 2)) == "new"
    assert top(TODAY) == "new"
    assert not QaIndex([old]).candidates("保険証は使える?", (), TODAY)


@pytest.fixture(scope="module")
def extractor():
    return ProcedureExtractor({}, None, None, ProcedureExtractor.build_tables(ROOT))


@pytest.fixture
def ask(kb, extractor):
    def run(text: str, intent: str, carried: str = None):
        message = Message(text, intent, extractor.extract(text), carried)
        with kb.session() as session:
            return decide(session, message, TODAY)
    return run


def test_a_specific_question_gets_its_entry(ask):
    decision = ask("離婚したあと、女性はすぐに再婚できますか", "ask_overview")
    assert decision.kind == "entry" and decision.entry.procedure == "konin_todoke"
    assert "再婚" in decision.entry.question
    assert decision.probability is not None and decision.probability >= 0.5


def test_a_generic_question_gets_the_topic_section(ask):
    decision = ask("転入届はネットでできますか", "ask_online")
    assert (decision.kind, decision.procedure.id, decision.topic) == ("topic", "tennyu", "online")
    decision = ask("期限は?", "ask_deadline", carried="shussei_todoke")
    assert (decision.kind, decision.procedure.id, decision.topic) == (
        "topic", "shussei_todoke", "deadline")
    # Ordinary words many entries use (費用, 提出) are not a question the bot cannot
    # answer: the fee section, or the entry on the fee, answers it.
    decision = ask("住民票の写しを取るのに費用はかかりますか", "ask_fee")
    assert decision.procedure.id == "juminhyo"
    assert (decision.kind, decision.topic) == ("topic", "fee") or (
        decision.kind == "entry" and "手数料" in decision.entry.question)
    # A button's payload and the clauses the intake masked are not the question.
    decision = ask('/ask_fee{"procedure":"juminhyo"}', "ask_fee", carried="juminhyo")
    assert (decision.kind, decision.procedure.id, decision.topic) == ("topic", "juminhyo", "fee")
    decision = ask("電話は＊＊＊＊、メールは＊＊＊＊です。転入届の必要なものは?", "ask_documents")
    assert (decision.kind, decision.procedure.id, decision.topic) == (
        "topic", "tennyu", "documents")


def test_a_specific_question_nothing_answers_is_an_honest_no(ask, kb):
    decision = ask("転入届の窓口にペットの犬を連れて行ってもいいですか", "ask_where")
    assert decision.kind == "no_answer" and decision.procedure.id == "tennyu"
    assert "犬" in decision.specific
    with kb.session() as session:
        reply = no_answer(decision.procedure, decision.department,
                          get_municipality(session, "sample"), decision.related)
    assert reply.unanswered and reply.custom["type"] == "no_answer"
    assert reply.buttons[-1] == {"title": "職員と話したい", "payload": "/human_handoff"}
    assert len(reply.buttons) == 2 + len(decision.related) <= 4
    assert "まだ持っていません" in reply.text and "担当:市民課(サンプル)" in reply.text
    assert "電話:000-000-0000(サンプル)" in reply.text
    assert "公式ページ:" in reply.text and "■" not in reply.text


def test_a_service_without_a_procedure_is_routed_to_its_department(ask, kb):
    decision = ask("ヘルプマークはどこでもらえますか", "ask_where")
    assert decision.kind == "unknown_service" and decision.service == "ヘルプマーク"
    assert decision.department.id == "shogai"
    with kb.session() as session:
        reply = unknown_service_answer(decision.service, decision.department,
                                       get_municipality(session, "sample"))
    assert reply.text.startswith("申し訳ありません。「ヘルプマーク」のご案内は")
    assert "担当:障害福祉課(サンプル)" in reply.text and "どの手続き" not in reply.text


def test_a_service_spelled_more_fully_than_a_procedure_goes_to_the_service(ask):
    # 国民健康保険税 (a service with no procedure) ⊃ 国民健康保険 (the procedure of joining).
    decision = ask("国民健康保険税の払い方を知りたい", "ask_overview")
    assert decision.kind in ("unknown_service", "entry")
    if decision.kind == "unknown_service":
        assert decision.service == "国民健康保険税" and decision.department.id == "hoken_nenkin"


def test_a_button_picks_its_entry(kb, catalog):
    sample = next(e for e in catalog.entries if e.valid_on(TODAY))
    message = Message("/ask_overview", "ask_overview",
                      [{"entity": "qa_entry", "value": sample.id}])
    with kb.session() as session:
        decision = decide(session, message, TODAY)
    assert decision.kind == "entry" and decision.entry.id == sample.id


def _line_texts(reply) -> List[str]:
    messages = to_line_messages([{"text": reply.text, "buttons": reply.buttons,
                                  "custom": reply.custom}])
    return [m["text"] for m in messages if m.get("type") == "text"]


def test_every_answer_fits_a_phone(kb, catalog):
    with kb.session() as session:
        municipality = get_municipality(session, "sample")
        departments = {d.id: d for d in get_departments(session)}
        index = Knowledge.of(session).index
        procedures = {p.id: p for p in catalog.procedures}
        replies = []
        for item in catalog.entries:
            procedure = procedures.get(item.procedure)
            department = departments[procedure.department if procedure else item.department]
            replies.append(entry_answer(item, procedure, department, municipality,
                                        index.related(item, 2)))
        replies += [procedure_answer(p, "overview", "", municipality) for p in procedures.values()]
        for event in catalog.life_events:
            replies.append(life_event_answer(
                get_life_event(session, event.id),
                procedures_for_life_event(session, event.id, 20), municipality))
    for reply in replies:
        assert len(reply.text) <= PHONE_TEXT_LIMIT, reply.text
        assert 1 <= len(reply.buttons) <= 4
        for text in _line_texts(reply):
            assert len(text) <= PHONE_TEXT_LIMIT


def test_the_overview_is_a_short_summary(kb, catalog):
    with kb.session() as session:
        municipality = get_municipality(session, "sample")
    for procedure in catalog.procedures:
        reply = procedure_answer(procedure, "overview", "", municipality)
        assert "まだ確認できていません" not in reply.text
        assert "■窓口:" in reply.text and "■オンライン:" in reply.text
        assert {b["title"] for b in reply.buttons} <= {"必要なもの", "窓口・場所", "代理人", "手数料"}


def test_a_checklist_shows_the_most_urgent_first_and_a_button_for_the_rest(kb):
    with kb.session() as session:
        event = get_life_event(session, "moving")
        procedures = procedures_for_life_event(session, "moving", 20)
        short = life_event_answer(event, procedures, None, len(procedures))
        whole = life_event_answer(event, procedures, None, len(procedures), whole=True)
    listed = [line for line in short.text.splitlines() if line.startswith("・")]
    assert len(listed) == CHECKLIST_FIRST and listed[0].startswith("・転")
    more = short.buttons[-1]
    assert more["title"] == f"ほかの手続き({len(procedures) - CHECKLIST_FIRST}件)"
    assert more["payload"] == '/life_event{"life_event":"moving","checklist":"all"}'
    assert len([l for l in whole.text.splitlines() if l.startswith("・")]) == len(procedures)


def test_every_procedure_named_is_searched(ask, catalog):
    # 戸籍謄本 is named last, so it is the subject; the entry that answers is 婚姻届's.
    aliases = {key: procedure_id for key, procedure_id, _ in catalog.alias_table()}
    text = "婚姻届に戸籍謄本を添付する必要はありますか"
    assert named_procedures(text, aliases) == ["koseki_shomei", "konin_todoke"]
    decision = ask(text, "ask_documents")
    assert decision.kind == "entry" and decision.entry.procedure == "konin_todoke"
    assert any("不要" in line for line in decision.entry.answer)


def test_the_entry_classifier_tells_neighbours_apart():
    texts = ["犬が死んだときの届出", "犬を飼い始めたときの登録", "猫の不妊手術の助成"]
    classifier = EntryClassifier(texts, [t.split() for t in texts], [0, 1, 2])
    scores = classifier.scores("飼い犬が死にました", ["飼い犬", "死ぬ"], 3)
    assert int(np.argmax(scores)) == 0
    assert EntryClassifier(texts[:1], [[]], [0]).scores("犬", [], 1).tolist() == [0.0]
