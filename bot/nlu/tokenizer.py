"""SudachiPy tokenizer for Rasa, in the style of Rasa's own ``JiebaTokenizer``.

Sudachi segments the *normalised* text (see ``bot.nlu.normalise``), and every token is
mapped back to the exact substring the user typed, so entity offsets stay true to the
original message. Sudachi's normalized form (書き換え後の正規化形, e.g. 引越し→引っ越し) is the
token's lemma, which Rasa's ``CountVectorsFeaturizer`` uses by default; the dictionary
form, reading and part of speech are kept in ``token.data`` for other featurizers.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.normalise import normalise
from bot.nlu.sudachi import SPLIT_MODES, sudachi_pool

# Parts of speech that carry no meaning for intent classification.
SKIPPED_POS = {"補助記号", "空白"}


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class SudachiTokenizer(Tokenizer):
    """Tokenizes Japanese text with SudachiPy."""

    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        """Supported languages (see parent class for full docstring)."""
        return ["ja"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Returns default config (see parent class for full docstring)."""
        return {
            # Sudachi split mode: "A" (short units), "B" (middle) or "C" (named
            # entities and compounds kept whole). C keeps 転入届 as one token.
            "split_mode": "C",
            # Which sudachidict package to load: "core", "small" or "full".
            "dictionary": "core",
            # Flag to check whether to split intents
            "intent_tokenization_flag": False,
            # Symbol on which intent should be split
            "intent_split_symbol": "_",
            # Regular expression to detect tokens
            "token_pattern": None,
            # Symbol on which prefix should be split
            "prefix_separator_symbol": None,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        """Initialize the tokenizer and build the Sudachi dictionary once."""
        super().__init__(config)
        if config["split_mode"] not in SPLIT_MODES:
            raise ValueError(
                f"split_mode must be one of {sorted(SPLIT_MODES)}, "
                f"not {config['split_mode']!r}"
            )
        self._mode = SPLIT_MODES[config["split_mode"]]
        self._pool = sudachi_pool(config["dictionary"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SudachiTokenizer:
        """Creates a new component (see parent class for full docstring)."""
        return cls(config)

    @staticmethod
    def required_packages() -> List[Text]:
        """Any extra python dependencies required for this component to run."""
        return ["sudachipy", "sudachidict_core"]

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """Tokenizes the text of the provided attribute of the incoming message."""
        original = message.get(attribute) or ""
        cleaned = normalise(original)
        if not cleaned.text.strip():
            return []
        tokens = []
        for morpheme in self._pool.tokenizer().tokenize(cleaned.text, self._mode):
            if morpheme.part_of_speech()[0] in SKIPPED_POS:
                continue
            begin, end = morpheme.begin(), morpheme.end()
            if begin == end:
                continue
            start, stop = cleaned.span(begin, end)
            token = Token(
                original[start:stop],
                start,
                stop,
                data={
                    "dictionary_form": morpheme.dictionary_form(),
                    "reading": morpheme.reading_form(),
                    "pos": morpheme.part_of_speech()[0],
                },
                lemma=morpheme.normalized_form(),
            )
            tokens.append(token)
        return self._apply_token_pattern(tokens)
