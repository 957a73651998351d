"""A conversation handed to staff: paused by ``action_handoff`` (widget, LINE), given
back to the bot by a staff member (``staff_bridge``) or by the citizen ("ボットに戻る")."""
from __future__ import annotations

from typing import List

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, ConversationResumed, Event, Restarted

from bot.nlu.normalise import fold_key

# What a waiting citizen sends to stop waiting (the queued message tells them).
BACK_TO_BOT_PHRASES = ("ボットに戻る", "ボットに戻して", "自動応答に戻る", "自動の回答に戻る")
_BACK_TO_BOT_KEYS = {fold_key(phrase) for phrase in BACK_TO_BOT_PHRASES}
BACK_TO_BOT = "自動の回答に戻りました。知りたい手続きの名前や、ご質問を送ってください。"


def asks_for_the_bot(text: str) -> bool:
    return fold_key(text) in _BACK_TO_BOT_KEYS


def resume_events(by: str) -> List[Event]:
    """The bot answers again, from a fresh start: the citizen's messages to staff were
    never answered by the bot, and the rules would read them as an unfinished turn (they
    replayed the handoff). The history stays in the tracker store."""
    return [ConversationResumed(metadata={"by": by}), Restarted(),
            ActionExecuted(ACTION_LISTEN_NAME)]
