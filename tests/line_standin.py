"""A local stand-in for LINE's Messaging API: a real aiohttp server that records requests."""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Set

from aiohttp import web


class LineStandIn:
    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.invalid_reply_tokens: Set[str] = set()
        self.push_failures = 0  # answer this many pushes with 500 before accepting
        self._loop = asyncio.new_event_loop()
        self._runner: Optional[web.AppRunner] = None
        self.port = 0

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"path": request.path, "body": body,
                              "headers": dict(request.headers)})
        if request.path.endswith("/reply") and body.get("replyToken") in self.invalid_reply_tokens:
            return web.json_response({"message": "Invalid reply token"}, status=400)
        if request.path.endswith("/push") and self.push_failures > 0:
            self.push_failures -= 1
            return web.json_response({"message": "temporary"}, status=500)
        return web.json_response({})

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v2/bot/message/reply", self._handle)
        app.router.add_post("/v2/bot/message/push", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def start(self) -> "LineStandIn":
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def received(self, predicate: Callable[[Dict[str, Any]], bool], count: int = 1,
                 wait: float = 30.0) -> List[Dict[str, Any]]:
        """Requests matching ``predicate``, waiting up to ``wait`` s for ``count`` of them."""
        end = time.monotonic() + wait
        while True:
            found = [r for r in self.requests if predicate(r)]
            if len(found) >= count or time.monotonic() > end:
                return found
            time.sleep(0.1)
