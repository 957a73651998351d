"""Shared fixtures: the real knowledge files, loaded into a real SQLite database."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

import pytest

from bot.config import ROOT
from knowledge.loader import (ROOT as KNOWLEDGE_ROOT, build_database, calibrate, content_hash,
                              load_catalog)
from knowledge.queries import KnowledgeBase
from tests.clients import LineClient, RestClient, WidgetClient
from tests.line_standin import LineStandIn


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def kb(tmp_path_factory, catalog):
    path = tmp_path_factory.mktemp("kb") / "knowledge.db"
    calibration, _ = calibrate(catalog, dt.date(2026, 12, 1))
    build_database(catalog, f"sqlite:///{path}", content_hash(), calibration)
    base = KnowledgeBase(f"sqlite:///{path}")
    yield base
    base.close()


@pytest.fixture
def knowledge_copy(tmp_path) -> Path:
    """A writable copy of knowledge/ for tests that break it on purpose."""
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def start_bot(kb: KnowledgeBase, tracker: Path, rasa_port: int, action_port: int,
              extra_env: Dict[str, str]) -> subprocess.Popen:
    """The real launcher on its own ports (web app on rasa_port + 3000), databases, LINE
    settings and state directory (endpoints file and logs, beside the tracker database);
    fails the test with the launcher's output if it does not report ready."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LINE_")}
    env.update({"RASA_PORT": str(rasa_port), "ACTION_PORT": str(action_port),
                "WEB_PORT": str(rasa_port + 3000),
                "KNOWLEDGE_DB_URL": kb.url, "TRACKER_DB_URL": f"sqlite:///{tracker}",
                "BOT_STATE_DIR": str(tracker.parent),
                "STAFF_DIR": str(tracker.parent / "staff"),
                "STAFF_DB_URL": f"sqlite:///{tracker.parent / 'staff.db'}",
                "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **extra_env})
    launcher = subprocess.Popen([sys.executable, "-m", "bot.launcher"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = launcher.stdout.readline()
    if not first.startswith("ready"):
        launcher.kill()
        pytest.fail(f"launcher did not start: {first}{launcher.stdout.read()}")
    return launcher


CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium():
    """Debian's headless Chromium driven by Playwright (``make test`` installs it)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("no chromium: `make test` installs it")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync"])
        yield browser
        browser.close()


PUBLIC_RASA_PORT, PUBLIC_ACTION_PORT = 15009, 15059
PUBLIC_LINE_SECRET = "public-bot-channel-secret"
PUBLIC_LINE_TOKEN = "public-bot-access-token"
PUBLIC_BRIDGE_TOKEN = "public-bot-staff-bridge-token"


@dataclass
class PublicBot:
    """The bot with all three public channels on, logging at DEBUG into ``state``."""

    rest: RestClient
    line: LineClient
    standin: LineStandIn
    state: Path
    tracker: Path
    origin: str

    def widget(self) -> WidgetClient:
        return WidgetClient(PUBLIC_RASA_PORT, self.origin)


@pytest.fixture(scope="session")
def public_bot(tmp_path_factory, kb):
    standin = LineStandIn().start()
    tracker = tmp_path_factory.mktemp("public") / "tracker.db"
    launcher = start_bot(kb, tracker, PUBLIC_RASA_PORT, PUBLIC_ACTION_PORT, {
        "LINE_CHANNEL_SECRET": PUBLIC_LINE_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": PUBLIC_LINE_TOKEN,
        "LINE_API_BASE_URL": standin.url, "LOG_LEVEL": "DEBUG",
        "CLARIFICATION_ABANDONED_AFTER": "2", "STAFF_BRIDGE_TOKEN": PUBLIC_BRIDGE_TOKEN})
    yield PublicBot(RestClient(PUBLIC_RASA_PORT), LineClient(PUBLIC_RASA_PORT, PUBLIC_LINE_SECRET),
                    standin, tracker.parent, tracker,
                    f"http://localhost:{PUBLIC_RASA_PORT + 3000}")
    launcher.terminate()
    launcher.wait(timeout=60)
    standin.stop()


STAFF_PASSWORD = "kuyakusho-staff-2026"


def accounts_command(state: Path, *args: str, password: str = STAFF_PASSWORD
                     ) -> subprocess.CompletedProcess:
    """``python -m bot.staff.accounts`` on a bot's staff directory, password on stdin."""
    env = {**os.environ, "STAFF_DIR": str(state / "staff"), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bot.staff.accounts", *args],
                          input=password + "\n", env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture(scope="session")
def staff_account(public_bot) -> str:
    """A staff account on the public bot, made with the accounts command."""
    result = accounts_command(public_bot.state, "add", "suzuki", "--name", "鈴木",
                              "--password-stdin")
    assert result.returncode == 0, result.stderr
    return "suzuki"
