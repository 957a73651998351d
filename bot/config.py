"""Ports, addresses, database URLs and the municipality: read once from the environment.

Every process (launcher, action server, web app) takes its settings from here, so each
port and secret has exactly one place with its default.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var"


@dataclass(frozen=True)
class Settings:
    rasa_port: int
    action_port: int
    web_port: int
    host: str
    knowledge_db_url: str
    tracker_db_url: str
    municipality: str
    timezone: str
    widget_origins: tuple
    state_dir: Path  # the running bot's generated endpoints file and its logs
    staff_db_url: str  # handoff queue, unanswered log, staff audit log
    staff_dir: Path  # staff accounts file and the session key (never committed)
    staff_cookie_secure: bool  # true behind HTTPS: the session cookie is never sent in clear

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def staff_accounts_file(self) -> Path:
        return self.staff_dir / "accounts.yaml"

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}/webhook"


def load_settings() -> Settings:
    """Settings from the environment, with the project's documented defaults."""
    env = os.environ.get
    return Settings(
        rasa_port=int(env("RASA_PORT", "5005")),
        action_port=int(env("ACTION_PORT", "5055")),
        web_port=int(env("WEB_PORT", "8080")),
        host=env("BOT_HOST", "127.0.0.1"),
        knowledge_db_url=env("KNOWLEDGE_DB_URL", f"sqlite:///{VAR / 'knowledge.db'}"),
        tracker_db_url=env("TRACKER_DB_URL", f"sqlite:///{VAR / 'tracker.db'}"),
        municipality=env("MUNICIPALITY", "sample"),
        timezone=env("BOT_TIMEZONE", "Asia/Tokyo"),
        # Pages allowed to open the widget's socket.io connection (no "*" by default).
        widget_origins=tuple(o.strip() for o in env(
            "WIDGET_ALLOWED_ORIGINS",
            f"http://localhost:{env('WEB_PORT', '8080')},http://127.0.0.1:{env('WEB_PORT', '8080')}",
        ).split(",") if o.strip()),
        state_dir=Path(env("BOT_STATE_DIR", str(VAR))),
        staff_db_url=env("STAFF_DB_URL", f"sqlite:///{VAR / 'staff.db'}"),
        staff_dir=Path(env("STAFF_DIR", str(VAR / "staff"))),
        staff_cookie_secure=env("STAFF_COOKIE_SECURE", "false").lower() == "true",
    )
