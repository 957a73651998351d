"""GiNZA (spaCy ``ja_ginza``) word vectors as dense features, aligned to our Sudachi tokens.

Only for the pipeline comparison in `make bench`. Rasa's ``SpacyFeaturizer`` needs
spaCy's own tokens, and DIET needs dense and sparse sequence features of the same
length, so each of our tokens gets the mean static vector of the GiNZA tokens that
overlap its characters; the sentence gets the document vector. These are the vectors
``SpacyFeaturizer`` would use; GiNZA's parser and NER are not run.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class GinzaFeaturizer(DenseFeaturizer, GraphComponent):
    """Dense features from GiNZA's static word vectors, one row per Sudachi token."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The spaCy package to load (its tokenizer and vectors only)."""
        return {**DenseFeaturizer.get_default_config(), "model": "ja_ginza"}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy", "ginza"]

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if not config.get("model"):
            raise InvalidConfigException("GinzaFeaturizer needs the spaCy package in 'model'")

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        import spacy

        self._nlp = spacy.load(config["model"], exclude=[
            "tok2vec", "parser", "ner", "morphologizer", "attribute_ruler",
            "compound_splitter", "bunsetu_recognizer", "senter"])

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "GinzaFeaturizer":
        return cls(config, execution_context.node_name)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._featurize(message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def _featurize(self, message: Message) -> None:
        tokens = message.get(TOKENS_NAMES[TEXT])
        if not tokens:
            return
        doc = self._nlp(message.get(TEXT))
        width = self._nlp.vocab.vectors_length
        rows = []
        for token in tokens:
            overlapping = [t.vector for t in doc
                           if t.idx < token.end and token.start < t.idx + len(t.text)]
            rows.append(np.mean(overlapping, axis=0) if overlapping else np.zeros(width))
        self.add_features_to_message(np.stack(rows).astype(np.float32),
                                     doc.vector[None, :].astype(np.float32), TEXT, message)
