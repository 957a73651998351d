"""Japanese input normalisation that keeps a map back to the user's own characters.

Citizens type ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ, マイナンバ−カード, 住民表 or てんにゅうとどけ. Two layers:

- ``normalise`` cleans the text for the tokenizer (NFKC width folding, one long-vowel
  mark, common typos, emoji and control characters dropped) and records, for every
  output character, which original characters it came from, so tokens and entities
  can point at exact substrings of what the user sent.
- ``fold`` turns normalised text into a matching key (hiragana, large kana, no long
  vowels, spaces or punctuation, lower case) used to compare user text with aliases.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

TYPOS_FILE = Path(__file__).resolve().parents[2] / "knowledge" / "typos.yaml"

_VOICING_MARKS = {"\u3099", "\u309a"}
_DASHES = set("-~〜‐―−–—")
_SMALL_TO_LARGE = str.maketrans("ぁぃぅぇぉっゃゅょゎゕゖ", "あいうえおつやゆよわかけ")
_DROPPED_CATEGORIES = {"So", "Sk", "Cs", "Co", "Cn", "Mn", "Me", "Cf", "Cc"}


@dataclass(frozen=True)
class Mapped:
    """Text plus, per character, the [start, end) span of original characters it stands for."""

    text: str
    starts: Tuple[int, ...]
    ends: Tuple[int, ...]

    def span(self, start: int, end: int) -> Tuple[int, int]:
        """Original-text span of the characters ``text[start:end]`` (end exclusive)."""
        return self.starts[start], self.ends[end - 1]


def _is_katakana(char: str) -> bool:
    return "\u30a1" <= char <= "\u30fa" or char == "ー"


def _drop(char: str) -> bool:
    if char in "\n\t\r":
        return False
    return unicodedata.category(char) in _DROPPED_CATEGORIES


@lru_cache(maxsize=1)
def _typos() -> Tuple[Tuple[str, str], ...]:
    """Known misspellings, longest first so that overlapping entries do not clash."""
    data: Dict[str, str] = yaml.safe_load(TYPOS_FILE.read_text(encoding="utf-8")) or {}
    return tuple(sorted(data.items(), key=lambda kv: -len(kv[0])))


def _width_and_marks(text: str) -> Tuple[List[str], List[int], List[int]]:
    chars: List[str] = []
    starts: List[int] = []
    ends: List[int] = []
    for index, raw in enumerate(text):
        for char in unicodedata.normalize("NFKC", raw):
            if char in _VOICING_MARKS and chars:
                combined = unicodedata.normalize("NFC", chars[-1] + char)
                if len(combined) == 1:
                    chars[-1] = combined
                    ends[-1] = index + 1
                continue
            if char in "\n\t\r":
                char = " "
            if _drop(char):
                continue
            if char in _DASHES and chars and _is_katakana(chars[-1]):
                char = "ー"
            chars.append(char)
            starts.append(index)
            ends.append(index + 1)
    return chars, starts, ends


def normalise(text: str) -> Mapped:
    """Clean ``text`` for tokenisation, keeping the map to original offsets."""
    chars, starts, ends = _width_and_marks(text)
    joined = "".join(chars)
    for wrong, right in _typos():
        position = joined.find(wrong)
        while position != -1:
            last = position + len(wrong) - 1
            span_start, span_end = starts[position], ends[last]
            chars[position : last + 1] = list(right)
            starts[position : last + 1] = [span_start] * len(right)
            ends[position : last + 1] = [span_end] * len(right)
            joined = "".join(chars)
            position = joined.find(wrong, position + len(right))
    return Mapped(joined, tuple(starts), tuple(ends))


def _fold_char(char: str) -> str:
    if "\u30a1" <= char <= "\u30f6":
        char = chr(ord(char) - 0x60)
    return char.translate(_SMALL_TO_LARGE).lower()


def fold(text: str) -> Mapped:
    """Matching key for ``text``: normalised, then kana- and punctuation-insensitive."""
    cleaned = normalise(text)
    chars: List[str] = []
    starts: List[int] = []
    ends: List[int] = []
    for char, start, end in zip(cleaned.text, cleaned.starts, cleaned.ends):
        if char == "ー" or char == "・" or char.isspace():
            continue
        if unicodedata.category(char).startswith("P"):
            continue
        chars.append(_fold_char(char))
        starts.append(start)
        ends.append(end)
    return Mapped("".join(chars), tuple(starts), tuple(ends))


def fold_key(text: str) -> str:
    """Just the folded string, for comparing aliases with each other."""
    return fold(text).text
