"""REST channel for the citizens' HTTP clients and the evaluation scripts.

Same URL and message format as Rasa's ``rest`` channel (POST /webhooks/rest/webhook with
``{"sender": …, "message": …}``, answered with a JSON list of messages), but Rasa's
version answers malformed JSON with a 500, takes ``metadata`` and ``input_channel`` from
the client, has no size or rate limit and logs the user's text on errors. This one checks
the body first (4xx with a reason), then hands the message to the shared ``Intake``.
"""
from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.intake import Intake, valid_sender

MAX_BODY_BYTES = 256 * 1024  # a 20,000-character message still gets a polite "too long"


def parse_body(body: bytes) -> Dict[str, Any]:
    """The request's sender and message, or ValueError saying what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise OverflowError(f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError("the body is not JSON in UTF-8") from None
    if not isinstance(data, dict):
        raise ValueError('the body must be a JSON object {"sender": …, "message": …}')
    if not valid_sender(data.get("sender")):
        raise ValueError("sender must be a printable string of 1 to 128 characters")
    if not isinstance(data.get("message"), str):
        raise ValueError("message must be a string")
    return data


class CitizenRestInput(InputChannel):
    """POST /webhooks/rest/webhook, with Rasa's REST message format and our limits."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(Intake.from_environment())

    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        rest_webhook = Blueprint("citizen_rest_webhook", __name__)
        self.intake.watch(rest_webhook)

        @rest_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @rest_webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                data = parse_body(request.body or b"")
            except OverflowError as error:
                return response.json({"error": str(error)}, status=413)
            except ValueError as error:
                return response.json({"error": str(error)}, status=400)
            collector = CollectingOutputChannel()
            admission = await self.intake.handle(on_new_message, collector, data["sender"],
                                                 data["message"], self.name())
            return response.json(collector.messages,
                                 status=429 if admission.rate_limited else 200)

        return rest_webhook
