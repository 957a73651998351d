"""The LINE channel: message conversion rules, and the webhook on the real Rasa server.

The webhook tests start the real servers with a trained model and point the channel at
a local stand-in for LINE's API, which records what the bot sends.
"""
from __future__ import annotations

import json
import uuid

import pytest

from bot.build import model_is_current
from bot.channels.line import ONLY_TEXT_REPLY, valid_signature
from bot.channels.line_messages import (MAX_MESSAGES, label, procedure_flex, quick_reply,
                                        split_text, to_line_messages, utf16_length)
from tests.clients import LineClient, line_event
from tests.conftest import start_bot
from tests.line_standin import LineStandIn

SECRET = "test-channel-secret"
RASA_PORT, ACTION_PORT = 15006, 15056


def test_lines_published_signature_example_verifies():
    assert valid_signature("channel_secret", b"bodybodybodybody",
                           "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k=")
    assert not valid_signature("channel_secret", b"bodybodybodybodx",
                               "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k=")


def test_text_is_split_at_5000_utf16_units():
    text = "あ" * 4999 + "🍎" + "い" * 10  # the apple is two units: it cannot fit in chunk one
    chunks = split_text(text)
    assert [utf16_length(c) for c in chunks] == [4999, 12]
    assert "".join(chunks) == text
    lines = ("一行" * 100 + "\n") * 30  # 6,030 units: cut at the last line break that fits
    first, second = split_text(lines)
    assert utf16_length(first) <= 5000 and first.endswith("一行") and second.startswith("一行")


def test_quick_reply_limits():
    buttons = [{"title": f"とても長いボタンの名前でございますその{i}番目です", "payload": f"/ask_fee{i}"}
               for i in range(20)]
    items = quick_reply(buttons)["items"]
    assert len(items) == 13
    assert all(len(item["action"]["label"]) <= 20 for item in items)
    assert items[0]["action"] == {"type": "postback", "label": "とても長いボタンの名前でございますその0",
                                  "data": "/ask_fee0", "displayText": "とても長いボタンの名前でございますその0番目です"}
    assert label("👨\u200d👩\u200d👧" * 25) == "👨\u200d👩\u200d👧" * 20  # graphemes, not code points


def test_at_most_five_messages_and_quick_reply_on_the_last():
    collected = [{"text": f"メッセージ{i}"} for i in range(7)]
    collected[-1]["buttons"] = [{"title": "期限", "payload": "/ask_deadline"}]
    objects = to_line_messages(collected)
    assert len(objects) == MAX_MESSAGES
    assert objects[-1]["text"] == "メッセージ4\n\nメッセージ5\n\nメッセージ6"
    assert objects[-1]["quickReply"]["items"][0]["action"]["data"] == "/ask_deadline"


CARD = {"type": "procedure_card", "topic": "deadline", "procedure": {
    "id": "tennyu", "name": "転入届", "office": "新しい住所の市区町村",
    "online": {"status": "できない", "channels": [], "text": "窓口で届け出ます。"},
    "documents": ["転出証明書", "本人確認書類"],
    "deadline": {"text": "14日以内です。", "basis": "住民基本台帳法 第22条"}, "fee": None,
    "sources": [{"title": "t", "url": "https://www.city.example.lg.jp/a", "checked": "2026-11-01"}]},
    "municipality": None}


def test_procedure_card_becomes_a_flex_bubble_with_plain_alt_text():
    flex = procedure_flex(CARD)
    assert flex["type"] == "flex"
    assert flex["altText"] == "転入届:オンライン できない/期限 14日以内です。"
    bubble = flex["contents"]
    assert bubble["type"] == "bubble"
    assert bubble["header"]["contents"][0]["text"] == "転入届"
    rows = [box["contents"][0]["text"] for box in bubble["body"]["contents"]]
    assert rows == ["オンライン", "期限", "必要なもの"]
    assert bubble["footer"]["contents"][0]["action"]["uri"] == "https://www.city.example.lg.jp/a"


# --- the webhook on the real server ---------------------------------------------------

needs_model = pytest.mark.skipif(not model_is_current(),
                                 reason="no current model: run `make test`, which trains it")


@pytest.fixture(scope="module")
def line(tmp_path_factory, kb):
    standin = LineStandIn().start()
    tracker = tmp_path_factory.mktemp("line") / "tracker.db"
    launcher = start_bot(kb, tracker, RASA_PORT, ACTION_PORT, {
        "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": "test-token",
        "LINE_API_BASE_URL": standin.url})
    yield standin
    launcher.terminate()
    launcher.wait(timeout=60)
    standin.stop()


CLIENT = LineClient(RASA_PORT, SECRET)


def post(body: bytes, signature: str = None) -> int:
    return CLIENT.raw(body, signature)[0]


def sign(body: bytes) -> str:
    return CLIENT.sign(body)


def send(*events: dict) -> int:
    return CLIENT.send(*events)[0]


def replies_to(standin: LineStandIn, token: str, count: int = 1, wait: float = 30.0):
    return standin.received(lambda r: r["body"].get("replyToken") == token, count, wait)


@needs_model
def test_missing_or_wrong_signature_is_refused_and_nothing_is_processed(line):
    before = len(line.requests)
    body = json.dumps({"events": [line_event(token="unsigned")]}).encode()
    assert post(body) == 401
    assert post(body, "d3Jvbmc=") == 401
    assert post(body, sign(body + b" ")) == 401
    assert line.received(lambda r: r["body"].get("replyToken") == "unsigned", wait=2) == []
    assert len(line.requests) == before


@needs_model
def test_malformed_bodies_get_4xx_and_unknown_events_are_ignored(line):
    for body in (b"{not json", b'{"events": "nope"}', b"[]", "ä".encode("latin-1")):
        assert post(body, sign(body)) == 400
    huge = b'{"events": [], "pad": "' + b"x" * 1_100_000 + b'"}'
    assert post(huge, sign(huge)) == 413
    token = uuid.uuid4().hex
    assert send(line_event("beacon", token=token)) == 200
    assert line.received(lambda r: r["body"].get("replyToken") == token, wait=2) == []


@needs_model
def test_text_message_gets_the_answer_with_card_and_quick_replies(line):
    token = uuid.uuid4().hex
    assert send(line_event(text="転入届はネットでできますか", token=token)) == 200
    (request,) = replies_to(line, token)
    assert request["headers"]["Authorization"] == "Bearer test-token"
    messages = request["body"]["messages"]
    assert messages[0]["type"] == "text" and messages[0]["text"].startswith("【転入届】")
    assert messages[1]["type"] == "flex" and messages[1]["altText"].startswith("転入届:オンライン できない")
    items = messages[-1]["quickReply"]["items"]
    assert [i["action"]["label"] for i in items] == ["期限", "必要なもの", "窓口・場所", "代理人",
                                                     "👍 役に立った", "👎 役に立たなかった"]
    assert items[0]["action"]["data"] == '/ask_deadline{"procedure":"tennyu"}'
    assert items[-1]["action"]["data"] == "/answer_unhelpful"


@needs_model
def test_each_user_is_one_conversation_and_context_carries_over(line):
    user, first, second = f"U{uuid.uuid4().hex}", uuid.uuid4().hex, uuid.uuid4().hex
    send(line_event(text="出生届について教えて", user=user, token=first))
    replies_to(line, first)
    send(line_event(text="期限は?", user=user, token=second))
    (request,) = replies_to(line, second)
    assert request["body"]["messages"][0]["text"].startswith("【出生届】\n■期限")


@needs_model
def test_postback_payload_is_the_users_message(line):
    token = uuid.uuid4().hex
    send(line_event("postback", token=token, postback={"data": '/ask_fee{"procedure":"juminhyo"}'}))
    (request,) = replies_to(line, token)
    assert request["body"]["messages"][0]["text"].startswith("【住民票の写しの交付請求】\n■手数料")


@needs_model
def test_redelivered_event_is_processed_once(line):
    token = uuid.uuid4().hex
    original = line_event(token=token, text="印鑑証明はどこで取れますか")
    redelivery = {**original, "deliveryContext": {"isRedelivery": True}}
    assert send(original) == 200 and send(redelivery) == 200
    assert len(replies_to(line, token)) == 1
    assert len(replies_to(line, token, count=2, wait=3)) == 1  # and no second reply comes


@needs_model
def test_failed_reply_token_falls_back_to_push_with_one_retry_key(line):
    token, user = uuid.uuid4().hex, f"U{uuid.uuid4().hex}"
    line.invalid_reply_tokens.add(token)
    line.push_failures = 2  # LINE answers 500 twice: the push is retried with the same key
    send(line_event(token=token, user=user, text="死亡届の期限は?"))
    pushes = line.received(lambda r: r["path"].endswith("/push") and r["body"]["to"] == user, 3)
    assert len(pushes) == 3
    keys = {p["headers"]["X-Line-Retry-Key"] for p in pushes}
    assert len(keys) == 1 and uuid.UUID(keys.pop())
    assert pushes[0]["body"]["messages"][0]["text"].startswith("【死亡届】")


@needs_model
def test_group_messages_are_answered_to_the_group(line):
    token, group = uuid.uuid4().hex, f"C{uuid.uuid4().hex}"
    line.invalid_reply_tokens.add(token)
    send(line_event(token=token, text="婚姻届に期限はありますか",
               source={"type": "group", "groupId": group, "userId": f"U{uuid.uuid4().hex}"}))
    (push,) = line.received(lambda r: r["path"].endswith("/push") and r["body"]["to"] == group)
    assert "婚姻届に提出期限はありません" in push["body"]["messages"][0]["text"]


@needs_model
def test_follow_gets_a_greeting_and_stickers_a_polite_text_only_reply(line):
    follow, sticker = uuid.uuid4().hex, uuid.uuid4().hex
    send(line_event("follow", token=follow))
    send(line_event(token=sticker, message={"type": "sticker", "id": "2", "packageId": "1",
                                        "stickerId": "1"}))
    (greeting,) = replies_to(line, follow)
    assert "行政手続きのご案内をします" in greeting["body"]["messages"][0]["text"]
    (answer,) = replies_to(line, sticker)
    assert answer["body"]["messages"] == [{"type": "text", "text": ONLY_TEXT_REPLY}]
