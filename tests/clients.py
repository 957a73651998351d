"""Clients of the bot's three public channels, as a citizen's app, LINE and the widget
would call them: raw bytes over HTTP, signed LINE webhooks, and socket.io polling."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import http.cookiejar
import hmac
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Dict, List, Optional, Tuple

import socketio


def post(url: str, body: bytes, headers: Optional[Dict[str, str]] = None,
         timeout: float = 30) -> Tuple[int, Any]:
    """Status and decoded JSON body (None when the body is not JSON)."""
    request = urllib.request.Request(url, body, {"Content-Type": "application/json",
                                                 **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


class RestClient:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"

    def raw(self, body: bytes) -> Tuple[int, Any]:
        return post(self.url, body)

    def say(self, sender: str, message: Any) -> Tuple[int, Any]:
        return self.raw(json.dumps({"sender": sender, "message": message}).encode())


class LineClient:
    def __init__(self, port: int, secret: str) -> None:
        self.url = f"http://127.0.0.1:{port}/webhooks/line/webhook"
        self.secret = secret

    def sign(self, body: bytes) -> str:
        digest = hmac.new(self.secret.encode(), body, hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def raw(self, body: bytes, signature: Optional[str] = None) -> Tuple[int, Any]:
        headers = {} if signature is None else {"X-Line-Signature": signature}
        return post(self.url, body, headers, timeout=10)

    def signed(self, body: bytes) -> Tuple[int, Any]:
        return self.raw(body, self.sign(body))

    def send(self, *events: Any) -> Tuple[int, Any]:
        return self.signed(json.dumps({"destination": "U0", "events": list(events)}).encode())


def line_event(kind: str = "message", text: str = "転入届はネットでできますか",
               user: Optional[str] = None, token: Optional[str] = None,
               source: Optional[dict] = None, **extra: Any) -> Dict[str, Any]:
    """A webhook event shaped like LINE's (a fresh event id and reply token each time)."""
    body = {"type": kind, "webhookEventId": uuid.uuid4().hex,
            "replyToken": token or uuid.uuid4().hex, "timestamp": 1,
            "source": source or {"type": "user", "userId": user or f"U{uuid.uuid4().hex}"},
            "deliveryContext": {"isRedelivery": False}, **extra}
    if kind == "message" and "message" not in extra:
        body["message"] = {"type": "text", "id": "1", "text": text}
    return body


class WidgetClient:
    """A socket.io client (HTTP long-polling, like the widget) on its own event loop."""

    def __init__(self, port: int, origin: str) -> None:
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        self.received: List[Dict[str, Any]] = []
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("bot_uttered", self._on_bot_uttered)
        self._run(self.sio.connect(f"http://127.0.0.1:{port}", transports=["polling"],
                                   headers={"Origin": origin}, wait_timeout=10))

    async def _on_bot_uttered(self, data: Dict[str, Any]) -> None:
        self.received.append(data)

    def _run(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def join(self, session_id: str) -> str:
        """Enter the conversation's room; the session id the server confirmed."""
        return self._run(self._request_session(session_id))

    async def _request_session(self, session_id: str) -> str:
        confirmed: "asyncio.Future[str]" = self._loop.create_future()
        self.sio.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
        await self.sio.emit("session_request", {"session_id": session_id})
        return await asyncio.wait_for(confirmed, 10)

    def emit(self, data: Any) -> None:
        self._run(self.sio.emit("user_uttered", data))

    def ask(self, data: Any, wait: float = 15.0, quiet: float = 0.25) -> List[Dict[str, Any]]:
        """What the bot sends after ``data``: waits for a first message, then for quiet."""
        start = len(self.received)
        self.emit(data)
        deadline = time.monotonic() + wait
        while len(self.received) == start and time.monotonic() < deadline:
            time.sleep(0.05)
        count = -1
        while count != len(self.received):
            count = len(self.received)
            time.sleep(quiet)
        return self.received[start:]

    @property
    def connected(self) -> bool:
        return self.sio.connected

    def close(self) -> None:
        # abort: do not wait for the pending long-poll (up to the ping interval)
        self._run(self.sio.eio.disconnect(abort=True))
        self._loop.call_soon_threadsafe(self._loop.stop)


class StaffClient:
    """A staff member's browser for the JSON API: keeps the session cookie, sends the
    CSRF token on changes (``csrf=False`` to leave it out)."""

    def __init__(self, web_port: int) -> None:
        self.base = f"http://127.0.0.1:{web_port}"
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())
        self.csrf = ""
        self.last_headers: Any = None

    def request(self, method: str, path: str, body: Any = None,
                csrf: bool = True) -> Tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data else {}
        if csrf and method != "GET":
            headers["X-CSRF-Token"] = self.csrf
        url = self.base + urllib.parse.quote(path, safe="/?=&%:")
        request = urllib.request.Request(url, data, headers, method=method)
        try:
            with self.opener.open(request, timeout=30) as answer:
                status, raw, self.last_headers = answer.status, answer.read(), answer.headers
        except urllib.error.HTTPError as error:
            status, raw, self.last_headers = error.code, error.read(), error.headers
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8-sig", "replace")

    def get(self, path: str) -> Tuple[int, Any]:
        return self.request("GET", path)

    def post(self, path: str, body: Any = None, csrf: bool = True) -> Tuple[int, Any]:
        return self.request("POST", path, {} if body is None else body, csrf)

    def login(self, username: str, password: str) -> Tuple[int, Any]:
        self.csrf = self.get("/staff/api/session")[1]["csrf"]
        status, body = self.post("/staff/api/login", {"username": username,
                                                      "password": password})
        if status == 200:
            self.csrf = body["csrf"]
        return status, body


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers to check, not to follow."""

    def redirect_request(self, *args: Any) -> None:
        return None
