"""Faults caused for real on a running bot: processes killed and frozen, the knowledge
base and the tracker database removed or locked, the whole bot restarted. The citizen
always gets an answer (or the apology), and conversations keep their context.

The tests run in file order on one bot; each leaves it healthy for the next.
"""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, List

import psutil
import pytest

from bot.build import model_is_current
from bot.channels.intake import APOLOGY
from bot.config import ROOT
from knowledge.queries import KnowledgeBase
from tests.clients import RestClient
from tests.conftest import start_bot

pytestmark = pytest.mark.skipif(not model_is_current(),
                                reason="no current model: run `make test`, which trains it")

RASA_PORT, ACTION_PORT = 15010, 15060
REPLY_TIMEOUT = "3"
rest = RestClient(RASA_PORT)


class Bot:
    """The launcher and the files it works on, restartable by the tests."""

    def __init__(self, kb: KnowledgeBase, tracker: Path) -> None:
        self.kb, self.tracker = kb, tracker
        self.kb_file = Path(kb.url.removeprefix("sqlite:///"))
        self.launcher = self.start()

    def start(self) -> subprocess.Popen:
        return start_bot(self.kb, self.tracker, RASA_PORT, ACTION_PORT,
                         {"BOT_REPLY_TIMEOUT": REPLY_TIMEOUT})

    def stop(self) -> str:
        """Stop the launcher as Ctrl-C would; what it printed after starting."""
        self.launcher.send_signal(signal.SIGINT)
        output, _ = self.launcher.communicate(timeout=60)
        return output

    def child(self, module: str) -> psutil.Process:
        """The launcher's child process running ``python -m module``."""
        for process in psutil.Process(self.launcher.pid).children():
            if module in process.cmdline()[1:4]:
                return process
        raise LookupError(module)

    @property
    def log(self) -> str:
        return (self.tracker.parent / "logs" / "rasa.log").read_text("utf-8", "replace")


@pytest.fixture(scope="module")
def bot(tmp_path_factory, kb):
    directory = tmp_path_factory.mktemp("faults")
    shutil.copy(kb.url.removeprefix("sqlite:///"), directory / "knowledge.db")
    own_kb = KnowledgeBase(f"sqlite:///{directory / 'knowledge.db'}")
    bot = Bot(own_kb, directory / "tracker.db")
    yield bot
    if bot.launcher.poll() is None:
        bot.stop()
    own_kb.close()


def ask(sender: str, text: str) -> List[str]:
    status, reply = rest.say(sender, text)
    assert status == 200
    return [m.get("text", "") for m in reply]


def eventually(check: Callable[[], bool], wait: float = 120.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def answers_normally(sender: str = "") -> bool:
    texts = ask(sender or f"probe-{uuid.uuid4().hex[:8]}", "出生届について教えて")
    return bool(texts) and texts[0].startswith("【出生届】")


def run_launcher(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.launcher"], cwd=ROOT, text=True,
                          capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "RASA_PORT": "15011",
                               "ACTION_PORT": "15061", "WEB_PORT": "18011", **env})


def test_a_missing_or_broken_knowledge_base_stops_the_start_with_its_name(tmp_path):
    missing = tmp_path / "nowhere" / "knowledge.db"
    result = run_launcher({"KNOWLEDGE_DB_URL": f"sqlite:///{missing}",
                           "BOT_STATE_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert f"the knowledge base {missing} does not exist: build it with `make kb`" in result.stderr
    assert not missing.exists()  # not created empty by the check
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 100)
    result = run_launcher({"KNOWLEDGE_DB_URL": f"sqlite:///{broken}",
                           "BOT_STATE_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert f"the knowledge base {broken} cannot be read" in result.stderr
    assert "ready" not in result.stdout


def test_an_invalid_knowledge_file_stops_the_build_with_its_name(knowledge_copy, tmp_path):
    (knowledge_copy / "procedures" / "02_moving.yaml").write_text("procedures: [\n", "utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "knowledge.loader", "--root", str(knowledge_copy),
         "--db", f"sqlite:///{tmp_path / 'kb.db'}"],
        cwd=ROOT, text=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 1
    assert "knowledge/procedures/02_moving.yaml: not valid YAML" in result.stdout + result.stderr


def test_action_server_killed_gives_the_apology_then_it_is_started_again(bot):
    bot.child("rasa_sdk").kill()
    assert APOLOGY in ask(f"down-{uuid.uuid4().hex[:8]}", "転入届の必要なものは?")
    assert eventually(answers_normally)


def test_action_server_frozen_gives_the_apology_then_answers_again(bot):
    frozen = bot.child("rasa_sdk")
    frozen.suspend()
    try:
        sender = f"slow-{uuid.uuid4().hex[:8]}"
        assert ask(sender, "転入届の必要なものは?") == [APOLOGY]
    finally:
        frozen.resume()
    assert eventually(answers_normally)


def test_knowledge_base_removed_while_running_gives_the_apology(bot):
    saved = bot.kb_file.with_suffix(".saved")
    bot.kb_file.rename(saved)
    try:
        assert ask(f"nokb-{uuid.uuid4().hex[:8]}", "転入届の必要なものは?") == [APOLOGY]
    finally:
        saved.rename(bot.kb_file)
    assert eventually(answers_normally)
    action_log = (bot.tracker.parent / "logs" / "action.log").read_text("utf-8", "replace")
    assert "unable to open database file" in action_log


def test_tracker_database_locked_logs_an_error_and_still_answers(bot):
    sender = f"locked-{uuid.uuid4().hex[:8]}"
    locker = sqlite3.connect(bot.tracker, timeout=1)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        texts = ask(sender, "出生届について教えて")
    finally:
        locker.rollback()
        locker.close()
    assert texts and (texts[0].startswith("【出生届】") or texts == [APOLOGY])
    assert "database is locked" in bot.log
    assert eventually(answers_normally)


def test_rasa_killed_mid_conversation_continues_with_its_context(bot):
    sender = f"restart-{uuid.uuid4().hex[:8]}"
    assert ask(sender, "出生届について教えて")[0].startswith("【出生届】")
    bot.child("rasa").kill()
    assert eventually(lambda: answers_normally())
    assert ask(sender, "期限は?")[0].startswith("【出生届】\n■期限")


def test_the_whole_bot_restarted_loses_nothing(bot):
    sender = f"again-{uuid.uuid4().hex[:8]}"
    assert ask(sender, "児童手当について教えて")[0].startswith("【児童手当")
    printed = bot.stop()
    assert bot.launcher.returncode == 0 and printed.endswith("stopped\n")
    # What the launcher said about the processes killed by the tests before this one.
    assert "action server stopped unexpectedly (code -9); starting it again" in printed
    assert "Rasa stopped unexpectedly (code -9); starting it again" in printed
    bot.launcher = bot.start()
    assert ask(sender, "必要なものは?")[0].startswith("【児童手当")
    with sqlite3.connect(bot.tracker) as db:
        said = [row[0] for row in db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'", (sender,))]
    assert len(said) == 2


def test_tracker_database_removed_logs_an_error_and_still_answers(bot):
    bot.tracker.unlink()
    texts = ask(f"gone-{uuid.uuid4().hex[:8]}", "出生届について教えて")
    assert texts[0].startswith("【出生届】")
    assert "no such table: events" in bot.log
