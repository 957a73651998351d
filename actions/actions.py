"""Custom actions: thin steps that ask the knowledge base and render with the composer.

Each action takes the knowledge base (and the municipality and today's date) in its
constructor, so tests inject a real test database; the action server builds them from
``bot.config`` settings.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
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
from knowledge.answers import (CHECKLIST_LIMIT, Reply, ask_for_date, clarify_procedure,
                               clarify_topic, due_date_answer, entry_answer, greeting,
                               handoff_answer, handoff_queued_answer, life_event_answer,
                               no_answer, no_rule_answer, procedure_answer,
                               unknown_service_answer)
from knowledge.decide import Decision, Knowledge, Message, decide
from knowledge.deadlines import due_date
from knowledge.queries import (KnowledgeBase, count_procedures_for_life_event,
                               get_life_event, get_municipality,
                               get_procedures, procedures_for_life_event)
from knowledge.schema import Department, Municipality, Procedure

# Channels that can deliver a staff member's reply after the citizen's own turn.
HANDOFF_CHANNELS = ("widget", "line")
_SHARED_KB: Optional[KnowledgeBase] = None
# The action server logs what actions log; personal data in it is masked.
install_log_masking()
logger = logging.getLogger(__name__)


def shared_knowledge_base() -> KnowledgeBase:
    """One engine per action-server process, opened on first use."""
    global _SHARED_KB
    if _SHARED_KB is None:
        _SHARED_KB = KnowledgeBase(load_settings().knowledge_db_url)
    return _SHARED_KB


def _warm_up() -> None:
    """Build the Q&A index (a few seconds) when the action server starts, not on the
    first citizen's message; a missing knowledge base is reported by the launcher."""
    try:
        with shared_knowledge_base().session() as session:
            Knowledge.of(session)
    except Exception:  # noqa: BLE001 - the first message builds it, or reports the error
        logger.info("Q&A index not built at start; it is built on the first question")


def today_in_japan() -> dt.date:
    return dt.datetime.now(ZoneInfo(load_settings().timezone)).date()


def entities(tracker: Tracker, name: str) -> List[Dict[Text, Any]]:
    return [e for e in tracker.latest_message.get("entities", []) if e.get("entity") == name]


def message_of(tracker: Tracker) -> Message:
    """The latest message as the decision reads it."""
    latest = tracker.latest_message
    return Message(text=latest.get("text") or "",
                   intent=(latest.get("intent") or {}).get("name"),
                   entities=latest.get("entities", []),
                   carried_procedure=tracker.get_slot("procedure"))


# Decisions about a specific question, answered as they are by every action.
SPECIFIC = ("entry", "no_answer", "unknown_service")


def department_of(session: Any, procedure: Procedure) -> Optional[Department]:
    """The department that handles the procedure (its answer names it)."""
    return Knowledge.of(session).departments.get(procedure.department)


def compose(session: Any, decision: Decision, message: Message,
            municipality: Optional[Municipality]) -> Optional[Reply]:
    """The composer's reply for the decision (None: the domain's out-of-scope text)."""
    kind = decision.kind
    if kind == "entry":
        return entry_answer(decision.entry, decision.procedure, decision.department,
                            municipality, decision.related)
    if kind == "topic":
        return procedure_answer(decision.procedure, decision.topic, message.text,
                                municipality, department_of(session, decision.procedure))
    if kind == "no_answer":
        return no_answer(decision.procedure, decision.department, municipality,
                         decision.related)
    if kind == "unknown_service":
        return unknown_service_answer(decision.service, decision.department, municipality,
                                      decision.related)
    if kind == "life_event":
        event_id = decision.life_event
        return life_event_answer(
            get_life_event(session, event_id),
            procedures_for_life_event(session, event_id, CHECKLIST_LIMIT), municipality,
            count_procedures_for_life_event(session, event_id), whole=decision.whole_checklist)
    if kind == "clarify_topic":
        return clarify_topic(decision.procedure)
    if kind == "greeting":
        return greeting()
    if kind == "out_of_scope":
        return None
    return clarify_procedure(get_procedures(session, decision.candidates), decision.topic)


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
        marks = {mark: True for mark in ("asks_back", "unanswered") if getattr(reply, mark)}
        dispatcher.utter_message(text=reply.text, buttons=reply.buttons or None,
                                 json_message=reply.custom, **marks)


class ActionAnswer(KnowledgeAction):
    """Answer a question: what to answer is ``knowledge.decide``'s one decision, how to
    say it the composer's."""

    def name(self) -> Text:
        return "action_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        message = message_of(tracker)
        with self.kb.session() as session:
            municipality = self.municipality(session)
            decision = decide(session, message, self._today())
            reply = compose(session, decision, message, municipality)
            if reply is None:
                dispatcher.utter_message(response="utter_out_of_scope")
            else:
                self.send(dispatcher, reply)
        return self.remember(decision)

    @staticmethod
    def remember(decision: Decision) -> List[EventType]:
        """The procedure (and topic, life event) the conversation is now about."""
        events: List[EventType] = []
        if decision.procedure is not None:
            events += [SlotSet("procedure", decision.procedure.id),
                       SlotSet("topic", decision.topic)]
        if decision.life_event is not None:
            events.append(SlotSet("life_event", decision.life_event))
        return events


class ActionLifeEvent(ActionAnswer):
    """The checklist for a life event ("来月引っ越します。何が必要?"); the decision
    answers a procedure named in the same message instead."""

    def name(self) -> Text:
        return "action_life_event"


class ActionComputeDeadline(KnowledgeAction):
    """Turn "3月3日に引っ越しました。いつまでに?" into calendar due dates."""

    def name(self) -> Text:
        return "action_compute_deadline"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        text = tracker.latest_message.get("text") or ""
        message = message_of(tracker)
        with self.kb.session() as session:
            municipality = self.municipality(session)
            # A date in a specific question (「3月に亡くなりました。相続放棄しても住民税は?」)
            # does not make it a request for due dates.
            decision = decide(session, message, self._today())
            if decision.kind in SPECIFIC:
                self.send(dispatcher, compose(session, decision, message, municipality))
                return ActionAnswer.remember(decision)
            procedures, events = self._procedures(session, tracker, text)
            if not procedures:
                self.send(dispatcher, clarify_procedure([], "deadline"))
                return events
            dated = [p for p in procedures if p.deadline and p.deadline.rule]
            if not dated:
                self.send(dispatcher, no_rule_answer(procedures[0], municipality,
                                                     department_of(session, procedures[0])))
                return events + [SlotSet("procedure", procedures[0].id)]
            today = self._today()
            day = find_date(text, today)
            if day is None:
                for procedure in dated:
                    self.send(dispatcher, procedure_answer(
                        procedure, "deadline", text, municipality,
                        department_of(session, procedure)))
                self.send(dispatcher, ask_for_date([p.name for p in dated]))
                return events
            fixed = [p for p in dated if p.deadline.rule.fixed_month is not None]
            items = [(p, due_date(p.deadline.rule, day)) for p in dated if p not in fixed]
            if not items:
                self.send(dispatcher, procedure_answer(fixed[0], "deadline", text, municipality,
                                                       department_of(session, fixed[0])))
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


class ActionGreet(ActionAnswer):
    """A greeting, unless a procedure is named anyway ("出生届の名前に使える漢字は" is not
    small talk): the decision tells."""

    def name(self) -> Text:
        return "action_greet"


class ActionOutOfScope(ActionAnswer):
    """Out of scope, unless the decision finds a procedure, service or entry after all."""

    def name(self) -> Text:
        return "action_out_of_scope"


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
    """Unsure of the intent: the decision answers when an entry or the procedure's notes
    do, and otherwise asks with buttons instead of guessing."""

    def name(self) -> Text:
        return "action_clarify"



# The action server imports this module once, at start.
threading.Thread(target=_warm_up, name="qa-index-warm-up", daemon=True).start()
