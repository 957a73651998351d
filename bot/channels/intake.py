"""What every public channel does with a citizen's message before and after Rasa.

Before: strip what no database should store (NUL and other control characters, lone
surrogates) and Rasa's conversation commands (``/restart``), refuse empty and over-long
messages politely, limit each sender's rate, mask personal data and tell the citizen not
to send it. After: when the bot fails, says
nothing or takes longer than the reply timeout, apologise instead of leaving the citizen
with silence. The REST, widget and LINE channels all use the one ``Intake``.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import BotUttered
from sanic import Blueprint

from bot.channels.handoff import BACK_TO_BOT, asks_for_the_bot, resume_events
from bot.privacy import install_log_masking, mask_personal_data

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128
MAX_TRACKED_SENDERS = 50_000

EMPTY = "ご質問を文字で送ってください。例:「転入届はオンラインでできますか」"
TOO_LONG = "メッセージが長すぎます。{limit}文字以内に短くして、もう一度送ってください。"
RATE_LIMITED = ("短い時間にたくさんのメッセージを受け取りました。"
                "少し時間をおいてから、もう一度送ってください。")
PRIVACY_NOTICE = ("マイナンバー(個人番号)・電話番号・メールアドレスは、"
                  "このチャットに送らないでください。送られた番号などは伏せてから記録しました。")
APOLOGY = ("申し訳ありません。ただいま回答を用意できませんでした。\n"
           "少し時間をおいて、もう一度お試しください。\n"
           "お急ぎの場合は、お住まいの市区町村の窓口にお問い合わせください。")

# Rasa's own commands would reset or rewind a conversation; from citizens they are text.
_RASA_COMMAND = re.compile(r"^\s*/(?=(?:restart|session_start|back)\b)")
# C0/C1 controls except tab and line breaks, and UTF-16 halves that are not text.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Without what no database should store, and not a Rasa command."""
    return _RASA_COMMAND.sub("", _UNSTORABLE.sub("", text))


def valid_sender(sender: Any) -> bool:
    """A sender id the tracker store can key on: short, printable, not blank."""
    return (isinstance(sender, str) and 0 < len(sender) <= MAX_SENDER_CHARS
            and sender.isprintable() and bool(sender.strip()))


class RateLimiter:
    """Token bucket per sender: ``burst`` messages at once, refilled at ``per_minute``."""

    def __init__(self, per_minute: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self._clock = clock
        self._buckets: "OrderedDict[str, Tuple[float, float]]" = OrderedDict()

    def allow(self, sender: str) -> bool:
        now = self._clock()
        tokens, last = self._buckets.pop(sender, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[sender] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > MAX_TRACKED_SENDERS:
            self._buckets.popitem(last=False)  # the longest-idle sender has a full bucket
        return allowed


@dataclass
class Admission:
    """What a channel does with one incoming message."""

    text: Optional[str]  # what the bot reads (cleaned and masked); None: nothing for the bot
    replies: List[str] = field(default_factory=list)  # told to the citizen first
    rate_limited: bool = False
    metadata: Dict[str, Any] = field(default_factory=dict)


class Intake:
    """Limits, masking and the apology, configured once per channel from the environment."""

    def __init__(self, limiter: RateLimiter, reply_timeout: float,
                 max_chars: int = MAX_MESSAGE_CHARS) -> None:
        self.limiter = limiter
        self.reply_timeout = reply_timeout
        self.max_chars = max_chars
        self._app: Any = None  # the Rasa server, once it starts (see ``watch``)
        install_log_masking()

    def watch(self, blueprint: Blueprint) -> None:
        """Keep the Rasa server this channel runs in, to read its tracker store."""

        @blueprint.listener("before_server_start")
        async def keep(app: Any, _: Any) -> None:
            self._app = app

    @property
    def _agent(self) -> Any:
        """Rasa's agent (its tracker and lock stores); None before the server starts."""
        return getattr(getattr(self._app, "ctx", None), "agent", None)

    async def handed_off(self, sender: str) -> bool:
        """Whether the conversation waits for or talks with a staff member (paused by
        ``action_handoff``): then the bot's silence is expected, not a failure."""
        agent = self._agent
        if agent is None:
            return False
        try:
            tracker = await agent.tracker_store.retrieve(sender)
        except Exception:  # the apology is the safe answer when we cannot tell
            logger.exception("could not read the conversation's state")
            return False
        return tracker is not None and tracker.is_paused()

    @classmethod
    def from_environment(cls) -> "Intake":
        env = os.environ.get
        return cls(RateLimiter(float(env("RATE_LIMIT_PER_MINUTE", "30")),
                               int(env("RATE_LIMIT_BURST", "10"))),
                   float(env("BOT_REPLY_TIMEOUT", "5")))

    def admit(self, sender: str, text: str) -> Admission:
        if not self.limiter.allow(sender):
            return Admission(None, [RATE_LIMITED], rate_limited=True)
        text = clean_text(text)
        if not text.strip():
            return Admission(None, [EMPTY])
        if len(text) > self.max_chars:
            return Admission(None, [TOO_LONG.format(limit=self.max_chars)])
        masked = mask_personal_data(text)
        if not masked.changed:
            return Admission(text)
        return Admission(masked.text, [PRIVACY_NOTICE],
                         metadata={"masked": sorted(set(masked.kinds))})

    async def handle(self, on_new_message: Callable[[UserMessage], Awaitable[Any]],
                     output: CollectingOutputChannel, sender: str, text: str, channel: str,
                     metadata: Optional[Dict[str, Any]] = None) -> Admission:
        """Admit one message, tell the citizen what they must know, let the bot answer."""
        admission = self.admit(sender, text)
        for reply in admission.replies:
            await output.send_text_message(sender, reply)
        if admission.text is not None:
            await self.answer(on_new_message, UserMessage(
                admission.text, output, sender, input_channel=channel,
                metadata={**(metadata or {}), **admission.metadata} or None))
        return admission

    async def answer(self, on_new_message: Callable[[UserMessage], Awaitable[Any]],
                     message: UserMessage) -> None:
        """Run the bot on one message; apologise if it fails, is silent or too slow.

        A slow turn is not cancelled: it finishes in the background so the conversation
        stays whole in the tracker store, and push channels still deliver its answer.
        """
        output = message.output_channel
        assert isinstance(output, CollectingOutputChannel)
        answered_before = len(output.messages)
        turn = asyncio.ensure_future(on_new_message(message))
        turn.add_done_callback(_log_failure)
        try:
            await asyncio.wait_for(asyncio.shield(turn), self.reply_timeout)
        except asyncio.TimeoutError:
            logger.error("no answer on %s within %.0f s: apologised", message.input_channel,
                         self.reply_timeout)
        except Exception:
            pass  # logged by _log_failure
        if len(output.messages) > answered_before:
            return
        finished = turn.done() and not turn.cancelled() and turn.exception() is None
        if not (finished and await self.handed_off(message.sender_id)):
            await output.send_text_message(message.sender_id, APOLOGY)
        elif asks_for_the_bot(message.text or ""):
            await self.back_to_the_bot(message.sender_id, output)

    async def back_to_the_bot(self, sender: str, output: CollectingOutputChannel) -> None:
        """The citizen stops waiting for staff: the bot answers again."""
        agent = self._agent
        async with agent.lock_store.lock(sender):
            tracker = await agent.tracker_store.retrieve(sender)
            if tracker is None or not tracker.is_paused():
                return
            tracker.update(BotUttered(BACK_TO_BOT))
            for event in resume_events("citizen"):
                tracker.update(event)
            await agent.tracker_store.save(tracker)
        await output.send_text_message(sender, BACK_TO_BOT)


def _log_failure(turn: "asyncio.Future[Any]") -> None:
    if not turn.cancelled() and turn.exception() is not None:
        logger.error("the bot failed on a message: %r", turn.exception())
