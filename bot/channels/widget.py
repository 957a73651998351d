"""Socket.IO channel for the citizen chat widget.

Rasa's own ``socketio`` channel emits custom JSON as keyword arguments of ``emit`` (which
breaks on a card such as ``{"type": "procedure_card", …}``), accepts messages of any
length and any page's origin. This channel allows only the configured origins
(``WIDGET_ALLOWED_ORIGINS``), passes messages through the shared ``Intake`` (limits,
masking, apology), and keeps Rasa's protocol (``session_request`` / ``session_confirm``,
``user_uttered`` / ``bot_uttered``, session persistence by ``session_id``) and sends the
card as ``{"custom": {...}}``. The widget uses HTTP long-polling: Sanic 21.12's
websocket support does not work on Python 3.11.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import (CollectingOutputChannel, InputChannel, OutputChannel,
                                        UserMessage)
from rasa.core.channels.socketio import SocketBlueprint
from sanic import Blueprint
from socketio import AsyncServer

from bot.channels.intake import Intake, valid_sender
from bot.config import load_settings
from knowledge.answers import FEEDBACK_BUTTONS, is_answer_card

logger = logging.getLogger(__name__)

MAX_SESSION_ID_CHARS = 64


class WidgetOutput(CollectingOutputChannel):
    """Sends each bot message to the conversation's room as one ``bot_uttered`` event
    (and keeps it, so the intake can tell whether the bot answered)."""

    def __init__(self, sio: AsyncServer, event: str) -> None:
        super().__init__()
        self.sio = sio
        self.event = event

    @classmethod
    def name(cls) -> Text:
        return "widget"

    async def _persist_message(self, message: Dict[Text, Any]) -> None:
        self.messages.append(message)
        payload: Dict[Text, Any] = {key: message[key] for key in ("text", "custom")
                                    if key in message}
        if "buttons" in message:
            payload["buttons"] = [{"title": b["title"], "payload": b["payload"]}
                                  for b in message["buttons"]]
        if is_answer_card(message.get("custom")):
            payload["feedback"] = list(FEEDBACK_BUTTONS)
        await self.sio.emit(self.event, payload, room=message["recipient_id"])

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        """One bubble per answer: line breaks inside it are kept, not split."""
        await self._persist_message(self._message(recipient_id, text=text))


def session_id_of(data: Any) -> Optional[str]:
    """The widget's own session id, if it is a sane one."""
    if not isinstance(data, dict):
        return None
    value = data.get("session_id")
    if isinstance(value, str) and len(value) <= MAX_SESSION_ID_CHARS and valid_sender(value):
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
                   list(load_settings().widget_origins), Intake.from_environment())

    def __init__(self, socketio_path: str, allowed_origins: List[str], intake: Intake) -> None:
        self.socketio_path = socketio_path
        self.allowed_origins = allowed_origins
        self.intake = intake
        self.sio: Optional[AsyncServer] = None

    def get_output_channel(self) -> Optional[OutputChannel]:
        """For messages the citizen did not ask for (a staff member's reply in a handoff):
        sent to the conversation's room, where every open widget of that session is."""
        return WidgetOutput(self.sio, "bot_uttered") if self.sio else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.allowed_origins,
                          max_http_buffer_size=256 * 1024)
        self.sio = sio
        blueprint = SocketBlueprint(sio, self.socketio_path, "widget_webhook", __name__)
        self.intake.watch(blueprint)

        @sio.on("session_request")
        async def session_request(sid: Text, data: Any = None) -> None:
            session_id = session_id_of(data) or uuid.uuid4().hex
            await sio.enter_room(sid, session_id)
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on("user_uttered")
        async def user_uttered(sid: Text, data: Any = None) -> None:
            session_id = session_id_of(data)
            if session_id is None:
                logger.debug("widget message without a session ignored")
                return
            text = data.get("message")
            if not isinstance(text, str):
                text = ""  # answered with a request for text
            await self.intake.handle(on_new_message, WidgetOutput(sio, "bot_uttered"),
                                     session_id, text, self.name())

        return blueprint
