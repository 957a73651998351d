"""Find the date a citizen mentions ("3月3日に引っ越しました", "令和8年1月5日", "昨日").

Years are often left out: a past-tense sentence means the latest such date not after
today, a future one the next such date, and otherwise the nearest one.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Optional

from bot.nlu.normalise import normalise

_KANJI_DIGITS = {"〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
                 "八": 8, "九": 9}
_ERAS = {"令和": 2018, "R": 2018, "平成": 1988, "H": 1988}
_RELATIVE = {"一昨日": -2, "おととい": -2, "昨日": -1, "きのう": -1, "今日": 0, "本日": 0,
             "きょう": 0, "明日": 1, "あした": 1}
_PAST = re.compile(r"(ました|でした|した|った|んだ|だった|済み|済ませ|亡くな|生まれ|産まれ)")
_FUTURE = re.compile(r"(予定|つもり|来週|来月|来年|再来月|これから|今度)")

_FULL = re.compile(
    r"(?:(令和|平成|R|H)\s*(\d{1,2}|元)|(\d{4}))\s*[年/.-]\s*(\d{1,2})\s*[月/.-]\s*(\d{1,2})\s*日?")
_MONTH_DAY = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*日|(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])")


def _kanji_number(match: re.Match) -> str:
    text = match.group(0)
    if "十" in text:
        tens, _, ones = text.partition("十")
        value = (_KANJI_DIGITS.get(tens, 1) if tens else 1) * 10 + (
            _KANJI_DIGITS.get(ones, 0) if ones else 0)
    else:
        value = int("".join(str(_KANJI_DIGITS[c]) for c in text))
    return str(value)


def _to_digits(text: str) -> str:
    return re.sub(r"[〇一二三四五六七八九十]+(?=\s*[年月日])", _kanji_number, text)


def _safe_date(year: int, month: int, day: int) -> Optional[dt.date]:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def find_date(text: str, today: dt.date) -> Optional[dt.date]:
    """The first date mentioned in ``text``, with the year filled in; None if none."""
    cleaned = _to_digits(normalise(text).text)
    full = _FULL.search(cleaned)
    if full:
        era, era_year, year, month, day = full.groups()
        if era:
            year = _ERAS[era] + (1 if era_year == "元" else int(era_year))
        return _safe_date(int(year), int(month), int(day))
    partial = _MONTH_DAY.search(cleaned)
    if partial:
        month, day = (int(g) for g in (partial.group(1) or partial.group(3),
                                       partial.group(2) or partial.group(4)))
        candidates = [d for d in (_safe_date(today.year + offset, month, day)
                                  for offset in (-1, 0, 1)) if d]
        if not candidates:
            return None
        if _PAST.search(cleaned) and not _FUTURE.search(cleaned):
            past = [d for d in candidates if d <= today]
            return max(past) if past else min(candidates, key=lambda d: abs(d - today))
        if _FUTURE.search(cleaned):
            future = [d for d in candidates if d >= today]
            return min(future) if future else max(candidates)
        return min(candidates, key=lambda d: abs(d - today))
    for word, offset in sorted(_RELATIVE.items(), key=lambda kv: -len(kv[0])):
        if word in cleaned:
            return today + dt.timedelta(days=offset)
    return None
