"""What the staff tool's handlers share, opened and closed with the web app."""
from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import AsyncIterator, Optional, Tuple

from aiohttp import web
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.staff.auth_limits import FailedLogins
from bot.staff.bridge import BotBridge
from bot.staff.db import create_staff_engine
from bot.staff.store import audit
from bot.staff.tracker import TrackerReader, scan
from knowledge.queries import KnowledgeBase, content_hash_of
from knowledge.search import SearchIndex


@dataclass
class StaffContext:
    settings: Settings
    engine: Engine
    reader: TrackerReader
    kb: KnowledgeBase
    bridge: BotBridge
    failed_logins: FailedLogins = field(default_factory=FailedLogins)
    # Seconds after which a clarifying question nobody answered counts as abandoned.
    abandon_after: float = 600.0
    _index: Optional[Tuple[Optional[str], SearchIndex]] = None
    _scan_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def session(self) -> Session:
        return Session(self.engine, future=True)

    def record(self, staff: str, action: str, conversation_id: Optional[str] = None,
               detail: Optional[str] = None) -> None:
        """One line of the audit log, committed at once."""
        with self.session() as session:
            audit(session, staff, action, conversation_id, detail)
            session.commit()

    def search_index(self) -> SearchIndex:
        """Built on first use and again whenever the knowledge base was rebuilt."""
        with self.kb.session() as session:
            version = content_hash_of(session)
            if self._index is None or self._index[0] != version:
                self._index = (version, SearchIndex.from_session(session))
        return self._index[1]

    async def scan(self) -> None:
        """Bring the queue and the unanswered log up to date with the tracker store."""
        async with self._scan_lock:
            def run() -> None:
                with self.session() as session:
                    scan(session, self.reader, self.abandon_after)
            await asyncio.to_thread(run)


STAFF = web.AppKey("staff", StaffContext)


def staff_context(settings: Settings) -> "web.CleanupContext":
    """``cleanup_ctx`` entry: open the staff database, tracker reader, knowledge base and
    bot bridge with the app, close them with it."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        staff = StaffContext(
            settings=settings, engine=create_staff_engine(settings.staff_db_url),
            reader=TrackerReader(settings.tracker_db_url),
            kb=KnowledgeBase(settings.knowledge_db_url),
            bridge=BotBridge(settings.rasa_port, os.environ.get("STAFF_BRIDGE_TOKEN")),
            abandon_after=float(os.environ.get("CLARIFICATION_ABANDONED_AFTER", "600")))
        app[STAFF] = staff
        yield
        await staff.bridge.close()
        staff.reader.close()
        staff.kb.close()
        staff.engine.dispose()

    return context
