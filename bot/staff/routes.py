"""The staff assist tool at /staff/: its pages and its JSON API (``add_staff_routes``).

Pages: assist (the caller's sentence → the bot's understanding, the card, a ready
answer, the deadline calculator), search, handoff queue, unanswered questions.
"""
from __future__ import annotations

import datetime as dt
import html
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from aiohttp import web
from sqlalchemy.orm import Session

from bot.nlu.subject import primary_procedure
from bot.privacy import mask_personal_data
from bot.staff import store
from bot.staff.auth import login, logout, session_info
from bot.staff.bridge import BridgeUnavailable
from bot.staff.context import STAFF, StaffContext
from bot.staff.tracker import REASON_LABELS, transcript
from knowledge.answers import TOPIC_INTENT, due_date_answer, entry_answer, procedure_answer
from knowledge.deadlines import due_date
from knowledge.queries import (get_department, get_entry, get_life_event, get_municipality,
                               get_procedure)
from knowledge.schema import LifeEvent, Municipality, Procedure
from knowledge.search import CHANNEL_NAMES, EntryHit, Hit

PAGES = Path(__file__).resolve().parent / "pages"
INTENT_TOPIC = {intent: topic for topic, intent in TOPIC_INTENT.items()}
MAX_TEXT_CHARS = 2000
TOP_INTENTS = 5
CLAIMED_MESSAGE = "担当の職員がつながりました。ご用件をお聞かせください。"
HANDED_BACK_MESSAGE = ("職員とのやりとりを終わります。ここからは自動の回答でご案内します。"
                       "ほかにも知りたい手続きがあれば、送ってください。")
PAGE_TITLES = {"assist": "通話アシスト", "search": "手続き検索", "handoffs": "有人対応の待ち行列",
               "unanswered": "答えられなかった質問", "login": "ログイン"}


def staff(request: web.Request) -> StaffContext:
    return request.app[STAFF]


def username(request: web.Request) -> str:
    return request["account"].username


async def json_body(request: web.Request) -> Dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='{"error": "JSON body expected"}',
                                 content_type="application/json")
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "JSON object expected"}',
                                 content_type="application/json")
    return body


def number(value: str, name: str) -> int:
    """A whole number from the path or query, or 400 (never a 500 for a bad id)."""
    try:
        return int(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f'{{"error": "{name}: a number"}}',
                                 content_type="application/json")


def text_field(body: Dict[str, Any], name: str = "text") -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT_CHARS:
        raise web.HTTPBadRequest(text=f'{{"error": "{name}: 1 to {MAX_TEXT_CHARS} characters"}}',
                                 content_type="application/json")
    return value.strip()


# --- pages -------------------------------------------------------------------------

def page(name: str) -> web.RequestHandler:
    """A page: the shared shell with the page's own main part."""

    async def handler(request: web.Request) -> web.Response:
        shell = (PAGES / "shell.html").read_text(encoding="utf-8")
        main = (PAGES / f"{name}.html").read_text(encoding="utf-8")
        account = request.get("account")
        body = (shell.replace("{{TITLE}}", PAGE_TITLES[name]).replace("{{PAGE}}", name)
                .replace("{{USER}}", html.escape(account.name) if account else "")
                .replace("{{MAIN}}", main))
        return web.Response(text=body, content_type="text/html", charset="utf-8")

    return handler


# --- the procedure card ----------------------------------------------------------------

def procedure_card(procedure: Procedure, municipality: Optional[Municipality]) -> Dict[str, Any]:
    """Everything staff read out: the full record and the municipality's own values."""
    override = municipality.overrides.get(procedure.id) if municipality else None
    return {
        "id": procedure.id, "name": procedure.name, "office": procedure.office,
        "online": {"status": procedure.online.status.value,
                   "channels": [c.value for c in procedure.online.channels],
                   "text": procedure.online.text, "caveats": procedure.online.caveats},
        "documents": [{"name": d.name, "condition": d.condition} for d in procedure.documents],
        "deadline": (None if procedure.deadline is None else {
            "text": procedure.deadline.text, "late": procedure.deadline.late,
            "basis": procedure.deadline.rule.basis if procedure.deadline.rule else None,
            "computable": bool(procedure.deadline.rule
                               and procedure.deadline.rule.fixed_month is None)}),
        "fee": ({"text": procedure.fee.text, "varies": procedure.fee.varies}
                if procedure.fee else None),
        "proxy": procedure.proxy.text if procedure.proxy else None,
        "notes": [n.text for n in procedure.notes],
        "municipality": (None if municipality is None else {
            "name": municipality.name, "sample": municipality.sample,
            "overrides": override.dict(exclude_none=True) if override else {}}),
        "sources": [{"title": s.title, "url": s.url, "checked": s.checked.isoformat()}
                    for s in procedure.sources],
    }


def hit_json(hit: Hit) -> Dict[str, Any]:
    p = hit.procedure
    return {"id": p.id, "name": p.name, "score": round(hit.score, 2),
            "online": p.online.status.value, "channels": [c.value for c in p.online.channels],
            "life_events": p.life_events}


# Q&A entries shown beside the procedures a caller's sentence or a search finds.
ENTRIES_IN_ASSIST = 3
ENTRIES_IN_SEARCH = 10


def entry_json(hit: EntryHit) -> Dict[str, Any]:
    entry = hit.entry
    return {"id": entry.id, "question": entry.question, "procedure": entry.procedure,
            "department": entry.department, "scope": entry.scope.value,
            "score": round(hit.score, 2)}


def entry_hits(context: StaffContext, text: str, limit: int) -> List[Dict[str, Any]]:
    """The entries that speak of ``text`` and are in force today."""
    today = dt.date.today()
    hits = context.search_index().entries.search(text, limit=limit * 2)
    return [entry_json(h) for h in hits if h.entry.valid_on(today)][:limit]


def _card_and_answer(session: Session, context: StaffContext, procedure: Procedure,
                     topic: str, text: str) -> Dict[str, Any]:
    municipality = get_municipality(session, context.settings.municipality)
    department = get_department(session, procedure.department)
    return {"card": procedure_card(procedure, municipality), "topic": topic,
            "answer": procedure_answer(procedure, topic, text, municipality, department).text}


# --- assist, search, deadline ----------------------------------------------------------

async def assist(request: web.Request) -> web.Response:
    """The caller's sentence → the bot's understanding, the best card and answer."""
    context = staff(request)
    text = mask_personal_data(text_field(await json_body(request))).text
    nlu: Optional[Dict[str, Any]] = None
    problem = None
    try:
        nlu = await context.bridge.parse(text)
    except BridgeUnavailable as error:
        problem = str(error)
    hits = context.search_index().search(text, limit=5)
    intents = [{"name": i["name"], "confidence": round(i["confidence"], 3)}
               for i in (nlu or {}).get("intent_ranking", [])[:TOP_INTENTS]]
    entities = (nlu or {}).get("entities", [])
    named = [e for e in entities if e.get("entity") == "procedure"]
    procedure_id = primary_procedure(text, named) or (hits[0].procedure.id if hits else None)
    intent = intents[0]["name"] if intents else None
    result: Dict[str, Any] = {
        "text": text, "problem": problem, "intents": intents,
        "procedures": [{"id": e["value"], "text": e.get("text"),
                        "confidence": round(e.get("confidence_entity") or 1.0, 3)}
                       for e in entities if e.get("entity") in ("procedure",
                                                                 "procedure_candidate")],
        "life_events": [e["value"] for e in entities if e.get("entity") == "life_event"],
        "search": [hit_json(h) for h in hits],
        "entries": entry_hits(context, text, ENTRIES_IN_ASSIST), "card": None, "answer": None}
    with context.kb.session() as session:
        procedure = get_procedure(session, procedure_id) if procedure_id else None
        if procedure is not None:
            result.update(_card_and_answer(session, context, procedure,
                                           INTENT_TOPIC.get(intent or "", "overview"), text))
    return web.json_response(result)


async def procedure_detail(request: web.Request) -> web.Response:
    context = staff(request)
    topic = request.query.get("topic", "overview")
    with context.kb.session() as session:
        procedure = get_procedure(session, request.match_info["procedure_id"])
        if procedure is None:
            return web.json_response({"error": "no such procedure"}, status=404)
        return web.json_response(_card_and_answer(
            session, context, procedure, topic if topic in TOPIC_INTENT else "overview", ""))


async def entry_detail(request: web.Request) -> web.Response:
    """One Q&A entry: its procedure's card, and the answer the bot gives with it."""
    context = staff(request)
    with context.kb.session() as session:
        entry = get_entry(session, request.match_info["entry_id"])
        if entry is None:
            return web.json_response({"error": "no such entry"}, status=404)
        procedure = get_procedure(session, entry.procedure) if entry.procedure else None
        department = get_department(session, procedure.department if procedure
                                    else entry.department)
        municipality = get_municipality(session, context.settings.municipality)
        return web.json_response({
            "entry": {**entry_json(EntryHit(entry, 0.0)), "answer": entry.answer,
                      "valid_from": entry.valid_from and entry.valid_from.isoformat(),
                      "valid_until": entry.valid_until and entry.valid_until.isoformat()},
            "card": procedure_card(procedure, municipality) if procedure else None,
            "answer": entry_answer(entry, procedure, department, municipality).text})


async def search(request: web.Request) -> web.Response:
    query = request.query.get("q", "").strip()[:MAX_TEXT_CHARS]
    channel = request.query.get("channel") or None
    life_event = request.query.get("life_event") or None
    if channel and channel not in CHANNEL_NAMES:
        return web.json_response({"error": f"channel: one of {sorted(CHANNEL_NAMES)}"},
                                 status=400)
    hits = staff(request).search_index().search(query, life_event=life_event,
                                                channel=channel, limit=20) if query else []
    entries = entry_hits(staff(request), query, ENTRIES_IN_SEARCH) if query else []
    return web.json_response({"query": query, "hits": [hit_json(h) for h in hits],
                              "entries": entries})


async def filters(request: web.Request) -> web.Response:
    """The choices of the search filters."""
    index = staff(request).search_index()
    events = sorted({e for p in index.procedures for e in p.life_events})
    with staff(request).kb.session() as session:
        named: List[Optional[LifeEvent]] = [get_life_event(session, e) for e in events]
    return web.json_response({
        "life_events": [{"id": e.id, "name": e.name} for e in named if e is not None],
        "channels": [{"id": k, "name": v} for k, v in CHANNEL_NAMES.items()],
        "procedures": [{"id": p.id, "name": p.name} for p in index.procedures]})


async def deadline(request: web.Request) -> web.Response:
    """Event date → due date, with the rule's legal basis."""
    body = await json_body(request)
    try:
        event_day = dt.date.fromisoformat(str(body.get("event_date")))
    except ValueError:
        return web.json_response({"error": "event_date: YYYY-MM-DD"}, status=400)
    with staff(request).kb.session() as session:
        procedure = get_procedure(session, str(body.get("procedure_id")))
    if procedure is None:
        return web.json_response({"error": "no such procedure"}, status=404)
    rule = procedure.deadline.rule if procedure.deadline else None
    if rule is None or rule.fixed_month is not None:
        return web.json_response({"error": "この手続きの期限は日付から計算できません。",
                                  "deadline": procedure.deadline.text
                                  if procedure.deadline else None}, status=422)
    due = due_date(rule, event_day)
    today = dt.date.today()
    return web.json_response({"due": due.due.isoformat(), "moved": due.moved,
                              "assumed_counting": due.assumed_counting, "basis": rule.basis,
                              "text": due_date_answer([(procedure, due)], event_day, today).text})


# --- handoffs --------------------------------------------------------------------------

def handoff_json(row: Any, now: float) -> Dict[str, Any]:
    return {"id": row.id, "conversation_id": row.conversation_id, "channel": row.channel,
            "status": row.status, "requested_at": row.requested_at,
            "waiting_seconds": int((row.claimed_at or row.closed_at or now) - row.requested_at),
            "claimed_by": row.claimed_by, "closed_by": row.closed_by}


def _handoff(session: Session, request: web.Request) -> Any:
    row = store.get_handoff(session, number(request.match_info["handoff_id"], "handoff"))
    if row is None:
        raise web.HTTPNotFound(text='{"error": "no such handoff"}',
                               content_type="application/json")
    return row


async def handoff_list(request: web.Request) -> web.Response:
    context = staff(request)
    await context.scan()
    with context.session() as session:
        rows = store.handoffs(session, include_closed=request.query.get("closed") == "1")
        now = time.time()
        return web.json_response({"handoffs": [handoff_json(r, now) for r in rows]})


async def handoff_detail(request: web.Request) -> web.Response:
    """The handoff and its transcript; ``?after=ID`` gives only newer lines (live polling).
    Opening a transcript (no ``after``) is recorded in the audit log."""
    context = staff(request)
    await context.scan()
    after = number(request.query.get("after") or "0", "after")
    with context.session() as session:
        row = _handoff(session, request)
        if not after:
            store.audit(session, username(request), "view_transcript", row.conversation_id)
            session.commit()
        lines = transcript(context.reader, row.conversation_id, after_id=after)
        return web.json_response({
            "handoff": handoff_json(row, time.time()),
            "lines": [{"id": l.id, "at": l.at, "speaker": l.speaker, "text": l.text,
                       "staff": l.staff} for l in lines]})


async def _say(request: web.Request, row: Any, text: str, resume: bool) -> None:
    bridge = staff(request).bridge
    if resume:
        await bridge.resume(row.conversation_id, text, username(request))
    else:
        await bridge.reply(row.conversation_id, text, username(request))


async def handoff_action(request: web.Request) -> web.Response:
    """claim, reply or release (hand back to the bot); each one in the audit log."""
    context = staff(request)
    action = request.match_info["action"]
    body = await json_body(request) if action == "reply" else {}
    with context.session() as session:
        row = _handoff(session, request)
        try:
            if action == "claim":
                store.claim_handoff(session, row, username(request))
                await _say(request, row, CLAIMED_MESSAGE, resume=False)
            elif action == "reply":
                if row.status != "claimed" or row.claimed_by != username(request):
                    raise store.Conflict("claim the conversation first")
                await _say(request, row, mask_personal_data(text_field(body)).text,
                           resume=False)
            elif action == "release":
                store.close_handoff(session, row, username(request))
                await _say(request, row, HANDED_BACK_MESSAGE, resume=True)
            else:
                raise web.HTTPNotFound()
        except store.Conflict as conflict:
            session.rollback()
            return web.json_response({"error": str(conflict)}, status=409)
        except BridgeUnavailable as error:
            session.rollback()
            return web.json_response({"error": str(error)}, status=502)
        store.audit(session, username(request), action, row.conversation_id,
                    f"{len(body.get('text', ''))} characters" if action == "reply" else None)
        session.commit()
        return web.json_response({"handoff": handoff_json(row, time.time())})


# --- unanswered ------------------------------------------------------------------------

def _procedure_names(context: StaffContext) -> Dict[str, str]:
    return {p.id: p.name for p in context.search_index().procedures}


async def unanswered(request: web.Request) -> web.Response:
    context = staff(request)
    await context.scan()
    names = _procedure_names(context)
    with context.session() as session:
        groups = store.unanswered_groups(session)
        return web.json_response({"groups": [{
            "id": g.id, "text": g.text, "count": len(g.rows), "first_seen": g.first_seen,
            "last_seen": g.last_seen, "examples": g.examples,
            "reasons": [{"reason": r, "label": REASON_LABELS[r], "count": n}
                        for r, n in g.reasons.items()],
            "channels": sorted({r.channel for r in g.rows if r.channel}),
            "procedure": ({"id": g.procedure_id, "name": names.get(g.procedure_id, "")}
                          if g.procedure_id else None)} for g in groups]})


async def unanswered_link(request: web.Request) -> web.Response:
    context = staff(request)
    procedure_id = (await json_body(request)).get("procedure_id") or None
    if procedure_id is not None and procedure_id not in _procedure_names(context):
        return web.json_response({"error": "no such procedure"}, status=400)
    with context.session() as session:
        group = store.link_group(session, number(request.match_info["group_id"], "group"),
                                 procedure_id,
                                 username(request))
        if group is None:
            return web.json_response({"error": "no such group"}, status=404)
        result = {"group": group.id, "procedure_id": procedure_id, "count": len(group.rows)}
        store.audit(session, username(request), "link", None,
                    f"group {group.id} → {procedure_id}")
        session.commit()
    return web.json_response(result)


async def unanswered_csv(request: web.Request) -> web.Response:
    context = staff(request)
    await context.scan()
    with context.session() as session:
        text = store.groups_csv(store.unanswered_groups(session), _procedure_names(context))
        store.audit(session, username(request), "export_csv")
        session.commit()
    stamp = dt.date.today().isoformat()
    return web.Response(body=text.encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="unanswered-{stamp}.csv"'})


async def to_assist(request: web.Request) -> web.Response:
    raise web.HTTPFound("/staff/")


def add_staff_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/staff", to_assist)
    router.add_get("/staff/login", page("login"))
    for path, name in (("/staff/", "assist"), ("/staff/search", "search"),
                       ("/staff/handoffs", "handoffs"), ("/staff/unanswered", "unanswered")):
        router.add_get(path, page(name))
    router.add_get("/staff/api/session", session_info)
    router.add_post("/staff/api/login", login)
    router.add_post("/staff/api/logout", logout)
    router.add_post("/staff/api/assist", assist)
    router.add_get("/staff/api/procedures/{procedure_id}", procedure_detail)
    router.add_get("/staff/api/entries/{entry_id}", entry_detail)
    router.add_get("/staff/api/search", search)
    router.add_get("/staff/api/filters", filters)
    router.add_post("/staff/api/deadline", deadline)
    router.add_get("/staff/api/handoffs", handoff_list)
    router.add_get("/staff/api/handoffs/{handoff_id}", handoff_detail)
    router.add_post("/staff/api/handoffs/{handoff_id}/{action}", handoff_action)
    router.add_get("/staff/api/unanswered", unanswered)
    router.add_get("/staff/api/unanswered.csv", unanswered_csv)
    router.add_post("/staff/api/unanswered/{group_id}/link", unanswered_link)
