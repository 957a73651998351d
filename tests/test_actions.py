"""Custom actions against the real knowledge database, with a hand-built Tracker.

Entities come from the real ProcedureExtractor, exactly as Rasa would attach them.
"""
from __future__ import annotations

import datetime as dt
from typing import Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import (ActionAnswer, ActionClarify, ActionComputeDeadline,
                             ActionHandoff, ActionLifeEvent)
from bot.nlu.subject import primary_procedure
from bot.nlu.procedure_extractor import ProcedureExtractor
from knowledge.answers import life_event_answer
from knowledge.loader import ROOT
from knowledge.queries import get_life_event, procedures_for_life_event

TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def extractor():
    return ProcedureExtractor({}, None, None, ProcedureExtractor.build_tables(ROOT))


@pytest.fixture
def make_tracker(extractor):
    def build(text: str, intent: str, slots: Optional[Dict] = None) -> Tracker:
        message = {"text": text, "intent": {"name": intent, "confidence": 0.9},
                   "entities": extractor.extract(text)}
        return Tracker("citizen", {"procedure": None, "life_event": None, "topic": None,
                                   **(slots or {})}, message, [], False, None, {},
                       "action_listen")
    return build


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher.messages, events


def texts(messages: List[Dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def make(action_class, kb):
    return action_class(kb=kb, municipality_id="sample", today=lambda: TODAY)


async def test_deadline_question_answers_with_legal_basis_and_source_last(kb, make_tracker):
    messages, events = await run(make(ActionAnswer, kb),
                                 make_tracker("転入届はいつまでに出せばいい?", "ask_deadline"))
    text = messages[0]["text"]
    assert text.splitlines()[0] == "【転入届】"
    assert "14日以内" in text and "根拠:住民基本台帳法 第22条" in text
    assert text.splitlines()[-1].startswith("出典:")
    assert "https://" in text.splitlines()[-1]
    assert events == [SlotSet("procedure", "tennyu"), SlotSet("topic", "deadline")]
    assert [b["title"] for b in messages[0]["buttons"]] == ["必要なもの", "オンライン", "窓口・場所", "代理人"]
    assert messages[0]["buttons"][0]["payload"] == '/ask_documents{"procedure":"tennyu"}'
    card = messages[0]["custom"]
    assert card["type"] == "procedure_card" and card["procedure"]["id"] == "tennyu"
    assert card["procedure"]["deadline"]["basis"] == "住民基本台帳法 第22条"


async def test_follow_up_uses_the_procedure_from_the_slot(kb, make_tracker):
    messages, events = await run(make(ActionAnswer, kb),
                                 make_tracker("それってネットでできる?", "ask_online",
                                              {"procedure": "shussei_todoke"}))
    assert messages[0]["text"].startswith("【出生届】\n■オンライン")
    assert SlotSet("procedure", "shussei_todoke") in events


async def test_new_procedure_replaces_the_slot(kb, make_tracker):
    messages, events = await run(make(ActionAnswer, kb),
                                 make_tracker("印鑑証明の手数料は?", "ask_fee",
                                              {"procedure": "tennyu"}))
    text = texts(messages)
    assert "【印鑑登録証明書の交付】" in text
    assert "市区町村によって異なります" in text
    assert "【サンプル市(架空のサンプルデータ)】手数料:窓口300円、コンビニ交付200円(サンプル)" in text
    assert SlotSet("procedure", "inkan_shomei") in events


async def test_unknown_fee_says_so_and_where_to_ask(kb, make_tracker):
    messages, _ = await run(make(ActionAnswer, kb), make_tracker("転入届はいくら?", "ask_fee"))
    assert "手数料は、まだ確認できていません。サンプル市役所 市民課(サンプルデータ)にお問い合わせください。" in texts(messages)


async def test_notes_matching_the_question_are_added(kb, make_tracker):
    messages, _ = await run(make(ActionAnswer, kb),
                            make_tracker("15歳未満でも印鑑登録できる?", "ask_overview"))
    assert "15歳未満の人は登録できません" in texts(messages)


async def test_no_procedure_and_no_clue_asks_which_one(kb, make_tracker):
    messages, events = await run(make(ActionAnswer, kb), make_tracker("期限は?", "ask_deadline"))
    assert messages[0]["text"].startswith("どの手続きについてのご質問ですか")
    assert events == []


async def test_weak_candidates_are_offered_as_at_most_four_buttons(kb, make_tracker):
    messages, _ = await run(make(ActionAnswer, kb), make_tracker("証明書がほしい", "ask_overview"))
    buttons = messages[0]["buttons"]
    assert 2 <= len(buttons) <= 4
    assert {b["title"] for b in buttons} == {"住民票の写しの交付請求", "印鑑登録証明書の交付"}


async def test_a_clear_candidate_is_answered(kb, make_tracker):
    messages, events = await run(make(ActionAnswer, kb),
                                 make_tracker("会社を退職しました。健康保険は?", "ask_overview"))
    assert "【国民健康保険 加入(資格取得)の届出】" in texts(messages)
    assert SlotSet("procedure", "kokuho_kanyu") in events


def test_primary_procedure_skips_tools_and_takes_the_last_subject():
    def ent(value, start, end):
        return {"entity": "procedure", "value": value, "start": start, "end": end}
    text = "e-Taxにマイナンバーカードでログインするには"
    assert primary_procedure(text, [ent("kakutei_shinkoku", 0, 5),
                                    ent("mynumber_shinsei", 6, 15)]) == "kakutei_shinkoku"
    text = "所得税の申告をしましたが、住民税の申告も必要?"
    assert primary_procedure(text, [ent("kakutei_shinkoku", 0, 6),
                                    ent("juminzei_shinkoku", 13, 19)]) == "juminzei_shinkoku"
    assert primary_procedure("x", []) is None


async def test_life_event_gives_the_checklist_most_urgent_first(kb, make_tracker):
    messages, events = await run(make(ActionLifeEvent, kb),
                                 make_tracker("父が亡くなりました", "life_event"))
    lines = messages[0]["text"].splitlines()
    assert lines[0].startswith("ご家族が亡くなったときの主な手続きです")
    assert lines[1].startswith("・死亡届:死亡の事実を知った日を含めて7日以内")
    assert messages[0]["buttons"][0]["title"] == "死亡届"
    assert messages[0]["custom"]["type"] == "checklist"
    assert events == [SlotSet("life_event", "death")]


def test_a_checklist_cut_short_says_how_many_more_there_are(kb):
    with kb.session() as session:
        event = get_life_event(session, "moving")
        first = procedures_for_life_event(session, "moving", limit=2)
    lines = life_event_answer(event, first, total=14).text.splitlines()
    assert lines[-2:] == ["このほかにも12件の手続きがあります。",
                          "くわしく知りたい手続きを選ぶか、手続きの名前を送ってください。"]
    assert "このほかにも" not in life_event_answer(event, first, total=2).text


async def test_life_event_with_a_named_procedure_answers_the_procedure(kb, make_tracker):
    messages, _ = await run(make(ActionLifeEvent, kb),
                            make_tracker("海外に引っ越すとき、マイナンバーカードはどうなる?",
                                         "life_event"))
    text = texts(messages)
    # Answered by the entry on keeping the card abroad, not the moving checklist.
    assert text.startswith("【マイナンバーカードの継続利用・住所変更(券面の書き換え)】")
    assert "国外転出届のときに申請すれば、マイナンバーカードを国外でも継続利用できます" in text
    assert "引っ越しのときの主な手続き" not in text


async def test_compute_deadline_for_a_move(kb, make_tracker):
    messages, events = await run(make(ActionComputeDeadline, kb),
                                 make_tracker("11月20日に引っ越しました。いつまでに?",
                                              "compute_deadline"))
    text = messages[0]["text"]
    assert "2026年11月20日(金)を起点に計算しました。" in text
    assert "・転入届:2026年12月4日(金)まで(新しい住所に住み始めた日から14日以内、住民基本台帳法 第22条)" in text
    assert "すでに過ぎています" not in text
    assert events == [SlotSet("life_event", "moving")]


async def test_compute_deadline_past_and_moved_off_a_holiday(kb, make_tracker):
    messages, _ = await run(make(ActionComputeDeadline, kb),
                            make_tracker("令和8年5月1日に子どもが生まれました。出生届は?",
                                         "compute_deadline"))
    text = messages[0]["text"]
    assert "・出生届:2026年5月14日(木)まで" in text
    assert "すでに過ぎています" in text


async def test_compute_deadline_without_a_date_gives_the_rule_and_asks(kb, make_tracker):
    messages, _ = await run(make(ActionComputeDeadline, kb),
                            make_tracker("転入届はいつまでに出す?", "compute_deadline"))
    assert "14日以内" in messages[0]["text"]
    assert "日付を入れて送ってください" in messages[-1]["text"]


async def test_compute_deadline_for_a_procedure_without_a_rule(kb, make_tracker):
    messages, _ = await run(make(ActionComputeDeadline, kb),
                            make_tracker("3月1日に結婚します。婚姻届の期限は?", "compute_deadline"))
    assert "日付を計算できる期限の定めがない" in messages[0]["text"]
    assert "婚姻届に提出期限はありません" in messages[0]["text"]


async def test_handoff_gives_the_municipality_contact(kb, make_tracker):
    messages, _ = await run(make(ActionHandoff, kb), make_tracker("職員と話したい", "human_handoff"))
    text = messages[0]["text"]
    assert "サンプル市役所 市民課(サンプルデータ)" in text and "電話:000-000-0000(サンプル)" in text


async def test_clarify_offers_topics_for_a_known_procedure(kb, make_tracker):
    messages, events = await run(make(ActionClarify, kb), make_tracker("パスポート", "nlu_fallback"))
    assert messages[0]["text"] == "パスポート(一般旅券)の発給申請について、何を知りたいですか。"
    assert len(messages[0]["buttons"]) == 4
    assert events == [SlotSet("procedure", "passport"), SlotSet("topic", "overview")]


async def test_clarify_answers_when_an_entry_answers(kb, make_tracker):
    messages, _ = await run(make(ActionClarify, kb),
                            make_tracker("確定申告をしたけど住民税の申告も必要?", "nlu_fallback"))
    assert "住民税の申告をあらためてする必要はありません" in texts(messages)


async def test_small_talk_that_names_a_procedure_is_answered(kb, make_tracker):
    from actions.actions import ActionGreet, ActionOutOfScope

    messages, events = await run(make(ActionOutOfScope, kb),
                                 make_tracker("出生届の名前に使える漢字は", "out_of_scope"))
    assert "常用漢字、人名用漢字、ひらがな、カタカナが使えます。" in texts(messages)
    assert SlotSet("procedure", "shussei_todoke") in events
    messages, events = await run(make(ActionOutOfScope, kb),
                                 make_tracker("明日の天気は?", "out_of_scope"))
    assert [m["response"] for m in messages] == ["utter_out_of_scope"]
    assert events == []
    messages, _ = await run(make(ActionGreet, kb), make_tracker("こんにちは", "greet"))
    assert messages[0]["text"].startswith("こんにちは。行政手続きのご案内をします。")
    assert messages[0]["buttons"][0] == {"title": "引っ越し",
                                         "payload": '/life_event{"life_event":"moving"}'}


async def test_a_topic_answer_names_the_department_that_handles_it(kb, make_tracker):
    messages, _ = await run(make(ActionAnswer, kb),
                            make_tracker("転入届はネットでできますか", "ask_online"))
    text = texts(messages)
    assert "担当:市民課(サンプル) 電話:000-000-0000(サンプル)" in text
    assert text.index("担当:") < text.index("出典:")
