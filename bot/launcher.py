"""Start every process of the bot, wait until each answers, stop them all together.

    python -m bot.launcher

Checks the knowledge base, starts the action server, the Rasa server (REST, widget and
LINE channels, SQL tracker store) and the web app (sample page with the chat widget),
waits until all answer and prints where to talk to the bot. A process that dies is
started again (a few times; then everything stops), and the conversations continue from
the tracker store. On Ctrl-C or SIGTERM it stops every process it started (each in its
own process group, so no grandchild is orphaned).
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import yaml
from sqlalchemy.engine import make_url

from bot.build import MODEL, model_is_current
from bot.config import ROOT, Settings, load_settings
from bot.staff.accounts import load_accounts
from knowledge.queries import KnowledgeBase, KnowledgeBaseUnavailable, check_knowledge_base

START_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0
MAX_RESTARTS = 5  # per process within RESTART_WINDOW seconds; more means it cannot run
RESTART_WINDOW = 600.0
NO_ACCOUNT_HINT = ("  (no staff account yet: make staff-account ACCOUNT=yourname)")
# Sanic refuses larger requests with 413 before any channel reads them.
MAX_REQUEST_BYTES = 1_048_576


@dataclass
class Child:
    name: str
    command: List[str]
    health_url: str
    log: Path
    process: Optional[subprocess.Popen] = None

    def launch(self, env: Dict[str, str]) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)


def tracker_store(url: str) -> Dict[str, object]:
    """Rasa's SQL tracker store settings from a database URL (SQLite or PostgreSQL).

    The password is not written to disk: Rasa reads ``${TRACKER_DB_PASSWORD}`` from the
    environment the launcher passes on.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = Path(parsed.database)
        database.parent.mkdir(parents=True, exist_ok=True)
        return {"type": "SQL", "dialect": "sqlite", "db": str(database)}
    store: Dict[str, object] = {"type": "SQL", "dialect": parsed.get_backend_name(),
                                "url": parsed.host, "db": parsed.database}
    if parsed.port:
        store["port"] = parsed.port
    if parsed.username:
        store["username"] = parsed.username
    if parsed.password:
        store["password"] = "${TRACKER_DB_PASSWORD}"
    return store


def write_endpoints(settings: Settings) -> Path:
    """The endpoints file Rasa reads, generated from the one place settings live."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    path = settings.state_dir / "endpoints.yml"
    endpoints = {"action_endpoint": {"url": settings.action_url},
                 "tracker_store": tracker_store(settings.tracker_db_url)}
    path.write_text(yaml.safe_dump(endpoints, allow_unicode=True), encoding="utf-8")
    return path


def child_environment(settings: Settings) -> Dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Citizens' conversations are not reported anywhere: Rasa's telemetry stays off.
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["SANIC_REQUEST_MAX_SIZE"] = str(MAX_REQUEST_BYTES)
    # rasa_sdk binds 0.0.0.0 unless told otherwise; only Rasa calls it, on loopback.
    # (Rasa itself listens on --interface, BOT_HOST.)
    env["SANIC_HOST"] = "127.0.0.1"
    # The staff tool reaches the bot's staff bridge with this; a new one per start, in
    # no file (bot/channels/staff_bridge.py).
    env.setdefault("STAFF_BRIDGE_TOKEN", secrets.token_urlsafe(32))
    password = make_url(settings.tracker_db_url).password
    if password:
        env["TRACKER_DB_PASSWORD"] = str(password)
    return env


def start(settings: Settings, env: Dict[str, str]) -> List[Child]:
    endpoints = write_endpoints(settings)
    python = sys.executable
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    commands = [
        ("action server", [python, "-m", "rasa_sdk", "--actions", "actions",
                           "--port", str(settings.action_port)],
         f"http://127.0.0.1:{settings.action_port}/health"),
        ("Rasa", [python, "-m", "rasa", "run", "--model", str(MODEL),
                  "--endpoints", str(endpoints), "--credentials", "credentials.yml",
                  "--interface", settings.host, "--port", str(settings.rasa_port)],
         f"http://127.0.0.1:{settings.rasa_port}/webhooks/rest/"),
        ("web app", [python, "-m", "bot.web.app"],
         f"http://127.0.0.1:{settings.web_port}/healthz"),
    ]
    children = [Child(name, command, health,
                      settings.log_dir / f"{name.split()[0].lower()}.log")
                for name, command, health in commands]
    for child in children:
        child.launch(env)
    return children


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def wait_until_ready(children: List[Child], timeout: float = START_TIMEOUT) -> Optional[str]:
    """None when every child answers; otherwise why not."""
    deadline = time.monotonic() + timeout
    waiting = list(children)
    while waiting:
        for child in list(waiting):
            if child.process.poll() is not None:
                return f"{child.name} exited with code {child.process.returncode} (see {child.log})"
            if answers(child.health_url):
                waiting.remove(child)
        if time.monotonic() > deadline:
            return "timed out waiting for " + ", ".join(c.name for c in waiting)
        time.sleep(0.5)
    return None


def stop(children: List[Child]) -> None:
    """SIGTERM each process group, then SIGKILL what is still there."""
    for child in children:
        if child.process and child.process.poll() is None:
            try:
                os.killpg(child.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(child.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.process.wait()


class Supervisor:
    """Starts a child again when it dies, unless it keeps dying."""

    def __init__(self, env: Dict[str, str]) -> None:
        self.env = env
        self.restarts: Dict[str, List[float]] = {}

    def revive(self, child: Child) -> bool:
        """False when the child died too often to try again."""
        now = time.monotonic()
        recent = [t for t in self.restarts.get(child.name, []) if now - t < RESTART_WINDOW]
        code = child.process.returncode
        if len(recent) >= MAX_RESTARTS:
            print(f"{child.name} stopped again (code {code}) after {MAX_RESTARTS} restarts;"
                  f" stopping everything (see {child.log})", file=sys.stderr, flush=True)
            return False
        print(f"{child.name} stopped unexpectedly (code {code}); starting it again",
              file=sys.stderr, flush=True)
        self.restarts[child.name] = recent + [now]
        child.launch(self.env)
        return True


def main() -> int:
    settings = load_settings()
    if not model_is_current():
        print("the trained model is missing or stale: run `make run` (it trains first)",
              file=sys.stderr)
        return 1
    kb = KnowledgeBase(settings.knowledge_db_url)
    try:
        check_knowledge_base(kb)
    except KnowledgeBaseUnavailable as problem:
        print(f"cannot start: {problem}", file=sys.stderr)
        return 1
    finally:
        kb.close()
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    started = time.monotonic()
    env = child_environment(settings)
    children = start(settings, env)
    supervisor = Supervisor(env)
    try:
        problem = wait_until_ready(children)
        if problem:
            print(f"could not start: {problem}", file=sys.stderr)
            return 1
        print(f"ready in {time.monotonic() - started:.0f} s\n"
              f"  open the chat:   http://localhost:{settings.web_port}/\n"
              f"  talk to the bot: POST http://localhost:{settings.rasa_port}/webhooks/rest/webhook"
              ' with {"sender": "me", "message": "転入届はネットでできますか"}\n'
              f"  staff tool:      http://localhost:{settings.web_port}/staff/"
              f"{'' if load_accounts(settings.staff_accounts_file) else NO_ACCOUNT_HINT}\n"
              f"  action server:   http://localhost:{settings.action_port}/health\n"
              f"  logs: {settings.log_dir}/   stop: Ctrl-C", flush=True)
        while not stopping:
            for child in children:
                if child.process.poll() is not None and not stopping:
                    if not supervisor.revive(child):
                        return 1
            time.sleep(0.5)
        return 0
    finally:
        stop(children)
        print("stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
