"""What a question is specifically about: its words, less the procedure's own names and
the phrasing citizens use to ask for a topic.

「転入届はネットでできますか」 leaves nothing (a generic question: the topic section
answers it); 「婚姻届で夫婦別姓にできますか」 leaves 夫婦別姓 (a specific one: a Q&A
entry must answer it, or the bot says it cannot). The generic phrasing is learnt from
the training data's topic questions (data/nlu/), so it follows the NLU's own examples.
"""
from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, FrozenSet, Iterable, Optional, Sequence, Set, Tuple

import yaml

from bot.nlu.normalise import fold_key
from bot.nlu.sudachi import SPLIT_MODES, sudachi_pool
from knowledge.schema import LifeEvent, Procedure
from knowledge.search import CONTENT_POS, analyse

ROOT = Path(__file__).resolve().parents[1]
# Training files whose examples are topic questions about a procedure (not small talk
# or out-of-scope requests).
TOPIC_DATA = ("online", "documents", "deadline", "fee", "where", "proxy", "overview",
              "compute_deadline", "life_events")
LIGHT = ("数詞", "固有名詞", "非自立可能", "助動詞語幹")
# A word is generic phrasing when at least this many topic examples use it.
GENERIC_MIN_EXAMPLES = 2
# ... and always, even when it is part of a procedure's name, when this many use it.
CORE_MIN_EXAMPLES = 5
# Words of time, self and reference that say nothing of what is asked (「来月ほかの市に」),
# and everyday ways of asking for a topic the training data does not happen to use.
FILLER = frozenset("他 外 今 今度 来月 先月 今月 来年 今年 去年 昨年 昨日 今日 明日 先週 来週 今週 "
                   "私 僕 自分 方 件 事 物 時 所 前 後 ところ 役所 役場 市役所 区役所 町役場 村役場 "
                   "市区町村 市町村 発行 利用 さん 本当 説明 取得 代わる 締め切る 締切 "
                   "ウェブ インターネット 電子 マイナポ".split())


@lru_cache(maxsize=1)
def topic_word_counts() -> Counter:
    """In how many of the training data's topic questions each content word occurs."""
    counts: Counter = Counter()
    for name in TOPIC_DATA:
        data = yaml.safe_load((ROOT / "data" / "nlu" / f"{name}.yml").read_text("utf-8"))
        for block in data.get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                counts.update(set(analyse(line.strip().lstrip("- ")).words))
    return counts


def generic_words() -> FrozenSet[str]:
    """Content words that recur in the training data's topic questions: how citizens
    ask for a topic (ネット, 必要, 期限, いつまで …), not what a specific question is
    about (a word one example happens to use, such as 海外, is not generic)."""
    return frozenset(word for word, count in topic_word_counts().items()
                     if count >= GENERIC_MIN_EXAMPLES)


@lru_cache(maxsize=4096)
def word_parts(word: str) -> Tuple[str, ...]:
    """The parts of a compound (海外出張 → 海外, 出張); none for a simple word."""
    return tuple(w for w in analyse(word).words if w != word)


def focus_share(focus: Sequence[str], words: Set[str],
                weight: Optional[Callable[[str], float]] = None) -> float:
    """The share of the focus words that ``words`` has (each weighted by ``weight``, 1 by
    default): a compound counts by its parts when it is not there whole."""
    total = covered = 0.0
    for word in focus:
        share = weight(word) if weight else 1.0
        total += share
        if word in words:
            covered += share
        elif word_parts(word):
            parts = word_parts(word)
            covered += share * sum(p in words for p in parts) / len(parts)
    return covered / total if total else 0.0


def specific_words(text: str, known: FrozenSet[str], pointing: FrozenSet[str] = frozenset(),
                   generic: "FrozenSet[str] | None" = None) -> Tuple[str, ...]:
    """The words of ``text`` that are neither in ``known`` nor generic: compounds whole,
    unless all their parts are known or generic. A word in ``pointing`` (another
    procedure's keyword: 有効期限 for マイナンバーカード) is specific even if the
    training data's topic questions use it."""
    cleaned = text.strip()
    if not cleaned:
        return ()
    tokenizer = sudachi_pool().tokenizer()
    ignore = known | (generic_words() if generic is None else generic) | FILLER
    left = []
    for morpheme in tokenizer.tokenize(cleaned, SPLIT_MODES["C"]):
        pos = morpheme.part_of_speech()
        # Adverbs (しばらく), numbers, names and the light verbs and stems of grammar
        # (〜ておく, 〜てしまう, する, できる, 〜ように) are not what a question is about.
        if pos[0] not in CONTENT_POS or pos[0] == "副詞" or pos[1] in LIGHT:
            continue
        if fold_key(morpheme.surface()) in pointing or fold_key(morpheme.normalized_form()) in pointing:
            left.append(morpheme.normalized_form())
            continue
        if morpheme.normalized_form() in ignore:
            continue
        parts = [m.normalized_form() for m in morpheme.split(SPLIT_MODES["A"])
                 if m.part_of_speech()[0] in CONTENT_POS]
        if parts and all(p in ignore for p in parts):
            continue
        left.append(morpheme.normalized_form())
    return tuple(left)


def procedure_words(procedure: Procedure) -> FrozenSet[str]:
    """Words of the procedure's own names and keywords: naming it is not a question."""
    words = set()
    for text in (procedure.name, procedure.reading or "", *procedure.aliases, *procedure.keywords):
        words.update(analyse(text).words)
    return frozenset(words)


class QuestionWords:
    """What questions are specifically about, for one knowledge base's procedures.

    Words that name a procedure (its names, aliases and keywords) are never generic
    phrasing, even where a training example uses them (「離婚届の期限は」 does not make
    離婚 a way of asking for a topic); a life event's words are context, never the point."""

    def __init__(self, procedures: Iterable[Procedure], life_events: Iterable[LifeEvent]) -> None:
        self._words: Dict[str, FrozenSet[str]] = {}
        self._owners: Dict[str, Set[str]] = {}
        for procedure in procedures:
            self._words[procedure.id] = procedure_words(procedure)
            for keyword in {fold_key(k) for k in procedure.keywords if fold_key(k)}:
                self._owners.setdefault(keyword, set()).add(procedure.id)
        naming = frozenset().union(*self._words.values()) if self._words else frozenset()
        # A life event is the context of a question (「来月引っ越すんですが」), not its point.
        context = frozenset(w for event in life_events for k in event.keywords
                            for w in analyse(k).words)
        # The words of topic questions themselves (期限, 必要, 窓口) stay generic even
        # where a procedure's name contains them.
        core = frozenset(w for w, count in topic_word_counts().items() if count >= CORE_MIN_EXAMPLES)
        self._generic = (generic_words() - naming) | core | context

    def pointed(self, focus: Iterable[str], procedure: "Procedure | None") -> "str | None":
        """The one other procedure a focus word is a keyword of (マイナンバーカード +
        有効期限 → the card's renewal), which the question is then about; with a
        procedure named, only one of its related procedures (身体障害者手帳 + 再発行 is not
        the card's reissue)."""
        others = {owner for word in focus for owner in self._owners.get(fold_key(word), ())
                  if procedure is None or (owner != procedure.id and owner in procedure.related)}
        return others.pop() if len(others) == 1 else None

    def pools(self, focus: Iterable[str], procedure: "Procedure | None",
              named: Iterable["str | None"]) -> Tuple[str, ...]:
        """The procedures whose entries are searched first: the one a focus word points to,
        the ones named, and the subject's related procedures (the bot and the calibration
        search the same way)."""
        pointed = self.pointed(focus, procedure) if procedure else None
        related = procedure.related if procedure else ()
        return tuple(dict.fromkeys(p for p in (pointed, *named, *related) if p))

    def focus(self, text: str, procedure: "Procedure | None") -> Tuple[str, ...]:
        """The specific words of a question about ``procedure`` (or about none). A word
        another procedure lists as a keyword (有効期限 when マイナンバーカード is named)
        is specific."""
        if procedure is None:
            return specific_words(text, frozenset(), generic=self._generic)
        pointing = frozenset(k for k, ids in self._owners.items() if ids != {procedure.id})
        known = self._words.get(procedure.id) or procedure_words(procedure)
        return specific_words(text, known, pointing, generic=self._generic)
