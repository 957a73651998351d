"""The held-out set of `make bench` stays held out, and its labels are ones the bot knows.

A held-out utterance copied into data/nlu/ would make the quality figures a lie; this
fails the moment that happens (compared after normalisation, so a changed width or
long vowel does not hide a copy).
"""
from __future__ import annotations

import yaml

from bench.quality import heldout_examples, load_examples, HELDOUT, TRAINING
from bench.search_quality import search_queries
from bot.config import ROOT
from bot.nlu.normalise import fold_key


def test_no_held_out_utterance_is_in_the_training_data():
    kept, left_out = heldout_examples()
    trained = {fold_key(m.get("text")) for m in load_examples(TRAINING)}
    copies = [m.get("text") for m in load_examples(HELDOUT) if fold_key(m.get("text")) in trained]
    assert copies == [] and left_out == 0
    assert len(kept) >= 300


def test_held_out_labels_are_intents_procedures_and_life_events_the_bot_knows(catalog):
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    procedures = {p.id for p in catalog.procedures}
    life_events = {e.id for e in catalog.life_events}
    for message in load_examples(HELDOUT):
        assert message.get("intent") in domain["intents"]
        for entity in message.get("entities") or []:
            known = procedures if entity["entity"] == "procedure" else life_events
            assert entity["entity"] in ("procedure", "life_event"), message.get("text")
            assert entity["value"] in known, (message.get("text"), entity["value"])


def test_search_queries_expect_known_procedures_and_are_not_aliases(catalog):
    """The staff search set names real procedures and never just repeats an alias."""
    known = {p.id: p for p in catalog.procedures}
    for part in ("queries", "fresh"):
        for case in search_queries(part):
            assert case["expect"] in known, case
            aliases = {fold_key(a) for a in known[case["expect"]].aliases}
            assert fold_key(case["query"]) not in aliases, case
