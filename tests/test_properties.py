"""Property-based tests: the normaliser, the tokenizer's offsets and the knowledge-base
queries hold up on any text, not only on the examples we thought of."""
from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings, strategies as st
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.normalise import fold, normalise
from bot.nlu.tokenizer import SudachiTokenizer
from knowledge.deadlines import due_date, is_closed
from knowledge.loader import load_catalog
from knowledge.queries import get_life_event, get_procedure

# Japanese scripts, their half-width and full-width forms, emoji, combining marks,
# controls and right-to-left text, mixed with anything else Unicode has.
JAPANESE = st.sampled_from(list(
    "あいうえおがぱっゃーアイウエオガパッャｱｲｳｶﾞﾊﾟｰ転入届出生住民票期限必要なものは?？!！、。"
    "０１２３ＡＢＣabc123 　\n\t\u3099\u309a\u0301\u200b\u200f\u202e\ufeff😀👨‍👩‍👧🇯🇵"
    "مرحباשלום<>&\"'\x00\x07\x1b\x7f"))
TEXTS = st.one_of(st.text(JAPANESE, max_size=80), st.text(max_size=80))
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(TEXTS)
def test_normalised_characters_map_back_inside_the_original(text):
    for mapped in (normalise(text), fold(text)):
        assert len(mapped.starts) == len(mapped.ends) == len(mapped.text)
        for start, end in zip(mapped.starts, mapped.ends):
            assert 0 <= start < end <= len(text)
        assert list(mapped.starts) == sorted(mapped.starts)


@FUZZ
@given(TEXTS)
def test_normalising_twice_changes_nothing_more(text):
    once = normalise(text).text
    assert normalise(once).text == once


TOKENIZER = SudachiTokenizer(SudachiTokenizer.get_default_config())


@FUZZ
@given(TEXTS)
def test_tokens_are_exact_ordered_substrings_of_the_original(text):
    tokens = TOKENIZER.tokenize(Message(data={"text": text}), "text")
    previous_end = 0
    for token in tokens:
        assert 0 <= token.start < token.end <= len(text)
        assert token.text == text[token.start:token.end]
        assert token.start >= previous_end
        previous_end = token.end


@FUZZ
@given(TEXTS)
def test_any_id_finds_a_matching_procedure_or_nothing(kb, text):
    with kb.session() as session:
        procedure = get_procedure(session, text)
        assert procedure is None or procedure.id == text
        life_event = get_life_event(session, text)
        assert life_event is None or life_event.id == text


PERIOD_RULES = [p.deadline.rule for p in load_catalog().procedures
                if p.deadline and p.deadline.rule and p.deadline.rule.fixed_month is None]


@FUZZ
@given(st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2030, 12, 31)),
       st.sampled_from(PERIOD_RULES))
def test_due_dates_never_fall_before_the_event_or_on_a_closed_day(event, rule):
    due = due_date(rule, event)
    assert due.due >= due.unmoved >= event
    if rule.holiday_extension:
        assert not is_closed(due.due, rule.calendar)
