"""The staff tool's way into the running bot: three narrow endpoints, loopback only.

The staff assist tool (``bot/staff``, in the web app) needs the bot's own NLU for a
caller's sentence, a way to write into a citizen's conversation during a handoff, and
a way to give the conversation back to the bot. Rasa's HTTP API (``--enable-api``)
would do it, but it also exposes model replacement and arbitrary tracker edits on
the interface the public channels listen on. This channel offers only:

- ``POST /webhooks/staff/parse``   {"text"} → Rasa's parse result (intents, entities)
- ``POST /webhooks/staff/reply``   {"conversation_id", "text", "staff"} → the text is
  sent to the citizen on the conversation's own channel (widget or LINE) and stored in
  the tracker as a bot message marked with the staff account
- ``POST /webhooks/staff/resume``  {"conversation_id", "staff", "text"} → the citizen
  is told, and the bot answers again from a fresh start (``bot.channels.handoff``)

Every request must come from a loopback address and carry ``Authorization: Bearer``
with ``STAFF_BRIDGE_TOKEN`` (the launcher makes a new one per start and passes it to
Rasa and the web app only). Without the token the channel is off (404).
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.handoff import resume_events
from bot.channels.intake import MAX_MESSAGE_CHARS
from bot.privacy import mask_personal_data

logger = logging.getLogger(__name__)

STAFF_METADATA = "staff"


def from_loopback(request: Request) -> bool:
    try:
        return ipaddress.ip_address(request.ip).is_loopback
    except ValueError:
        return False


class StaffBridge(InputChannel):
    """Parse, reply and resume for the staff tool; not a channel citizens can use."""

    @classmethod
    def name(cls) -> Text:
        return "staff"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        token = os.environ.get("STAFF_BRIDGE_TOKEN")
        if not token:
            logger.warning("staff bridge is off: STAFF_BRIDGE_TOKEN is not set")
        return cls(token)

    def __init__(self, token: Optional[str]) -> None:
        self.token = token

    def authorised(self, request: Request) -> bool:
        """A loopback caller with the bearer token (compared in constant time)."""
        header = request.headers.get("Authorization", "")
        if not self.token or not header.startswith("Bearer ") or not from_loopback(request):
            return False
        return hmac.compare_digest(header[len("Bearer "):].encode(), self.token.encode())

    @staticmethod
    def output_for(request: Request, channel_name: Optional[str]) -> Optional[OutputChannel]:
        """The output channel of the conversation's own input channel, if it can push."""
        for channel in getattr(request.app.ctx, "input_channels", None) or []:
            if channel.name() == channel_name:
                return channel.get_output_channel()
        return None

    async def _say(self, request: Request, conversation_id: str, text: str,
                   staff: str, resume: bool) -> HTTPResponse:
        """Send ``text`` to the citizen and record it (and the resumption) in the tracker."""
        agent = request.app.ctx.agent
        async with agent.lock_store.lock(conversation_id):
            tracker = await agent.tracker_store.retrieve(conversation_id)
            if tracker is None:
                return response.json({"error": "no such conversation"}, status=404)
            channel = tracker.get_latest_input_channel()
            output = self.output_for(request, channel)
            if output is None:
                return response.json({"error": f"channel {channel!r} cannot be reached"},
                                     status=409)
            await output.send_text_message(conversation_id, text)
            tracker.update(BotUttered(text, metadata={STAFF_METADATA: staff}))
            for event in resume_events(f"{STAFF_METADATA}:{staff}") if resume else []:
                tracker.update(event)
            await agent.tracker_store.save(tracker)
        return response.json({"channel": channel})

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bridge = Blueprint("staff_bridge", __name__)

        @bridge.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            if not self.authorised(request):
                return response.json({"error": "not found"}, status=404)
            return response.json({"status": "ok"})

        @bridge.route("/<operation:str>", methods=["POST"])
        async def operate(request: Request, operation: str) -> HTTPResponse:
            if not self.authorised(request):
                return response.json({"error": "not found"}, status=404)
            body = request.json if isinstance(request.json, dict) else {}
            text = body.get("text")
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE_CHARS:
                return response.json({"error": "text: 1 to 2,000 characters"}, status=400)
            text = mask_personal_data(text).text
            try:
                if operation == "parse":
                    return response.json(await request.app.ctx.agent.parse_message(text))
                conversation_id, staff = body.get("conversation_id"), body.get("staff")
                if not isinstance(conversation_id, str) or not isinstance(staff, str):
                    return response.json({"error": "conversation_id and staff"}, status=400)
                if operation in ("reply", "resume"):
                    return await self._say(request, conversation_id, text, staff,
                                           resume=operation == "resume")
            except Exception:  # logged, never a 500 with a traceback
                logger.exception("staff bridge %s failed", operation)
                return response.json({"error": "the bot could not do that"}, status=502)
            return response.json({"error": "not found"}, status=404)

        return bridge
