"""Which procedure a question is about when it names several (actions and staff tool)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from bot.nlu.normalise import fold

# A procedure named just before these is a tool or a modifier ("マイナンバーカードで",
# "マイナンバーカードの電子証明書"), not what the question is about.
MODIFIER_PARTICLES = ("で", "の", "を使")


def primary_procedure(text: str, found: Sequence[Dict[Text, Any]]) -> Optional[str]:
    """Skip procedures followed by a particle that makes them a tool or a modifier; of
    the rest (or of all, if every one is skipped), the last named is the subject in
    Japanese word order ("所得税の申告をしましたが、住民税の申告も必要?").
    """
    if not found:
        return None
    ordered = sorted(found, key=lambda e: e.get("start", 0))
    subjects = [e for e in ordered
                if not text[e.get("end", 0):].startswith(MODIFIER_PARTICLES)]
    return (subjects or ordered)[-1]["value"]


Match = Tuple[int, int, str]  # start, end (in folded text), value


def longest_matches(folded: str, table: Dict[str, str]) -> List[Match]:
    """Non-overlapping occurrences of table keys in ``folded``, longest first wins."""
    found: List[Match] = []
    for key in sorted(table, key=len, reverse=True):
        start = folded.find(key)
        while start != -1:
            end = start + len(key)
            if all(end <= s or start >= e for s, e, _ in found):
                found.append((start, end, table[key]))
            start = folded.find(key, start + 1)
    return sorted(found)


def named_procedures(text: str, aliases: Dict[str, str]) -> List[str]:
    """The procedures a text names, from a folded alias table, as the bot's procedure
    extractor would find them (for code without Rasa): the one ``primary_procedure``
    takes for its subject first."""
    folded = fold(text)
    found = []
    for start, end, value in longest_matches(folded.text, aliases):
        start, end = folded.span(start, end)
        found.append({"start": start, "end": end, "value": value})
    primary = primary_procedure(text, found)
    return [primary] + [p for p in dict.fromkeys(e["value"] for e in found) if p != primary] \
        if primary else []
