"""The real servers, started by the launcher, answering on the REST channel.

Needs the trained model; `make test` trains it first when it is stale.
"""
from __future__ import annotations

import json
import signal
import socket
import sqlite3
import urllib.error
import urllib.request
import uuid

import pytest

from bot.build import model_is_current
from tests.clients import RestClient
from tests.conftest import start_bot

pytestmark = pytest.mark.skipif(not model_is_current(),
                                reason="no current model: run `make test`, which trains it")

RASA_PORT, ACTION_PORT = 15005, 15055


def free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def say(sender: str, message: str) -> list:
    status, reply = RestClient(RASA_PORT).say(sender, message)
    assert status == 200
    return reply


@pytest.fixture(scope="module")
def bot(tmp_path_factory, kb):
    tracker = tmp_path_factory.mktemp("tracker") / "tracker.db"
    launcher = start_bot(kb, tracker, RASA_PORT, ACTION_PORT, {})
    yield launcher, tracker
    if launcher.poll() is None:
        launcher.kill()


def test_answers_and_carries_the_procedure_over(bot):
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    first = say(sender, "出生届について教えて")
    assert first[0]["text"].startswith("【出生届】")
    # Rasa's REST channel sends the card as its own message after the text.
    card = next(m["custom"] for m in first if "custom" in m)
    assert card["procedure"]["id"] == "shussei_todoke"
    # The overview is a summary (窓口, online, deadline); the rest is behind buttons.
    assert "■期限:" in first[0]["text"] and "■必要なもの" not in first[0]["text"]
    assert [b["title"] for b in first[0]["buttons"]] == ["必要なもの", "窓口・場所", "代理人", "手数料"]
    follow_up = say(sender, "期限は?")
    text = follow_up[0]["text"]
    assert text.startswith("【出生届】\n■期限")
    assert "根拠:戸籍法 第49条" in text
    button = say(sender, '/ask_documents{"procedure":"tennyu"}')
    assert button[0]["text"].startswith("【転入届】\n■必要なもの")


def test_unknown_text_gets_a_polite_answer(bot):
    reply = say(f"e2e-{uuid.uuid4().hex[:8]}", "今日の天気を教えて")
    assert "お答えできません" in reply[0]["text"]


def test_line_channel_is_off_without_its_secrets(bot):
    with urllib.request.urlopen(f"http://127.0.0.1:{RASA_PORT}/webhooks/line/", timeout=10) as r:
        assert json.loads(r.read()) == {"status": "disabled"}
    request = urllib.request.Request(f"http://127.0.0.1:{RASA_PORT}/webhooks/line/webhook",
                                     b'{"events": []}', {"X-Line-Signature": "x"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 404


def test_conversation_is_stored_and_everything_stops_on_sigterm(bot):
    launcher, tracker = bot
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    say(sender, "転入届はネットでできますか")
    with sqlite3.connect(tracker) as db:
        stored = db.execute("select count(*) from events where sender_id = ?", (sender,)).fetchone()
    assert stored[0] > 0
    launcher.send_signal(signal.SIGTERM)
    assert launcher.wait(timeout=60) == 0
    assert "stopped" in launcher.stdout.read()
    assert free(RASA_PORT) and free(ACTION_PORT)
