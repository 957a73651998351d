"""The Sudachi dictionary, built once per process, and a tokenizer per thread.

Rasa-free, so the web app's knowledge-base search segments text exactly as the bot's
tokenizer does without loading Rasa. A ``Dictionary`` is thread-safe; a ``Tokenizer``
is not, hence one per thread.
"""
from __future__ import annotations

import threading
from typing import Any, Dict

try:
    from sudachipy import Dictionary, SplitMode
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "SudachiPy is required for Japanese: pip install sudachipy sudachidict_core"
    ) from error

# Sudachi's three segmentation granularities: A is shortest (形態素), C keeps
# compound nouns whole (転入届, 印鑑登録証明書), B is in between.
SPLIT_MODES = {"A": SplitMode.A, "B": SplitMode.B, "C": SplitMode.C}


class SudachiPool:
    """One shared ``Dictionary`` and one ``Tokenizer`` per thread."""

    def __init__(self, dictionary: str) -> None:
        self._dictionary = Dictionary(dict=dictionary)
        self._local = threading.local()

    def tokenizer(self) -> Any:
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            tokenizer = self._dictionary.create()
            self._local.tokenizer = tokenizer
        return tokenizer


_POOLS: Dict[str, SudachiPool] = {}
_POOLS_LOCK = threading.Lock()


def sudachi_pool(dictionary: str = "core") -> SudachiPool:
    """Build the dictionary once per process, whatever number of users it has."""
    with _POOLS_LOCK:
        if dictionary not in _POOLS:
            _POOLS[dictionary] = SudachiPool(dictionary)
        return _POOLS[dictionary]
