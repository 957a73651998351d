"""Normalisation, tokenisation and date finding on the Japanese citizens actually type."""
from __future__ import annotations

import datetime as dt

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.dates import find_date
from bot.nlu.normalise import fold_key, normalise
from bot.nlu.tokenizer import SudachiTokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return SudachiTokenizer(SudachiTokenizer.get_default_config())


def tokens(tokenizer, text):
    return tokenizer.tokenize(Message(data={"text": text}), "text")


@pytest.mark.parametrize("raw, cleaned", [
    ("ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ", "マイナンバーカード"),       # half-width kana with voicing marks
    ("マイナンバ−カード", "マイナンバーカード"),      # minus sign as long vowel
    ("住民表がほしい😀!!", "住民票がほしい!!"),      # typo fixed, emoji dropped
    ("ＡＢＣ１２３", "ABC123"),                     # full-width latin and digits
    ("転入\u200b届", "転入届"),                      # zero-width space
])
def test_normalise(raw, cleaned):
    assert normalise(raw).text == cleaned


def test_normalise_maps_every_character_back_to_the_original():
    raw = "ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞの住民表"
    cleaned = normalise(raw)
    start, end = cleaned.span(0, len("マイナンバーカード"))
    assert raw[start:end] == "ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ"
    start, end = cleaned.span(len("マイナンバーカードの"), len(cleaned.text))
    assert raw[start:end] == "住民表"


@pytest.mark.parametrize("a, b", [
    ("てんにゅうとどけ", "テンニュウトドケ"),
    ("しゅっしょうとどけ", "しゆつしようとどけ"),   # small-kana variants
    ("マイナンバーカード", "ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ"),
    ("e-Tax", "ｅ－ｔａｘ"),
])
def test_fold_makes_spelling_variants_equal(a, b):
    assert fold_key(a) == fold_key(b)


def test_tokens_are_exact_substrings_at_their_offsets(tokenizer):
    text = "ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞの住民表を、コンビニで取りたい😀"
    found = tokens(tokenizer, text)
    assert [t.text for t in found][:3] == ["ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ", "の", "住民表"]
    for token in found:
        assert text[token.start:token.end] == token.text
    assert found[0].lemma == "マイナンバーカード"
    assert found[2].lemma == "住民票"
    assert "、" not in [t.text for t in found]


def test_lemma_is_sudachi_normalized_form(tokenizer):
    found = {t.text: t for t in tokens(tokenizer, "来月引越しします")}
    assert found["引越し"].lemma == "引っ越し"
    assert found["引越し"].data["pos"] == "名詞"


def test_empty_and_emoji_only_text_give_no_tokens(tokenizer):
    assert tokens(tokenizer, "") == []
    assert tokens(tokenizer, "😀🙏") == []


TODAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize("text, expected", [
    ("3月3日に引っ越しました", dt.date(2026, 3, 3)),          # past: latest not after today
    ("12月25日に引っ越す予定です", dt.date(2026, 12, 25)),     # future
    ("1月10日に引っ越します", dt.date(2027, 1, 10)),           # nearest
    ("令和8年1月5日に生まれました", dt.date(2026, 1, 5)),
    ("平成元年1月8日", dt.date(1989, 1, 8)),
    ("2027/2/1に転居", dt.date(2027, 2, 1)),
    ("三月三日に生まれました", dt.date(2026, 3, 3)),
    ("十二月二十日に転居しました", dt.date(2025, 12, 20)),
    ("昨日父が亡くなりました", dt.date(2026, 11, 22)),
    ("３／３に引っ越しました", dt.date(2026, 3, 3)),
])
def test_find_date(text, expected):
    assert find_date(text, TODAY) == expected


def test_find_date_without_a_date_or_with_an_impossible_one():
    assert find_date("いつまでに出せばいいですか", TODAY) is None
    assert find_date("2026年2月30日", TODAY) is None
