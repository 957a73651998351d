"""The shared intake: what reaches Rasa, what the citizen is told, and when."""
from __future__ import annotations

import asyncio

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels.intake import (APOLOGY, EMPTY, PRIVACY_NOTICE, RATE_LIMITED, TOO_LONG,
                                 Intake, RateLimiter, clean_text, valid_sender)
from bot.privacy import MASK


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def intake(clock=None, per_minute=30, burst=3, timeout=0.5) -> Intake:
    return Intake(RateLimiter(per_minute, burst, clock or Clock()), timeout)


def test_a_burst_is_limited_and_the_bucket_refills():
    clock = Clock()
    limiter = RateLimiter(per_minute=30, burst=3, clock=clock)
    assert [limiter.allow("a") for _ in range(5)] == [True, True, True, False, False]
    assert limiter.allow("b")  # other senders are not affected
    clock.now += 2.0  # 30 a minute: one message every two seconds
    assert limiter.allow("a") and not limiter.allow("a")


def test_admission_of_plain_text_passes_it_unchanged():
    admission = intake().admit("s", "転入届はオンラインでできますか")
    assert admission.text == "転入届はオンラインでできますか"
    assert admission.replies == [] and not admission.rate_limited


def test_empty_long_and_too_many_messages_get_a_polite_reply_and_skip_the_bot():
    gate = intake(burst=2)  # the third message is over the limit
    empty = gate.admit("s", " \u3000\n")
    assert empty.text is None and empty.replies == [EMPTY]
    too_long = gate.admit("s", "あ" * 2001)
    assert too_long.text is None and too_long.replies == [TOO_LONG.format(limit=2000)]
    limited = gate.admit("s", "転入届")
    assert limited.text is None and limited.replies == [RATE_LIMITED] and limited.rate_limited


def test_personal_data_is_masked_with_a_notice_and_recorded_as_metadata():
    admission = intake().admit("s", "1234-5678-9018 です。電話090-1234-5678。転入届の期限は?")
    assert admission.text == f"{MASK} です。電話{MASK}。転入届の期限は?"
    assert admission.replies == [PRIVACY_NOTICE]
    assert admission.metadata == {"masked": ["mynumber", "phone"]}


def test_control_characters_lone_surrogates_and_rasa_commands_are_removed():
    assert clean_text("転入\x00届\x07は\ud800?\n改行\tタブ") == "転入届は?\n改行\tタブ"
    assert [clean_text(t) for t in ("/restart", " /session_start", "/back{}", "/backup")] == [
        "restart", "session_start", "back{}", "/backup"]
    payload = '/ask_documents{"procedure":"tennyu"}'
    assert clean_text(payload) == payload


def test_sender_ids_must_be_short_printable_and_not_blank():
    assert valid_sender("line-U1234") and valid_sender("あ" * 128)
    for bad in (None, "", "   ", "a" * 129, "a\x00b", "a\nb", 42, ["a"]):
        assert not valid_sender(bad)


def run_turn(gate: Intake, bot) -> list:
    output = CollectingOutputChannel()
    asyncio.run(gate.answer(bot, UserMessage("転入届", output, "s", input_channel="test")))
    return [m["text"] for m in output.messages]


def test_the_bot_answering_is_passed_through():
    async def bot(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "答え")
    assert run_turn(intake(), bot) == ["答え"]


def test_silence_failure_and_slowness_each_get_the_apology():
    async def silent(message: UserMessage) -> None:
        return None

    async def failing(message: UserMessage) -> None:
        raise RuntimeError("tracker store gone")

    async def slow(message: UserMessage) -> None:
        await asyncio.sleep(5)

    for bot in (silent, failing, slow):
        assert run_turn(intake(timeout=0.2), bot) == [APOLOGY]
