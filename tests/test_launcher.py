"""The launcher's generated Rasa settings."""
from __future__ import annotations

import yaml

from bot.config import load_settings
from bot.launcher import child_environment, tracker_store, write_endpoints


def test_sqlite_tracker_store(tmp_path):
    store = tracker_store(f"sqlite:///{tmp_path / 'sub' / 'tracker.db'}")
    assert store == {"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "sub" / "tracker.db")}
    assert (tmp_path / "sub").is_dir()


def test_postgresql_tracker_store_keeps_the_password_off_disk():
    store = tracker_store("postgresql://bot:s3cret@db.internal:5433/tracker")
    assert store == {"type": "SQL", "dialect": "postgresql", "url": "db.internal",
                     "db": "tracker", "port": 5433, "username": "bot",
                     "password": "${TRACKER_DB_PASSWORD}"}


def test_endpoints_and_environment_from_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("ACTION_PORT", "16055")
    monkeypatch.setenv("TRACKER_DB_URL", "postgresql://bot:s3cret@localhost/tracker")
    monkeypatch.setenv("BOT_STATE_DIR", str(tmp_path / "state"))
    settings = load_settings()
    path = write_endpoints(settings)
    assert path == tmp_path / "state" / "endpoints.yml"
    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert written["action_endpoint"] == {"url": "http://127.0.0.1:16055/webhook"}
    assert "s3cret" not in yaml.safe_dump(written)
    monkeypatch.delenv("RASA_TELEMETRY_ENABLED", raising=False)
    env = child_environment(settings)
    assert env["TRACKER_DB_PASSWORD"] == "s3cret"
    # Nothing reported off the machine, and the action server on loopback only.
    assert env["RASA_TELEMETRY_ENABLED"] == "false" and env["SANIC_HOST"] == "127.0.0.1"
