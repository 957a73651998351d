"""Personal data sent on any channel never reaches the tracker database or a log file.

The running bot logs at DEBUG (Rasa then logs every user message), so the logs are the
hardest place to keep clean. Each value is searched for as written and as bare digits.
"""
from __future__ import annotations

import json
import sqlite3
import unicodedata
import uuid
from pathlib import Path
from typing import Iterator, List

import pytest

from bot.build import model_is_current
from bot.channels.intake import PRIVACY_NOTICE
from bot.privacy import mynumber_check_digit
from tests.clients import line_event

pytestmark = pytest.mark.skipif(not model_is_current(),
                                reason="no current model: run `make test`, which trains it")

FIRST_ELEVEN = "47192263851"
MYNUMBER = FIRST_ELEVEN + str(mynumber_check_digit([int(d) for d in FIRST_ELEVEN]))
WRITTEN = {
    "rest": (f"{MYNUMBER[:4]} {MYNUMBER[4:8]} {MYNUMBER[8:]}", "090-4271-8836",
             "kosodate.taro@example.jp"),
    "widget": ("".join(chr(ord(d) + 0xFEE0) for d in MYNUMBER), "03(6271)4492",
               "hanako.widget@example.jp"),
    "line": (f"{MYNUMBER[:4]}-{MYNUMBER[4:8]}-{MYNUMBER[8:]}", "+81 80-5512-7304",
             "line.user@example.co.jp"),
}
QUESTION = "マイナンバーは{0}、電話は{1}、メールは{2}です。転入届の必要なものは?"


def digits(text: str) -> str:
    return "".join(str(unicodedata.decimal(c)) for c in text if c.isdecimal())


def strings_in(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def leaks(texts: List[str], by_digits: bool = True) -> List[str]:
    """Each personal value found in ``texts``: as written, its digits alone, or (with
    ``by_digits``) its digits hidden among other characters of one text."""
    found = []
    for number, phone, mail in WRITTEN.values():
        for text in texts:
            if mail.lower() in text.lower() or mail.split("@")[0] in text:
                found.append(mail)
            for value in (number, phone):
                tail = digits(value)[-10:]
                if value in text or tail in text or (by_digits and tail in digits(text)):
                    found.append(value)
    return found


@pytest.fixture(scope="module")
def conversations(public_bot):
    """The question with personal data asked once on each channel; the replies."""
    replies = {}
    status, replies["rest"] = public_bot.rest.say(
        f"privacy-{uuid.uuid4().hex[:8]}", QUESTION.format(*WRITTEN["rest"]))
    assert status == 200
    client = public_bot.widget()
    try:
        session = client.join(f"privacy-{uuid.uuid4().hex[:12]}")
        replies["widget"] = client.ask({"session_id": session,
                                        "message": QUESTION.format(*WRITTEN["widget"])})
    finally:
        client.close()
    event = line_event(text=QUESTION.format(*WRITTEN["line"]))
    assert public_bot.line.send(event)[0] == 200
    sent = public_bot.standin.received(
        lambda r: r["body"].get("replyToken") == event["replyToken"])
    replies["line"] = [m for m in sent[0]["body"]["messages"] if m["type"] == "text"]
    return replies


@pytest.mark.parametrize("channel", ["rest", "widget", "line"])
def test_the_citizen_is_told_not_to_send_it_and_still_gets_the_answer(conversations, channel):
    texts = [m.get("text", "") for m in conversations[channel]]
    assert texts[0] == PRIVACY_NOTICE
    assert any(t.startswith("【転入届】\n■必要なもの") for t in texts)


def test_the_tracker_database_holds_none_of_it(public_bot, conversations):
    with sqlite3.connect(public_bot.tracker) as db:
        rows = db.execute("SELECT sender_id, intent_name, action_name, data FROM events").fetchall()
    texts = [str(column) for row in rows for column in row[:3]]
    texts += [s for row in rows for s in strings_in(json.loads(row[3]))]
    masked = [s for s in texts if "マイナンバーは＊＊＊＊、電話は＊＊＊＊、メールは＊＊＊＊" in s]
    assert len(masked) >= 3  # the three questions are stored, masked
    assert leaks(texts) == []
    files = [p for p in public_bot.tracker.parent.glob("tracker.db*") if p.is_file()]
    raw = b"".join(p.read_bytes() for p in files).decode("latin-1")
    assert leaks([raw], by_digits=False) == []


def test_no_log_file_holds_any_of_it(public_bot, conversations):
    logs: List[Path] = sorted((public_bot.state / "logs").glob("*.log"))
    assert {p.name for p in logs} >= {"rasa.log", "action.log", "web.log"}
    lines = [line for path in logs for line in path.read_text("utf-8", "replace").splitlines()]
    assert any("＊＊＊＊" in line for line in lines)  # Rasa's DEBUG log shows the masked text
    assert leaks(lines) == []
