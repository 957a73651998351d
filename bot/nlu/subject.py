"""Which procedure a question is about when it names several (actions and staff tool)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Text

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
