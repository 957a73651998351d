"""Masking of personal data before a citizen's message is stored or logged.

Citizens paste their My Number (個人番号), phone numbers and e-mail addresses into chats.
Every public channel masks them before Rasa sees the text (so the tracker store never
holds them), and every process of the bot masks them in its log records as a second
line of defence.

Numbers are read the way people type them: half- or full-width digits, with spaces,
hyphens (any dash, 「ー」 included), dots or parentheses between digits. A run of ten or
more digits is always masked; it is *named* a My Number when it has twelve digits and a
valid check digit, a phone number when it looks like a Japanese one (0 + 9 or 10 digits,
or +81), and otherwise a long number (for example a My Number with a typo).
"""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import List, Tuple

MASK = "＊＊＊＊"
MYNUMBER, PHONE, EMAIL, LONG_NUMBER = "mynumber", "phone", "email", "number"
MIN_MASKED_DIGITS = 10

_SEPARATOR = r"[ \u3000\-‐‑‒–—―−－ー─ｰ.．・･()（）]"
_DIGIT_RUN = re.compile(rf"(?:\+|＋)?\d(?:{_SEPARATOR}{{0,2}}\d)*")
_EMAIL = re.compile(
    r"[A-Za-z0-9._%+\-Ａ-Ｚａ-ｚ０-９．＿％＋－]+[@＠]"
    r"[A-Za-z0-9\-Ａ-Ｚａ-ｚ０-９－]+(?:[.．][A-Za-z0-9\-Ａ-Ｚａ-ｚ０-９－]+)*[.．][A-Za-zＡ-Ｚａ-ｚ]{2,}")


@dataclass(frozen=True)
class Masked:
    text: str
    kinds: Tuple[str, ...]  # what was masked, in order of appearance

    @property
    def changed(self) -> bool:
        return bool(self.kinds)


def mynumber_check_digit(first_eleven: List[int]) -> int:
    """The 12th digit of a My Number (個人番号の検査用数字, 総務省令第85号 第5条)."""
    total = 0
    for n, digit in enumerate(reversed(first_eleven), start=1):
        total += digit * (n + 1 if n <= 6 else n - 5)
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_mynumber(digits: List[int]) -> bool:
    return len(digits) == 12 and mynumber_check_digit(digits[:11]) == digits[11]


def _kind_of_number(run: str) -> str:
    digits = [unicodedata.digit(c) for c in run if c.isdigit()]
    international = run[0] in "+＋"
    if international and digits[:2] == [8, 1] and len(digits) in (11, 12):
        return PHONE
    if is_mynumber(digits):
        return MYNUMBER
    if not international and digits[0] == 0 and len(digits) in (10, 11):
        return PHONE
    return LONG_NUMBER


def mask_personal_data(text: str) -> Masked:
    """The text with My Numbers, phone numbers and e-mail addresses replaced by ＊＊＊＊."""
    found: List[Tuple[int, int, str]] = [(m.start(), m.end(), EMAIL) for m in _EMAIL.finditer(text)]
    for match in _DIGIT_RUN.finditer(text):
        run = match.group()
        if sum(c.isdigit() for c in run) < MIN_MASKED_DIGITS:
            continue
        if any(start < match.end() and match.start() < end for start, end, _ in found):
            continue  # digits inside an e-mail address
        found.append((match.start(), match.end(), _kind_of_number(run)))
    if not found:
        return Masked(text, ())
    found.sort()
    pieces, position = [], 0
    for start, end, _ in found:
        pieces.append(text[position:start])
        pieces.append(MASK)
        position = end
    pieces.append(text[position:])
    return Masked("".join(pieces), tuple(kind for _, _, kind in found))


def install_log_masking() -> None:
    """Mask personal data in every log record this process creates from now on."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "masks_personal_data", False):
        return

    def masking_factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logger's problem, not ours
            return record
        masked = mask_personal_data(message)
        if masked.changed:
            record.msg, record.args = masked.text, None
        return record

    masking_factory.masks_personal_data = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masking_factory)
