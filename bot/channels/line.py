"""LINE Messaging API input channel for Rasa, in the style of Rasa's ``slack.py``.

Enabled in credentials.yml as ``bot.channels.line.LineInput``; the secrets come only from
the environment (``LINE_CHANNEL_SECRET``, ``LINE_CHANNEL_ACCESS_TOKEN``), and the API base
URL from ``LINE_API_BASE_URL`` so tests can point it at a local stand-in. Without the
secrets the channel is off (the webhook answers 404) and the log says so once.

The webhook checks ``X-Line-Signature`` before reading anything, answers 200 at once and
handles the events in the background; a redelivered ``webhookEventId`` is handled once.
Messages pass through the shared ``Intake`` (limits, masking, apology). Replies use
the reply token and fall back to the push API with an ``X-Line-Retry-Key``;
429 and 5xx answers from LINE are retried a bounded number of times.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import uuid
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

import aiohttp
from rasa.core.channels.channel import (CollectingOutputChannel, InputChannel, OutputChannel,
                                        UserMessage)
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.intake import Intake, valid_sender
from bot.channels.line_messages import to_line_messages

logger = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://api.line.me"
MAX_BODY_BYTES = 1_000_000
MAX_REMEMBERED_EVENTS = 10_000
ONLY_TEXT_REPLY = ("メッセージありがとうございます。このアカウントでは文字のメッセージだけを"
                   "読むことができます。知りたい手続きの名前やご質問を文字で送ってください。")
FOLLOW_MESSAGE = "/greet"


def valid_signature(channel_secret: str, body: bytes, signature: str) -> bool:
    """LINE's signature: base64 of HMAC-SHA256 of the raw body with the channel secret."""
    digest = hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), signature)


class LineApi:
    """Outgoing calls to the Messaging API with bounded retries."""

    def __init__(self, access_token: str, base_url: str, attempts: int = 3,
                 backoff: float = 0.5) -> None:
        self._token = access_token
        self._base_url = base_url.rstrip("/")
        self._attempts = attempts
        self._backoff = backoff
        self._session: Optional[aiohttp.ClientSession] = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(self, path: str, body: Dict[str, Any],
                    headers: Optional[Dict[str, str]] = None) -> Optional[int]:
        """POST with retries on 429, 5xx and network errors; the last status (None: no answer)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        status: Optional[int] = None
        for attempt in range(self._attempts):
            try:
                async with self._session.post(
                        f"{self._base_url}{path}", json=body,
                        headers={"Authorization": f"Bearer {self._token}", **(headers or {})}
                ) as answer:
                    status = answer.status
                    detail = await answer.text()
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                status, detail = None, repr(error)
            if status is not None and (status < 300 or (400 <= status < 500 and status != 429)):
                if status >= 300:
                    logger.warning("LINE %s answered %s: %s", path, status, detail[:200])
                return status
            logger.warning("LINE %s answered %s (attempt %d of %d)", path, status,
                           attempt + 1, self._attempts)
            if attempt + 1 < self._attempts:
                await asyncio.sleep(self._backoff * 2 ** attempt)
        return status

    async def reply(self, reply_token: Optional[str], to: str,
                    messages: List[Dict[str, Any]]) -> bool:
        """Reply with the token; if that fails, push once (the retry key prevents doubles)."""
        if not messages:
            return True
        if reply_token:
            status = await self._post("/v2/bot/message/reply",
                                      {"replyToken": reply_token, "messages": messages})
            if status is not None and status < 300:
                return True
        status = await self._post("/v2/bot/message/push", {"to": to, "messages": messages},
                                  {"X-Line-Retry-Key": str(uuid.uuid4())})
        # 409: a request with this retry key was already accepted, so it was sent.
        delivered = status is not None and (status < 300 or status == 409)
        if not delivered:
            logger.error("LINE reply and push both failed for %s (status %s)", to, status)
        return delivered


class LinePushOutput(OutputChannel):
    """Messages the user did not just ask for (a staff member's reply in a handoff),
    pushed to the user's own chat."""

    def __init__(self, api: LineApi) -> None:
        self.api = api

    @classmethod
    def name(cls) -> Text:
        return "line"

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        messages = to_line_messages([{"recipient_id": recipient_id, "text": text}])
        if not await self.api.reply(None, recipient_id, messages):
            raise RuntimeError("LINE push failed")


class LineInput(InputChannel):
    """Receives LINE webhook events and answers through the Messaging API."""

    @classmethod
    def name(cls) -> Text:
        return "line"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        secret = credentials.get("channel_secret") or os.environ.get("LINE_CHANNEL_SECRET")
        token = (credentials.get("access_token")
                 or os.environ.get("LINE_CHANNEL_ACCESS_TOKEN"))
        base_url = os.environ.get("LINE_API_BASE_URL", DEFAULT_API_BASE_URL)
        if not secret or not token:
            logger.warning("LINE channel is off: LINE_CHANNEL_SECRET and "
                           "LINE_CHANNEL_ACCESS_TOKEN are not both set.")
            return cls(None, None, Intake.from_environment())
        return cls(secret, LineApi(token, base_url), Intake.from_environment())

    def __init__(self, channel_secret: Optional[str], api: Optional[LineApi],
                 intake: Intake) -> None:
        self.channel_secret = channel_secret
        self.api = api
        self.intake = intake
        self._seen: "OrderedDict[str, None]" = OrderedDict()

    def get_output_channel(self) -> Optional[OutputChannel]:
        return LinePushOutput(self.api) if self.enabled else None

    @property
    def enabled(self) -> bool:
        return bool(self.channel_secret and self.api)

    def first_delivery(self, event: Dict[str, Any]) -> bool:
        """False for a webhookEventId already handled (LINE redelivers on failures)."""
        event_id = event.get("webhookEventId")
        if not isinstance(event_id, str) or not event_id:
            return True
        if event_id in self._seen:
            return False
        self._seen[event_id] = None
        if len(self._seen) > MAX_REMEMBERED_EVENTS:
            self._seen.popitem(last=False)
        return True

    @staticmethod
    def text_of(event: Dict[str, Any]) -> Optional[str]:
        """What the user said: a text message, a postback's data, or a greeting on follow."""
        kind = event.get("type")
        if kind == "follow":
            return FOLLOW_MESSAGE
        detail = event.get(kind) if kind in ("message", "postback") else None
        if not isinstance(detail, dict):
            return None
        if kind == "message" and detail.get("type") != "text":
            return None
        text = detail.get("text" if kind == "message" else "data")
        return text if isinstance(text, str) else None

    async def handle_event(self, event: Dict[str, Any],
                           on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """One event: run it through the bot and reply; errors are logged, never raised."""
        try:
            source = event.get("source")
            if not isinstance(source, dict):
                return
            to = source.get("groupId") or source.get("roomId") or source.get("userId")
            sender = source.get("userId") or to
            kind = event.get("type")
            if not valid_sender(sender) or not valid_sender(to):
                return
            if kind == "unfollow":
                logger.info("LINE user %s unfollowed", sender)
                return
            text = self.text_of(event)
            if kind == "message" and text is None:
                await self.api.reply(event.get("replyToken"), to,
                                     [{"type": "text", "text": ONLY_TEXT_REPLY}])
                return
            if text is None:
                return
            collector = CollectingOutputChannel()
            await self.intake.handle(on_new_message, collector, sender, text, self.name(),
                                     {"line_source": source.get("type")})
            await self.api.reply(event.get("replyToken"), to, to_line_messages(collector.messages))
        except Exception:  # a bad event must not take the channel down
            logger.exception("LINE event could not be handled")

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        line_webhook = Blueprint("line_webhook", __name__)
        self.intake.watch(line_webhook)

        @line_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.enabled else "disabled"})

        @line_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.enabled:
                return response.json({"error": "LINE channel is not configured"}, status=404)
            body = request.body or b""
            if len(body) > MAX_BODY_BYTES:
                return response.json({"error": "body too large"}, status=413)
            signature = request.headers.get("X-Line-Signature")
            if not signature:
                return response.json({"error": "missing signature"}, status=401)
            if not valid_signature(self.channel_secret, body, signature):
                logger.warning("LINE webhook with a wrong signature rejected")
                return response.json({"error": "invalid signature"}, status=401)
            try:
                events = json.loads(body)["events"]
                if not isinstance(events, list):
                    raise TypeError("events is not a list")
            except (ValueError, KeyError, TypeError, RecursionError) as error:
                logger.warning("LINE webhook with a malformed body: %s", error)
                return response.json({"error": "malformed body"}, status=400)
            for event in events:
                if isinstance(event, dict) and self.first_delivery(event):
                    request.app.add_task(self.handle_event(event, on_new_message))
            return response.json({})

        @line_webhook.listener("after_server_stop")
        async def close(*_: Any) -> None:
            if self.api:
                await self.api.close()

        return line_webhook
