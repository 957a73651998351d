"""Recognise procedures and life events from the knowledge base's own alias lists.

The aliases in knowledge/procedures/*.yaml are the single source: at training time this
component reads them (validated by the knowledge loader) into the model, so a procedure
added to the knowledge base is recognised after retraining with no edit to data/nlu/.

Matching is done on folded text (see ``bot.nlu.normalise.fold``), so 印鑑証明,
いんかんしょうめい and ｲﾝｶﾝｼｮｳﾒｲ meet. Entities:

- ``procedure``: an alias found in the text (longest, non-overlapping matches);
- ``procedure_candidate``: when no alias is found, procedures whose weak keywords occur,
  best first, with ``confidence_entity`` = share of the hits;
- ``life_event``: a life event whose keyword occurs.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.normalise import Mapped, fold, fold_key
from bot.nlu.subject import Match, longest_matches

TABLE_FILE = "aliases.json"
MAX_CANDIDATES = 4


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True
)
class ProcedureExtractor(GraphComponent, EntityExtractorMixin):
    """Finds procedures and life events using the knowledge base's aliases."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Returns default config (see parent class for full docstring)."""
        return {
            # Folder of the curated knowledge files; relative to the working directory.
            "knowledge_root": "knowledge",
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        tables: Optional[Dict[str, Dict[str, Any]]] = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        tables = tables or {}
        self._aliases: Dict[str, str] = tables.get("aliases", {})
        self._keywords: Dict[str, List[str]] = tables.get("keywords", {})
        self._life_events: Dict[str, str] = tables.get("life_events", {})

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ProcedureExtractor:
        """Creates a new, untrained component (see parent class for full docstring)."""
        return cls(config, model_storage, resource)

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """The tables come from files, not from the graph: their content is part of the
        fingerprint, so Rasa's training cache retrains this component when a procedure or
        life event file changes instead of restoring yesterday's aliases."""
        root = Path(config.get("knowledge_root", "knowledge"))
        digest = hashlib.sha256()
        for path in sorted(root.glob("procedures/*.yaml")) + [root / "life_events.yaml"]:
            digest.update(path.name.encode())
            digest.update(path.read_bytes() if path.exists() else b"")
        return digest.hexdigest()

    @staticmethod
    def build_tables(knowledge_root: Path) -> Dict[str, Dict[str, Any]]:
        """Folded alias, keyword and life-event tables from the validated knowledge files."""
        from knowledge.loader import load_catalog

        catalog = load_catalog(knowledge_root)
        keywords: Dict[str, List[str]] = {}
        for procedure in catalog.procedures:
            for keyword in procedure.keywords:
                key = fold_key(keyword)
                if key and procedure.id not in keywords.setdefault(key, []):
                    keywords[key].append(procedure.id)
        life_events = {fold_key(k): event.id for event in catalog.life_events
                       for k in event.keywords if fold_key(k)}
        aliases = {key: procedure_id for key, procedure_id, _ in catalog.alias_table()}
        return {"aliases": aliases, "keywords": keywords, "life_events": life_events}

    def train(self, training_data: TrainingData) -> Resource:
        """Reads the alias lists from the knowledge base into the model."""
        tables = self.build_tables(Path(self._config["knowledge_root"]))
        self._aliases = tables["aliases"]
        self._keywords = tables["keywords"]
        self._life_events = tables["life_events"]
        with self._model_storage.write_to(self._resource) as directory:
            (directory / TABLE_FILE).write_text(
                json.dumps(tables, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ProcedureExtractor:
        """Loads the alias tables saved at training time."""
        with model_storage.read_from(resource) as directory:
            tables = json.loads((directory / TABLE_FILE).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, tables)

    def _entity(self, folded: Mapped, original: str, match: Match, name: str,
                confidence: float = 1.0) -> Dict[Text, Any]:
        start, end = folded.span(match[0], match[1])
        return {"entity": name, "value": match[2], "start": start, "end": end,
                "confidence_entity": confidence, "text": original[start:end]}

    def extract(self, text: str) -> List[Dict[Text, Any]]:
        """Entities for ``text``; see the module docstring for what each means."""
        folded = fold(text)
        entities = [self._entity(folded, text, m, "procedure")
                    for m in longest_matches(folded.text, self._aliases)]
        if not entities:
            entities.extend(self._candidates(folded, text))
        seen_events = set()
        for match in longest_matches(folded.text, self._life_events):
            if match[2] not in seen_events:
                seen_events.add(match[2])
                entities.append(self._entity(folded, text, match, "life_event"))
        return entities

    def _candidates(self, folded: Mapped, text: str) -> List[Dict[Text, Any]]:
        hits: Dict[str, List[Match]] = {}
        for start, end, key in longest_matches(folded.text, {k: k for k in self._keywords}):
            for procedure_id in self._keywords[key]:
                hits.setdefault(procedure_id, []).append((start, end, procedure_id))
        total = sum(len(matches) for matches in hits.values())
        ranked = sorted(hits.items(), key=lambda item: (-len(item[1]), item[0]))
        return [self._entity(folded, text, matches[0], "procedure_candidate",
                             round(len(matches) / total, 3))
                for _, matches in ranked[:MAX_CANDIDATES]]

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds the procedure and life-event entities to each message."""
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            found = self.add_extractor_name(self.extract(text))
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to add: training examples do not annotate procedures."""
        return training_data
