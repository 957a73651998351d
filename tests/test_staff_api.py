"""The staff tool's JSON API against the running bot: real Rasa (the trained model), real
staff and tracker databases, real encrypted session cookies, real widget and LINE
conversations for the handoff queue and the unanswered log."""
from __future__ import annotations

import csv
import io
import sqlite3
import time
import uuid
from typing import Any, Callable, Dict, List

import pytest

from bot.channels.handoff import BACK_TO_BOT
from bot.staff.routes import CLAIMED_MESSAGE, HANDED_BACK_MESSAGE
from knowledge.answers import handoff_queued_answer
from tests.clients import StaffClient, line_event
from tests.conftest import PUBLIC_RASA_PORT, STAFF_PASSWORD, accounts_command

WEB_PORT = PUBLIC_RASA_PORT + 3000
PASSWORD = STAFF_PASSWORD


@pytest.fixture(scope="module")
def staff(staff_account) -> StaffClient:
    client = StaffClient(WEB_PORT)
    assert client.login(staff_account, PASSWORD)[0] == 200
    return client


def audit_actions(public_bot, action: str) -> List[tuple]:
    with sqlite3.connect(public_bot.state / "staff.db") as db:
        return db.execute("SELECT staff, conversation_id, detail FROM staff_audit "
                          "WHERE action = ? ORDER BY id", (action,)).fetchall()


def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """The first truthy result of ``check``, polled (the scan reads the tracker store)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.3)


def test_the_accounts_command_stores_a_salted_argon2_hash_readable_by_the_owner_only(
        public_bot, staff):
    path = public_bot.state / "staff" / "accounts.yaml"
    text = path.read_text(encoding="utf-8")
    assert "$argon2id$" in text and PASSWORD not in text
    assert path.stat().st_mode & 0o077 == 0
    too_short = accounts_command(public_bot.state, "add", "sato", "--password-stdin",
                                 password="short")
    assert too_short.returncode == 1 and "at least 12" in too_short.stderr
    assert "sato" not in accounts_command(public_bot.state, "list").stdout


def test_nothing_under_staff_answers_without_a_session(staff):
    anonymous = StaffClient(WEB_PORT)
    for page in ("/staff/", "/staff/search", "/staff/handoffs", "/staff/unanswered"):
        status, _ = anonymous.get(page)
        assert status == 302 and anonymous.last_headers["Location"].startswith("/staff/login")
    for path in ("/staff/api/search?q=住民票", "/staff/api/handoffs", "/staff/api/handoffs/1",
                 "/staff/api/unanswered", "/staff/api/unanswered.csv", "/staff/api/filters",
                 "/staff/api/procedures/juminhyo"):
        assert anonymous.get(path) == (401, {"error": "login required"}), path
    anonymous.csrf = anonymous.get("/staff/api/session")[1]["csrf"]
    assert anonymous.post("/staff/api/assist", {"text": "住民票"})[0] == 401
    assert anonymous.get("/staff/login")[0] == 200


def test_the_session_cookie_is_encrypted_httponly_and_strict(staff):
    client = StaffClient(WEB_PORT)
    assert client.login("suzuki", PASSWORD)[0] == 200
    cookie = client.last_headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/staff" in cookie
    value = next(c.value for c in client.cookies if c.name == "staff_session")
    assert "suzuki" not in value and "csrf" not in value
    assert client.get("/staff/api/session")[1]["user"] == {"username": "suzuki", "name": "鈴木"}
    assert client.post("/staff/api/logout")[0] == 200
    assert client.get("/staff/api/handoffs")[0] == 401


def test_a_wrong_password_is_refused_logged_and_repeated_failures_are_limited(public_bot):
    accounts_command(public_bot.state, "add", "yamada", "--password-stdin")
    client = StaffClient(WEB_PORT)
    assert client.login("yamada", "wrong password!")[0] == 401
    assert client.login("nobody-here", PASSWORD)[0] == 401
    for _ in range(4):
        client.login("yamada", "wrong password!")
    status, body = client.login("yamada", PASSWORD)  # right, but too late
    assert status == 429 and "15分" in body["error"]
    assert [row[0] for row in audit_actions(public_bot, "login_failed")].count("yamada") == 5
    assert ("yamada", None, "127.0.0.1") in audit_actions(public_bot, "login_refused")
    log = (public_bot.state / "logs" / "web.log").read_text(encoding="utf-8")
    assert "staff login failed for 'yamada'" in log


def test_changes_without_the_csrf_token_are_forbidden(staff):
    assert staff.post("/staff/api/assist", {"text": "住民票"}, csrf=False)[0] == 403
    staff_csrf, staff.csrf = staff.csrf, "forged"
    try:
        assert staff.post("/staff/api/assist", {"text": "住民票"})[0] == 403
    finally:
        staff.csrf = staff_csrf
    assert staff.post("/staff/api/assist", {"text": "住民票"})[0] == 200


def test_assist_gives_the_bots_understanding_the_card_and_a_ready_answer(staff):
    status, body = staff.post("/staff/api/assist", {
        "text": "来月ほかの市に引っ越すんですが、転出届ってネットでできますか。番号は09012345678です"})
    assert status == 200 and body["problem"] is None
    assert body["intents"][0]["name"] == "ask_online" and body["intents"][0]["confidence"] > 0.5
    assert len(body["intents"]) == 5
    assert {"id": "tenshutsu", "text": "転出届"}.items() <= body["procedures"][0].items()
    assert "09012345678" not in body["text"]
    card = body["card"]
    assert card["id"] == "tenshutsu" and card["online"]["status"] == "できる"
    assert "引越しワンストップサービス" in card["online"]["channels"]
    assert card["deadline"]["text"].startswith("引っ越す前に") and not card["deadline"]["computable"]
    assert card["sources"][0]["checked"] and card["documents"]
    assert card["municipality"]["sample"] is True
    assert body["topic"] == "online" and body["answer"].startswith("【転出届】")
    assert "マイナポータル" in body["answer"] or "オンライン" in body["answer"]


def test_the_deadline_calculator_turns_an_event_date_into_a_due_date(staff):
    status, body = staff.post("/staff/api/deadline", {"procedure_id": "tennyu",
                                                      "event_date": "2026-03-03"})
    assert status == 200
    assert body["due"] == "2026-03-17" and "住民基本台帳法" in body["basis"]
    assert "3月17日" in body["text"]
    assert staff.post("/staff/api/deadline", {"procedure_id": "juminhyo",
                                              "event_date": "2026-03-03"})[0] == 422
    assert staff.post("/staff/api/deadline", {"procedure_id": "tennyu",
                                              "event_date": "3月3日"})[0] == 400


@pytest.mark.parametrize("query, first", [
    ("じゅうみんひょうのうつし", "juminhyo"),   # kana only
    ("住民標", "juminhyo"),                      # typo
    ("印鑑照明", "inkan_shomei"),                # homophone kanji
    ("はんこを登録したい", "inkan_toroku"),      # paraphrase
    ("借金を相続したくない", "sozoku_hoki"),
    ("かくていしんこく", "kakutei_shinkoku"),    # not 準確定申告
])
def test_search_ranks_the_right_procedure_first(staff, query, first):
    status, body = staff.get("/staff/api/search?q=" + query)
    assert status == 200 and body["hits"][0]["id"] == first


def test_search_covers_the_qa_entries(staff):
    _, body = staff.get("/staff/api/search?q=印鑑登録証をなくした")
    assert body["entries"][0]["id"] == "inkan_toroku_card_lost"
    status, detail = staff.get("/staff/api/entries/inkan_toroku_card_lost")
    assert status == 200 and detail["card"]["id"] == "inkan_toroku"
    assert detail["answer"].startswith("【印鑑登録】\nQ. 印鑑登録証(カード)をなくしたら")
    assert detail["entry"]["answer"][0] in detail["answer"]
    assert staff.get("/staff/api/entries/no_such_entry")[0] == 404
    # The assist tool shows the entries a caller's sentence speaks of, too.
    status, assist = staff.post("/staff/api/assist", {"text": "印鑑登録証をなくしてしまいました"})
    assert status == 200 and "inkan_toroku_card_lost" in [e["id"] for e in assist["entries"]]


def test_search_filters_by_life_event_and_online_channel(staff):
    _, by_event = staff.get("/staff/api/search?q=届&life_event=death")
    assert by_event["hits"] and all("death" in h["life_events"] for h in by_event["hits"])
    assert "shibo_todoke" in [h["id"] for h in by_event["hits"]]
    _, by_channel = staff.get("/staff/api/search?q=証明書&channel=konbini")
    assert {h["id"] for h in by_channel["hits"]} <= {"juminhyo", "inkan_shomei",
                                                      "koseki_shomei", "konbini_kofu"}
    assert "inkan_shomei" in {h["id"] for h in by_channel["hits"]}
    assert staff.get("/staff/api/search?q=x&channel=fax")[0] == 400


def test_handoff_queue_life_cycle_on_the_widget(public_bot, staff):
    widget = public_bot.widget()
    session = widget.join(uuid.uuid4().hex)
    try:
        asked = widget.ask({"session_id": session, "message": "職員と話したいです"})
        assert asked[-1]["text"].startswith(handoff_queued_answer(None).text.split("\n")[0])
        # while waiting, the bot is silent (no apology) and the message is kept
        assert widget.ask({"session_id": session, "message": "住民票のことで相談です"},
                          wait=6) == []
        queue = eventually(lambda: [h for h in staff.get("/staff/api/handoffs")[1]["handoffs"]
                                    if h["conversation_id"] == session])
        assert queue and queue[0]["status"] == "waiting" and queue[0]["channel"] == "widget"
        handoff = queue[0]["id"]
        _, detail = staff.get(f"/staff/api/handoffs/{handoff}")
        said = [(line["speaker"], line["text"]) for line in detail["lines"]]
        assert ("citizen", "住民票のことで相談です") in said
        assert audit_actions(public_bot, "view_transcript")[-1][:2] == ("suzuki", session)

        assert staff.post(f"/staff/api/handoffs/{handoff}/reply", {"text": "早い"})[0] == 409
        assert staff.post(f"/staff/api/handoffs/{handoff}/claim")[0] == 200
        assert eventually(lambda: any(m.get("text") == CLAIMED_MESSAGE for m in widget.received))
        assert staff.post(f"/staff/api/handoffs/{handoff}/claim")[0] == 409
        status, _ = staff.post(f"/staff/api/handoffs/{handoff}/reply",
                               {"text": "住民票の写しは本人確認書類をお持ちください。"})
        assert status == 200
        assert eventually(lambda: any(m.get("text") == "住民票の写しは本人確認書類をお持ちください。"
                                      for m in widget.received))
        last = detail["lines"][-1]["id"]
        widget.emit({"session_id": session, "message": "わかりました"})
        new = eventually(lambda: staff.get(f"/staff/api/handoffs/{handoff}?after={last}")[1]["lines"])
        assert ("staff", "suzuki") in [(l["speaker"], l["staff"]) for l in new]
        assert eventually(lambda: "わかりました" in [
            l["text"] for l in staff.get(f"/staff/api/handoffs/{handoff}?after={last}")[1]["lines"]])

        assert staff.post(f"/staff/api/handoffs/{handoff}/release")[0] == 200
        assert eventually(lambda: any(m.get("text") == HANDED_BACK_MESSAGE
                                      for m in widget.received))
        answer = widget.ask({"session_id": session, "message": "転入届の期限は?"})
        assert any("転入届" in (m.get("text") or "") for m in answer)
        assert session not in [h["conversation_id"]
                               for h in staff.get("/staff/api/handoffs")[1]["handoffs"]]
        for action in ("claim", "reply", "release"):
            assert ("suzuki", session) == audit_actions(public_bot, action)[-1][:2]
    finally:
        widget.close()


def test_a_waiting_citizen_can_go_back_to_the_bot(public_bot, staff):
    widget = public_bot.widget()
    session = widget.join(uuid.uuid4().hex)
    try:
        widget.ask({"session_id": session, "message": "人と話したい"})
        assert eventually(lambda: [h for h in staff.get("/staff/api/handoffs")[1]["handoffs"]
                                   if h["conversation_id"] == session])
        back = widget.ask({"session_id": session, "message": "ボットに戻る"})
        assert [m["text"] for m in back] == [BACK_TO_BOT]
        assert eventually(lambda: not [h for h in staff.get("/staff/api/handoffs")[1]["handoffs"]
                                       if h["conversation_id"] == session])
        _, closed = staff.get("/staff/api/handoffs?closed=1")
        assert [h["closed_by"] for h in closed["handoffs"]
                if h["conversation_id"] == session] == ["citizen"]
        answer = widget.ask({"session_id": session, "message": "児童手当の申請に必要なものは?"})
        assert any("児童手当" in (m.get("text") or "") for m in answer)
    finally:
        widget.close()


def test_a_staff_reply_reaches_a_line_user_by_push(public_bot, staff):
    user = f"U{uuid.uuid4().hex}"
    public_bot.line.send(line_event(text="担当者につないでください", user=user))
    queue = eventually(lambda: [h for h in staff.get("/staff/api/handoffs")[1]["handoffs"]
                                if h["conversation_id"] == user])
    assert queue and queue[0]["channel"] == "line"
    handoff = queue[0]["id"]
    assert staff.post(f"/staff/api/handoffs/{handoff}/claim")[0] == 200
    assert staff.post(f"/staff/api/handoffs/{handoff}/reply", {"text": "お待たせしました。"})[0] == 200
    pushes = [r for r in public_bot.standin.requests
              if r["path"] == "/v2/bot/message/push" and r["body"]["to"] == user]
    assert [m["text"] for r in pushes for m in r["body"]["messages"]] == [
        CLAIMED_MESSAGE, "お待たせしました。"]
    assert staff.post(f"/staff/api/handoffs/{handoff}/release")[0] == 200


def groups_by_text(staff: StaffClient) -> Dict[str, Dict[str, Any]]:
    return {g["text"]: g for g in staff.get("/staff/api/unanswered")[1]["groups"]}


def test_unanswered_questions_are_grouped_counted_linked_and_exported(public_bot, staff):
    for wording in ("明日の天気を教えてください", "明日の天気を教えて"):
        public_bot.rest.say(uuid.uuid4().hex, wording)
    for _ in range(2):  # answered, then marked 👎
        sender = uuid.uuid4().hex
        public_bot.rest.say(sender, "住民票はどこでもらえますか")
        public_bot.rest.say(sender, "/answer_unhelpful")
    weather = eventually(lambda: groups_by_text(staff).get("明日の天気を教えてください")
                         or groups_by_text(staff).get("明日の天気を教えて"))
    assert weather["count"] == 2 and weather["reasons"][0]["reason"] == "out_of_scope"
    assert sorted(weather["examples"]) == ["明日の天気を教えて", "明日の天気を教えてください"]
    unhelpful = groups_by_text(staff)["住民票はどこでもらえますか"]
    assert unhelpful["count"] == 2 and unhelpful["reasons"][0]["reason"] == "unhelpful"
    # A specific question the bot has no answer for is listed too.
    public_bot.rest.say(uuid.uuid4().hex, "転入届の窓口にペットの犬を連れて行ってもいいですか")
    no_answer = eventually(lambda: groups_by_text(staff).get(
        "転入届の窓口にペットの犬を連れて行ってもいいですか"))
    assert no_answer["reasons"][0]["reason"] == "no_answer"
    assert unhelpful["first_seen"] <= unhelpful["last_seen"]

    status, body = staff.post(f"/staff/api/unanswered/{weather['id']}/link",
                              {"procedure_id": "juminhyo"})
    assert status == 200 and body["count"] == 2
    assert staff.post(f"/staff/api/unanswered/{weather['id']}/link",
                      {"procedure_id": "no_such"})[0] == 400
    assert staff.post("/staff/api/unanswered/abc/link", {"procedure_id": "juminhyo"})[0] == 400
    assert staff.get("/staff/api/handoffs/abc")[0] == 400
    assert staff.get("/staff/api/handoffs/1?after=x")[0] == 400
    linked = groups_by_text(staff)[weather["text"]]
    assert linked["procedure"] == {"id": "juminhyo", "name": "住民票の写しの交付請求"}

    status, text = staff.get("/staff/api/unanswered.csv")
    assert status == 200 and staff.last_headers["Content-Type"].startswith("text/csv")
    assert "attachment" in staff.last_headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:5] == ["グループID", "代表的な質問", "件数", "初回", "最終"]
    exported = {row[1]: row for row in rows[1:]}
    assert exported[weather["text"]][2] == "2" and exported[weather["text"]][6] == "juminhyo"
    assert "役に立たなかった" in exported["住民票はどこでもらえますか"][5]
    assert audit_actions(public_bot, "export_csv")[-1][0] == "suzuki"


def test_a_clarification_nobody_answers_is_logged_as_abandoned(public_bot, staff):
    sender = uuid.uuid4().hex
    _, answer = public_bot.rest.say(sender, "ほげほげふがふが")
    assert answer  # the bot asked back (nlu_fallback → action_clarify)
    group = eventually(lambda: groups_by_text(staff).get("ほげほげふがふが"), timeout=30)
    assert group is not None
    assert eventually(lambda: groups_by_text(staff)["ほげほげふがふが"]["reasons"][0]["reason"]
                      == "abandoned_clarification", timeout=30)


def test_csv_cells_never_become_formulas(public_bot, staff):
    public_bot.rest.say(uuid.uuid4().hex, "=HYPERLINK(\"http://example.com\")天気")
    eventually(lambda: any(t.startswith("=HYPERLINK") for t in groups_by_text(staff)), timeout=20)
    _, text = staff.get("/staff/api/unanswered.csv")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not any(cell.startswith("=") for cell in cells)
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)
