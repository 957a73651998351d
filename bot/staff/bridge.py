"""The web app's client of the bot's staff bridge (``bot/channels/staff_bridge.py``)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional

import aiohttp

logger = logging.getLogger(__name__)


class BridgeUnavailable(Exception):
    """The bot did not do what was asked; the message says what staff should know."""


class BotBridge:
    """Parse, reply and resume through the running Rasa server, on loopback."""

    def __init__(self, rasa_port: int, token: Optional[str], timeout: float = 5.0) -> None:
        self.base_url = f"http://127.0.0.1:{rasa_port}/webhooks/staff"
        self.token = token
        self.timeout = timeout
        self._session: Optional[aiohttp.ClientSession] = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, operation: str, body: Dict[str, Any]) -> Dict[str, Any]:
        if not self.token:
            raise BridgeUnavailable("ボットとの接続が設定されていません(STAFF_BRIDGE_TOKEN)")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            async with self._session.post(f"{self.base_url}/{operation}", json=body,
                                          headers={"Authorization": f"Bearer {self.token}"}
                                          ) as answer:
                result = await answer.json(content_type=None)
                if answer.status >= 300:
                    logger.warning("staff bridge %s answered %s: %s", operation,
                                   answer.status, result)
                    raise BridgeUnavailable(f"ボットが処理できませんでした({answer.status})")
                return result
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            logger.warning("staff bridge %s failed: %r", operation, error)
            raise BridgeUnavailable("ボットに接続できません。起動しているか確認してください。")

    async def parse(self, text: str) -> Dict[str, Any]:
        return await self._post("parse", {"text": text})

    async def reply(self, conversation_id: str, text: str, staff: str) -> Dict[str, Any]:
        return await self._post("reply", {"conversation_id": conversation_id, "text": text,
                                          "staff": staff})

    async def resume(self, conversation_id: str, text: str, staff: str) -> Dict[str, Any]:
        return await self._post("resume", {"conversation_id": conversation_id,
                                           "text": text, "staff": staff})
