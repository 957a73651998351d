"""Socket.IO channel for the citizen chat widget.

Rasa's own ``socketio`` channel emits custom JSON as keyword arguments of ``emit`` (which
breaks on a card such as ``{"type": "procedure_card", …}``), accepts messages of any
length and any page's origin. This channel allows only the configured origins
(``WIDGET_ALLOWED_ORIGINS``), and keeps Rasa's protocol (``session_request`` / ``session_confirm``,
``user_uttered`` / ``bot_uttered``, session persistence by ``session_id``) and sends the
card as ``{"custom": {...}}``. The widget uses HTTP long-polling: Sanic 21.12's
websocket support does not work on Python 3.11.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from sanic import Blueprint
from socketio import AsyncServer

from bot.config import load_settings

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_SESSION_ID_CHARS = 64


class WidgetOutput(OutputChannel):
    """Sends each bot message to the conversation's room as one ``bot_uttered`` event."""

    def __init__(self, sio: AsyncServer, event: str) -> None:
        self.sio = sio
        self.event = event

    @classmethod
    def name(cls) -> Text:
        return "widget"

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.sio.emit(self.event, {"text": text}, room=recipient_id)

    async def send_text_with_buttons(self, recipient_id: Text, text: Text,
                                     buttons: Any, **kwargs: Any) -> None:
        await self.sio.emit(self.event, {"text": text, "buttons": [
            {"title": b["title"], "payload": b["payload"]} for b in buttons]}, room=recipient_id)

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any],
                               **kwargs: Any) -> None:
        await self.sio.emit(self.event, {"custom": json_message}, room=recipient_id)


def session_id_of(data: Any) -> Optional[str]:
    """The widget's own session id, if it is a sane one."""
    if not isinstance(data, dict):
        return None
    value = data.get("session_id")
    if isinstance(value, str) and 0 < len(value) <= MAX_SESSION_ID_CHARS:
        return value
    return None


class WidgetInput(InputChannel):
    """Socket.IO endpoint at /socket.io for the chat widget, with persistent sessions."""

    @classmethod
    def name(cls) -> Text:
        return "widget"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(credentials.get("socketio_path", "/socket.io"),
                   list(load_settings().widget_origins))

    def __init__(self, socketio_path: str = "/socket.io",
                 allowed_origins: Optional[list] = None) -> None:
        self.socketio_path = socketio_path
        self.allowed_origins = allowed_origins or []

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.allowed_origins,
                          max_http_buffer_size=64 * 1024)
        blueprint = SocketBlueprint(sio, self.socketio_path, "widget_webhook", __name__)

        @sio.on("session_request")
        async def session_request(sid: Text, data: Any) -> None:
            session_id = session_id_of(data) or uuid.uuid4().hex
            await sio.enter_room(sid, session_id)
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on("user_uttered")
        async def user_uttered(sid: Text, data: Any) -> None:
            session_id = session_id_of(data)
            text = data.get("message") if isinstance(data, dict) else None
            if session_id is None or not isinstance(text, str) or not text.strip():
                logger.debug("widget message without a session or text ignored")
                return
            if len(text) > MAX_MESSAGE_CHARS:
                await sio.emit("bot_uttered", {"text": (
                    f"メッセージが長すぎます。{MAX_MESSAGE_CHARS}文字以内で送ってください。")},
                    room=session_id)
                return
            await on_new_message(UserMessage(text, WidgetOutput(sio, "bot_uttered"),
                                             session_id, input_channel=self.name()))

        return blueprint
