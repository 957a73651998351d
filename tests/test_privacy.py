"""Personal data is masked the way citizens type it, and nothing else is touched."""
from __future__ import annotations

import logging
import re

import pytest
from hypothesis import given, strategies as st

from bot.privacy import (EMAIL, LONG_NUMBER, MASK, MYNUMBER, PHONE, install_log_masking,
                         is_mynumber, mask_personal_data, mynumber_check_digit)

# 12 digits whose last one is the check digit of the first eleven (made up, not anyone's).
VALID_MYNUMBER = "123456789018"


def with_check_digit(first_eleven: str) -> str:
    return first_eleven + str(mynumber_check_digit([int(d) for d in first_eleven]))


def test_check_digit_follows_the_ministry_formula():
    # Q = 2..7 for the six rightmost digits, then 2..6; remainder ≤ 1 gives 0.
    assert mynumber_check_digit([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]) == 8
    assert mynumber_check_digit([0] * 11) == 0
    assert is_mynumber([int(d) for d in VALID_MYNUMBER])
    assert not is_mynumber([int(d) for d in "123456789019"])


@pytest.mark.parametrize("written", [
    "123456789018", "1234 5678 9018", "1234-5678-9018", "１２３４５６７８９０１８",
    "１２３４ー５６７８ー９０１８", "1234　5678　9018", "1234.5678.9018",
])
def test_my_number_is_masked_however_it_is_written(written):
    masked = mask_personal_data(f"私のマイナンバーは{written}です。転入届は?")
    assert masked.text == f"私のマイナンバーは{MASK}です。転入届は?"
    assert masked.kinds == (MYNUMBER,)


def test_twelve_digits_with_a_wrong_check_digit_are_still_masked_as_a_number():
    masked = mask_personal_data("番号は1234-5678-9019です")
    assert masked.text == f"番号は{MASK}です" and masked.kinds == (LONG_NUMBER,)


@pytest.mark.parametrize("written", [
    "090-1234-5678", "09012345678", "03-1234-5678", "03(1234)5678", "03 1234 5678",
    "０９０ー１２３４ー５６７８", "+81 90-1234-5678", "+81-3-1234-5678", "0120-123-456",
    "050-1234-5678",
])
def test_phone_numbers_are_masked(written):
    masked = mask_personal_data(f"連絡先は{written}です")
    assert masked.text == f"連絡先は{MASK}です"
    assert masked.kinds == (PHONE,)


@pytest.mark.parametrize("written", [
    "taro.yamada@example.jp", "taro+kosodate@mail.example.co.jp", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ",
    "hanako_01@example.com",
])
def test_email_addresses_are_masked(written):
    masked = mask_personal_data(f"メールは{written}にください")
    assert masked.text == f"メールは{MASK}にください"
    assert masked.kinds == (EMAIL,)


@pytest.mark.parametrize("text", [
    "2026年11月23日に引っ越しました", "2026-11-23", "〒100-8914", "手数料は300円です",
    "令和8年4月1日から14日以内", "1,000,000円", "平日8:30〜17:15", "第49条", "3/15までに",
    "マイナンバーカードの暗証番号を忘れました",
])
def test_ordinary_questions_are_left_alone(text):
    assert mask_personal_data(text).text == text
    assert not mask_personal_data(text).changed


def test_several_kinds_in_one_message_are_all_masked_in_order():
    masked = mask_personal_data(
        "番号 1234 5678 9018、電話 090-1234-5678、メール a.b@example.jp です")
    assert masked.text == f"番号 {MASK}、電話 {MASK}、メール {MASK} です"
    assert masked.kinds == (MYNUMBER, PHONE, EMAIL)


def test_log_records_are_masked_after_installation(caplog):
    install_log_masking()
    install_log_masking()  # twice is harmless
    with caplog.at_level(logging.INFO):
        logging.getLogger("test.privacy").info("user said %s", "電話は090-1234-5678です")
    assert caplog.records[-1].getMessage() == f"user said 電話は{MASK}です"


separators = st.sampled_from(["", " ", "-", "ー", "－", "　"])
filler = st.text(alphabet=st.characters(blacklist_categories=("Nd",),
                                        blacklist_characters="@＠+＋"), max_size=20)


@given(st.text(alphabet="0123456789", min_size=11, max_size=11), separators, filler, filler)
def test_any_valid_my_number_in_any_text_is_masked(first_eleven, separator, before, after):
    number = with_check_digit(first_eleven)
    written = separator.join([number[:4], number[4:8], number[8:]])
    masked = mask_personal_data(f"{before}{written}{after}")
    digits_left = "".join(c for c in masked.text if c.isdigit())
    assert number not in digits_left
    assert MYNUMBER in masked.kinds


@given(st.text(max_size=200))
def test_masking_is_idempotent_and_leaves_no_long_digit_run(text):
    once = mask_personal_data(text).text
    assert mask_personal_data(once).text == once
    assert re.search(r"\d{10}", once) is None
