"""Custom actions: thin steps that ask the knowledge base and render with the composer.

Each action takes the knowledge base (and the municipality and today's date) in its
constructor, so tests inject a real test database; the action server builds them from
``bot.config`` settings.
"""
from __future__ import annotations

import datetime as dt
from abc import ABCMeta, abstractmethod
from typing import Any, Callable, Dict, List, Optional, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.config import load_settings
from bot.privacy import install_log_masking
from bot.nlu.dates import find_date
from bot.nlu.subject import primary_procedure
from knowledge.answers import (CHECKLIST_LIMIT, TOPIC_INTENT, Reply, ask_for_date,
                               clarify_procedure, clarify_topic, due_date_answer, greeting,
                               handoff_answer, handoff_queued_answer, life_event_answer, matching_notes,
                               no_rule_answer, procedure_answer)
from knowledge.deadlines import due_date
from knowledge.queries import (KnowledgeBase, count_procedures_for_life_event,
                               get_life_event, get_municipality, get_procedure,
                               get_procedures, procedures_for_life_event)
from knowledge.schema import Municipality, Procedure

# Channels that can deliver a staff member's reply after the citizen's own turn.
HANDOFF_CHANNELS = ("widget", "line")
INTENT_TOPIC = {intent: topic for topic, intent in TOPIC_INTENT.items()}
CANDIDATE_MIN_SHARE = 0.5
_SHARED_KB: Optional[KnowledgeBase] = None
# The action server logs what actions log; personal data in it is masked.
install_log_masking()


def shared_knowledge_base() -> KnowledgeBase:
    """One engine per action-server process, opened on first use."""
    global _SHARED_KB
    if _SHARED_KB is None:
        _SHARED_KB = KnowledgeBase(load_settings().knowledge_db_url)
    return _SHARED_KB


def today_in_japan() -> dt.date:
    return dt.datetime.now(ZoneInfo(load_settings().timezone)).date()


def entities(tracker: Tracker, name: str) -> List[Dict[Text, Any]]:
    return [e for e in tracker.latest_message.get("entities", []) if e.get("entity") == name]


class KnowledgeAction(Action, metaclass=ABCMeta):
    """Base for actions that read the knowledge base (abstract: not registered itself)."""

    def __init__(self, kb: Optional[KnowledgeBase] = None, municipality_id: Optional[str] = None,
                 today: Optional[Callable[[], dt.date]] = None) -> None:
        self._kb = kb
        self._municipality_id = municipality_id or load_settings().municipality
        self._today = today or today_in_japan

    @abstractmethod
    def name(self) -> Text:
        """The action's name in domain.yml."""

    @property
    def kb(self) -> KnowledgeBase:
        return self._kb or shared_knowledge_base()

    def municipality(self, session: Any) -> Optional[Municipality]:
        return get_municipality(session, self._municipality_id)

    @staticmethod
    def send(dispatcher: CollectingDispatcher, reply: Reply) -> None:
        # Extra keys become the bot event's metadata in the tracker store (not shown).
        dispatcher.utter_message(text=reply.text, buttons=reply.buttons or None,
                                 json_message=reply.custom,
                                 **({"asks_back": True} if reply.asks_back else {}))


class ActionAnswer(KnowledgeAction):
    """Answer online / documents / deadline / fee / where / proxy / overview questions."""

    def name(self) -> Text:
        return "action_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        topic = INTENT_TOPIC.get(intent, "overview")
        text = tracker.latest_message.get("text") or ""
        with self.kb.session() as session:
            municipality = self.municipality(session)
            procedure_id = (primary_procedure(text, entities(tracker, "procedure"))
                            or tracker.get_slot("procedure"))
            if procedure_id is None:
                candidates = entities(tracker, "procedure_candidate")
                if candidates and candidates[0].get("confidence_entity", 0) > CANDIDATE_MIN_SHARE:
                    procedure_id = candidates[0]["value"]
                elif entities(tracker, "life_event"):
                    return self._life_event(dispatcher, session, municipality,
                                            entities(tracker, "life_event")[0]["value"])
                else:
                    options = get_procedures(session, [c["value"] for c in candidates])
                    self.send(dispatcher, clarify_procedure(options, topic))
                    return []
            procedure = get_procedure(session, procedure_id)
            if procedure is None:
                self.send(dispatcher, clarify_procedure([], topic))
                return [SlotSet("procedure", None)]
            self.send(dispatcher, procedure_answer(procedure, topic, text, municipality))
        return [SlotSet("procedure", procedure.id), SlotSet("topic", topic)]

    def _life_event(self, dispatcher: CollectingDispatcher, session: Any,
                    municipality: Optional[Municipality], event_id: str) -> List[EventType]:
        event = get_life_event(session, event_id)
        self.send(dispatcher, life_event_answer(
            event, procedures_for_life_event(session, event_id, CHECKLIST_LIMIT), municipality,
            count_procedures_for_life_event(session, event_id)))
        return [SlotSet("life_event", event_id)]


class ActionLifeEvent(ActionAnswer):
    """The checklist for a life event ("来月引っ越します。何が必要?").

    A procedure named in the same message ("海外に引っ越す場合、マイナンバーカードは…")
    is what the question is about, so it is answered instead.
    """

    def name(self) -> Text:
        return "action_life_event"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        found = entities(tracker, "life_event")
        if not found or entities(tracker, "procedure"):
            return await super().run(dispatcher, tracker, domain)
        with self.kb.session() as session:
            return self._life_event(dispatcher, session, self.municipality(session),
                                    found[0]["value"])


class ActionComputeDeadline(KnowledgeAction):
    """Turn "3月3日に引っ越しました。いつまでに?" into calendar due dates."""

    def name(self) -> Text:
        return "action_compute_deadline"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        text = tracker.latest_message.get("text") or ""
        with self.kb.session() as session:
            municipality = self.municipality(session)
            procedures, events = self._procedures(session, tracker, text)
            if not procedures:
                self.send(dispatcher, clarify_procedure([], "deadline"))
                return events
            dated = [p for p in procedures if p.deadline and p.deadline.rule]
            if not dated:
                self.send(dispatcher, no_rule_answer(procedures[0], municipality))
                return events + [SlotSet("procedure", procedures[0].id)]
            today = self._today()
            day = find_date(text, today)
            if day is None:
                for procedure in dated:
                    self.send(dispatcher, procedure_answer(procedure, "deadline", text,
                                                           municipality))
                self.send(dispatcher, ask_for_date([p.name for p in dated]))
                return events
            fixed = [p for p in dated if p.deadline.rule.fixed_month is not None]
            items = [(p, due_date(p.deadline.rule, day)) for p in dated if p not in fixed]
            if not items:
                self.send(dispatcher, procedure_answer(fixed[0], "deadline", text, municipality))
                return events
            self.send(dispatcher, due_date_answer(items, day, today))
        return events

    def _procedures(self, session: Any, tracker: Tracker, text: str
                    ) -> tuple[List[Procedure], List[EventType]]:
        procedure_id = primary_procedure(text, entities(tracker, "procedure"))
        if procedure_id:
            return get_procedures(session, [procedure_id]), [SlotSet("procedure", procedure_id)]
        found = entities(tracker, "life_event")
        event_id = found[0]["value"] if found else None
        if event_id is None and tracker.get_slot("procedure"):
            return get_procedures(session, [tracker.get_slot("procedure")]), []
        event_id = event_id or tracker.get_slot("life_event")
        event = get_life_event(session, event_id) if event_id else None
        if event is None:
            return [], []
        return get_procedures(session, event.deadline_procedures), [SlotSet("life_event", event_id)]


class AnswerIfNamed(ActionAnswer):
    """For intents that are not questions: if a procedure is named anyway, the intent was
    most likely misread ("出生届の名前に使える漢字は" is not small talk), so answer it."""

    @abstractmethod
    def name(self) -> Text:
        """The action's name in domain.yml."""

    @abstractmethod
    def otherwise(self, dispatcher: CollectingDispatcher) -> None:
        """What to say when no procedure is named."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        if entities(tracker, "procedure"):
            return await super().run(dispatcher, tracker, domain)
        self.otherwise(dispatcher)
        return []


class ActionGreet(AnswerIfNamed):
    def name(self) -> Text:
        return "action_greet"

    def otherwise(self, dispatcher: CollectingDispatcher) -> None:
        self.send(dispatcher, greeting())


class ActionOutOfScope(AnswerIfNamed):
    def name(self) -> Text:
        return "action_out_of_scope"

    def otherwise(self, dispatcher: CollectingDispatcher) -> None:
        dispatcher.utter_message(response="utter_out_of_scope")


class ActionHandoff(KnowledgeAction):
    """A citizen asks for a person. On the widget and LINE (which can deliver a staff
    member's reply later) the conversation is paused and joins the staff tool's
    handoff queue; elsewhere the municipality's contact is given."""

    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        queued = tracker.get_latest_input_channel() in HANDOFF_CHANNELS
        with self.kb.session() as session:
            municipality = self.municipality(session)
            self.send(dispatcher, (handoff_queued_answer if queued else handoff_answer)(
                municipality))
        return [ConversationPaused()] if queued else []


class ActionClarify(ActionAnswer):
    """Unsure of the intent: ask with buttons instead of guessing.

    When the procedure is clear and some of its notes match the user's own words, those
    notes are the answer, so the overview with them is given instead of a question.
    """

    def name(self) -> Text:
        return "action_clarify"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        text = tracker.latest_message.get("text") or ""
        procedure_id = primary_procedure(text, entities(tracker, "procedure"))
        with self.kb.session() as session:
            if procedure_id:
                procedure = get_procedure(session, procedure_id)
                if matching_notes(procedure, text):
                    self.send(dispatcher, procedure_answer(procedure, "overview", text,
                                                           self.municipality(session)))
                else:
                    self.send(dispatcher, clarify_topic(procedure))
                return [SlotSet("procedure", procedure_id)]
            if entities(tracker, "life_event"):
                return self._life_event(dispatcher, session, self.municipality(session),
                                        entities(tracker, "life_event")[0]["value"])
            candidates = get_procedures(
                session, [c["value"] for c in entities(tracker, "procedure_candidate")])
            self.send(dispatcher, clarify_procedure(candidates, "overview"))
        return []
