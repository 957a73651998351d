"""The answer composer: every text the bot says about procedures is written here.

Answers are channel-neutral ``Reply`` objects (text, buttons, and a ``custom`` card with
the structured facts) that the REST, widget and LINE channels each render their own way.
Style: polite short Japanese (です・ます), one fact per line, the official source last;
where municipalities differ the answer says so, and shows the configured municipality's
own value (plainly labelled) next to the national fact.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bot.nlu.normalise import fold_key
from knowledge.deadlines import DueDate
from knowledge.schema import (Department, LifeEvent, Municipality, Note, OnlineStatus,
                              Procedure, QaEntry, Scope, Source)

TOPICS = ("overview", "online", "documents", "deadline", "fee", "where", "proxy")
TOPIC_INTENT = {topic: f"ask_{topic}" for topic in TOPICS}
FOLLOW_UPS = (("deadline", "期限"), ("documents", "必要なもの"), ("online", "オンライン"),
              ("where", "窓口・場所"), ("proxy", "代理人"), ("fee", "手数料"))
MAX_BUTTONS = 4
# A checklist longer than this is not read on a phone: the rest are counted, not listed.
CHECKLIST_LIMIT = 20
# A checklist shows this many of the most urgent procedures first, with a button for all.
CHECKLIST_FIRST = 5
# Follow-up buttons under an entry's answer: other questions of the same procedure.
RELATED_ENTRIES = 2
WEEKDAYS = "月火水木金土日"
LATE_WORDS = ("遅れ", "過ぎ", "すぎ", "忘れ", "間に合わ")


@dataclass
class Reply:
    """One bot message: what every channel needs to render it."""

    text: str
    buttons: List[Dict[str, str]] = field(default_factory=list)
    custom: Optional[Dict[str, Any]] = None
    # The bot asks back instead of answering; the staff tool's unanswered log lists the
    # question when the citizen leaves without replying.
    asks_back: bool = False
    # The bot has no answer to the question: the staff tool lists it as unanswered.
    unanswered: bool = False


# Shown under an answer with a procedure card (widget buttons, LINE quick replies); a
# 👎 puts the question into the staff tool's unanswered log.
FEEDBACK_BUTTONS = ({"title": "👍 役に立った", "payload": "/answer_helpful"},
                    {"title": "👎 役に立たなかった", "payload": "/answer_unhelpful"})


def is_answer_card(custom: Any) -> bool:
    """Whether a message carries a procedure's answer card (it gets 👍/👎)."""
    return isinstance(custom, dict) and custom.get("type") == "procedure_card"


def payload(intent: str, procedure_id: Optional[str] = None) -> str:
    """A button payload Rasa reads as that intent (and procedure) without NLU."""
    if procedure_id is None:
        return f"/{intent}"
    return f"/{intent}" + json.dumps({"procedure": procedure_id}, separators=(",", ":"))


def short_name(procedure: Procedure) -> str:
    """The name without its parenthesised gloss, for buttons (LINE allows 20 characters)."""
    return procedure.name.split("(")[0][:20]


def format_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日({WEEKDAYS[day.weekday()]})"


def matching_notes(procedure: Procedure, text: str) -> List[Note]:
    """Notes whose keywords occur in what the user said (kana- and width-insensitive)."""
    folded = fold_key(text)
    return [note for note in procedure.notes
            if any(fold_key(keyword) in folded for keyword in note.keywords if fold_key(keyword))]


def _unknown(what: str, municipality: Optional[Municipality]) -> str:
    where = municipality.contact if municipality else "お住まいの市区町村の窓口"
    return f"{what}は、まだ確認できていません。{where}にお問い合わせください。"


def _override(municipality: Optional[Municipality], procedure: Procedure, name: str
              ) -> Optional[str]:
    if municipality is None or procedure.id not in municipality.overrides:
        return None
    return getattr(municipality.overrides[procedure.id], name)


def _local(municipality: Municipality, label: str, value: str) -> str:
    return f"【{municipality.name}】{label}:{value}"


def _online_lines(procedure: Procedure, municipality: Optional[Municipality]) -> List[str]:
    online = procedure.online
    lines = [online.text, *online.caveats]
    if online.status is OnlineStatus.municipality:
        lines.append("オンラインで申請できるかどうかは市区町村によって異なります。")
    if municipality:
        local = _override(municipality, procedure, "online")
        if local:
            lines.append(_local(municipality, "オンライン", local))
        elif procedure.id in municipality.pittari:
            lines.append(_local(municipality, "オンライン", "ぴったりサービスで申請できます"))
    return lines


def _document_lines(procedure: Procedure, municipality: Optional[Municipality]) -> List[str]:
    if not procedure.documents:
        return [_unknown("必要なものの詳しい情報", municipality)]
    lines = [f"・{d.name}" + (f"({d.condition})" if d.condition else "")
             for d in procedure.documents]
    if procedure.proxy and procedure.proxy.documents:
        lines.append("代理人が行く場合:" + "、".join(procedure.proxy.documents))
    lines.append("必要なものは事情や市区町村によって変わることがあります。")
    return lines


def _deadline_lines(procedure: Procedure, municipality: Optional[Municipality],
                    late: bool) -> List[str]:
    deadline = procedure.deadline
    if deadline is None:
        return [_unknown("期限", municipality)]
    lines = [deadline.text]
    if deadline.rule:
        lines.append(f"根拠:{deadline.rule.basis}")
    if deadline.late and late:
        lines.append(deadline.late)
    return lines


def _fee_lines(procedure: Procedure, municipality: Optional[Municipality]) -> List[str]:
    lines = [procedure.fee.text] if procedure.fee else [_unknown("手数料", municipality)]
    if procedure.fee and procedure.fee.varies:
        lines.append("金額は市区町村によって異なります。")
    local = _override(municipality, procedure, "fee")
    if local:
        lines.append(_local(municipality, "手数料", local))
    return lines


def _where_lines(procedure: Procedure, municipality: Optional[Municipality]) -> List[str]:
    lines = [procedure.office]
    if municipality:
        for name, label in (("office", "窓口"), ("hours", "受付時間"), ("phone", "電話")):
            local = _override(municipality, procedure, name)
            if local:
                lines.append(_local(municipality, label, local))
    if procedure.online.status is not OnlineStatus.no:
        lines.append(f"窓口に行かずに済む方法:{procedure.online.text}")
    return lines


def _proxy_lines(procedure: Procedure, municipality: Optional[Municipality]) -> List[str]:
    if procedure.proxy is None:
        return [_unknown("代理人による手続き", municipality)]
    lines = [procedure.proxy.text]
    if procedure.proxy.documents:
        lines.append("代理人が持って行くもの:" + "、".join(procedure.proxy.documents))
    return lines


SECTIONS = {
    "online": ("オンライン", _online_lines),
    "documents": ("必要なもの", _document_lines),
    "fee": ("手数料", _fee_lines),
    "where": ("窓口・場所", _where_lines),
    "proxy": ("代理人", _proxy_lines),
}


def _section(topic: str, procedure: Procedure, municipality: Optional[Municipality],
             late: bool) -> Tuple[str, List[str]]:
    if topic == "deadline":
        return "期限", _deadline_lines(procedure, municipality, late)
    title, build = SECTIONS[topic]
    return title, build(procedure, municipality)


def _source_lines(sources: Sequence[Source], limit: int = 2) -> List[str]:
    return [f"出典:{s.title} {s.url}({s.checked.year}年{s.checked.month}月確認)"
            for s in sources[:limit]]


def card(procedure: Procedure, topic: str, municipality: Optional[Municipality]
         ) -> Dict[str, Any]:
    """The structured facts for channels that draw a card (widget, LINE Flex, staff)."""
    deadline = procedure.deadline
    return {
        "type": "procedure_card",
        "topic": topic,
        "procedure": {
            "id": procedure.id,
            "name": procedure.name,
            "office": procedure.office,
            "online": {"status": procedure.online.status.value,
                       "channels": [c.value for c in procedure.online.channels],
                       "text": procedure.online.text},
            "documents": [d.name for d in procedure.documents],
            "deadline": ({"text": deadline.text,
                          "basis": deadline.rule.basis if deadline.rule else None}
                         if deadline else None),
            "fee": procedure.fee.text if procedure.fee else None,
            "sources": [{"title": s.title, "url": s.url, "checked": s.checked.isoformat()}
                        for s in procedure.sources],
        },
        "municipality": ({"name": municipality.name, "sample": municipality.sample}
                         if municipality else None),
    }


def follow_up_buttons(procedure: Procedure, exclude: Sequence[str] = ()) -> List[Dict[str, str]]:
    return [{"title": title, "payload": payload(TOPIC_INTENT[topic], procedure.id)}
            for topic, title in FOLLOW_UPS if topic not in exclude][:MAX_BUTTONS]


def procedure_answer(procedure: Procedure, topic: str, user_text: str = "",
                     municipality: Optional[Municipality] = None,
                     department: Optional[Department] = None) -> Reply:
    """Answer a question about one procedure: ``topic`` is one of TOPICS; the department
    that handles it, with its contact, goes on one line before the sources."""
    late = topic == "deadline" or any(word in user_text for word in LATE_WORDS)
    lines = [f"【{procedure.name}】"]
    if topic == "overview":
        lines.extend(_overview_lines(procedure))
    else:
        title, body = _section(topic, procedure, municipality, late)
        lines.append(f"■{title}")
        lines.extend(body)
    notes = [n.text for n in matching_notes(procedure, user_text) if n.text not in lines]
    if notes:
        lines.append("■ご質問に関係すること")
        lines.extend(notes)
    if department is not None:
        lines.append(" ".join(department_lines(department, municipality)[:2]))
    lines.extend(_source_lines(procedure.sources))
    exclude = ("online", "deadline") if topic == "overview" else (topic,)
    return Reply("\n".join(lines), follow_up_buttons(procedure, exclude=exclude),
                 card(procedure, topic, municipality))


def _overview_lines(procedure: Procedure) -> List[str]:
    """The short summary: where it is done, whether it can be done online, the deadline;
    the other sections are behind buttons, and an unknown one is not mentioned."""
    lines = [f"■窓口:{procedure.office}", f"■オンライン:{procedure.online.text}"]
    if procedure.deadline:
        lines.append(f"■期限:{procedure.deadline.text}")
    return lines


def life_event_answer(event: LifeEvent, procedures: Sequence[Procedure],
                      municipality: Optional[Municipality] = None,
                      total: Optional[int] = None, whole: bool = False) -> Reply:
    """The checklist for a life event, most urgent first: the first CHECKLIST_FIRST with
    their deadlines and a button for the rest, or (``whole``) all of ``procedures``.
    ``total``: how many the event has, when ``procedures`` is only the first
    CHECKLIST_LIMIT."""
    with_deadline = sorted((p for p in procedures if p.deadline and not p.deadline.none),
                           key=_urgency)
    ordered = [*with_deadline, *(p for p in procedures if p not in with_deadline)]
    shown = ordered if whole else ordered[:CHECKLIST_FIRST]
    lines = [event.intro]
    for procedure in shown:
        deadline = f":{procedure.deadline.text}" if procedure.deadline else ""
        lines.append(f"・{procedure.name}{deadline}")
    rest = (total or len(procedures)) - len(shown)
    if rest > 0:
        lines.append(f"このほかにも{rest}件の手続きがあります。")
    lines.append("くわしく知りたい手続きを選ぶか、手続きの名前を送ってください。")
    buttons = [{"title": short_name(p), "payload": payload("ask_overview", p.id)}
               for p in shown[:MAX_BUTTONS - (1 if rest > 0 and not whole else 0)]]
    if rest > 0 and not whole:
        buttons.append({"title": f"ほかの手続き({rest}件)", "payload": "/life_event" + json.dumps(
            {"life_event": event.id, "checklist": "all"}, separators=(",", ":"))})
    custom = {"type": "checklist", "life_event": event.name,
              "procedures": [{"id": p.id, "name": p.name,
                              "deadline": p.deadline.text if p.deadline else None}
                             for p in ordered]}
    return Reply("\n".join(lines), buttons, custom)


def _urgency(procedure: Procedure) -> int:
    """Rough length of the deadline in days, to list the most urgent first."""
    rule = procedure.deadline.rule if procedure.deadline else None
    if rule is None or rule.fixed_month is not None:
        return 10_000
    return rule.days if rule.days is not None else rule.months * 30


def due_date_answer(items: Sequence[Tuple[Procedure, DueDate]], event_day: dt.date,
                    today: dt.date) -> Reply:
    """Actual calendar due dates for an event on ``event_day``."""
    lines = [f"{format_date(event_day)}を起点に計算しました。"]
    for procedure, due in items:
        rule = procedure.deadline.rule
        lines.append(f"・{procedure.name}:{format_date(due.due)}まで"
                     f"({rule.event}から{_period(procedure)}、{rule.basis})")
        if due.moved:
            lines.append(f"  期限の{format_date(due.unmoved)}が閉庁日のため、翌開庁日になります。")
        if due.assumed_counting:
            lines.append("  数え方の定めを確認できていないため、早いほうの日付で示しています。")
        if due.due < today:
            lines.append("  この期限はすでに過ぎています。できるだけ早く窓口に相談してください。")
    lines.append("期限の日に窓口が開いているかは、届け出る市区町村で確認してください。")
    custom = {"type": "due_dates", "event_date": event_day.isoformat(),
              "items": [{"procedure": p.id, "name": p.name, "due": d.due.isoformat()}
                        for p, d in items]}
    buttons = [{"title": f"{short_name(p)[:14]}の必要なもの",
                "payload": payload("ask_documents", p.id)}
               for p, _ in items[:MAX_BUTTONS]]
    return Reply("\n".join(lines), buttons, custom)


def _period(procedure: Procedure) -> str:
    rule = procedure.deadline.rule
    amount = f"{rule.days}日" if rule.days else f"{rule.months}か月"
    return f"{amount}以内"


def ask_for_date(procedure_names: Sequence[str]) -> Reply:
    names = "・".join(procedure_names) if procedure_names else "手続き"
    return Reply(f"{names}の期限の日付を計算できます。"
                 "日付を入れて送ってください(例:3月3日に引っ越しました)。", asks_back=True)


def no_rule_answer(procedure: Procedure, municipality: Optional[Municipality],
                   department: Optional[Department] = None) -> Reply:
    """A procedure whose deadline cannot be turned into a date: say why, give the text."""
    reply = procedure_answer(procedure, "deadline", "", municipality, department)
    reply.text = "この手続きは日付を計算できる期限の定めがないため、期限の説明をお伝えします。\n" + reply.text
    return reply


def clarify_procedure(candidates: Sequence[Procedure], topic: str) -> Reply:
    """Ask which procedure was meant, with at most four buttons."""
    intent = TOPIC_INTENT.get(topic, "ask_overview")
    buttons = [{"title": short_name(p), "payload": payload(intent, p.id)}
               for p in candidates[:MAX_BUTTONS]]
    if not buttons:
        return Reply("どの手続きについてのご質問ですか。手続きの名前(例:転入届、児童手当、"
                     "印鑑証明)か、できごと(例:引っ越し、出産、退職)を教えてください。",
                     asks_back=True)
    return Reply("どの手続きについてのご質問ですか。近いものを選んでください。"
                 "ない場合は、手続きの名前を送ってください。", buttons, asks_back=True)


def clarify_topic(procedure: Procedure) -> Reply:
    """The procedure is known but not the question: offer the usual ones."""
    return Reply(f"{procedure.name}について、何を知りたいですか。",
                 follow_up_buttons(procedure), asks_back=True)


GREETING_EVENTS = (("引っ越し", "life_event", "moving"), ("出産・子ども", "life_event", "birth"),
                   ("家族が亡くなった", "life_event", "death"))


def greeting() -> Reply:
    """What the bot says first: what it can do, and a few starting points."""
    text = ("こんにちは。行政手続きのご案内をします。\n"
            "「転入届はネットでできますか」「出生届に何がいる?」「来月引っ越します。何が必要?」"
            "のように、手続きの名前やできごとを入れて質問してください。")
    buttons = [{"title": title, "payload": f"/{intent}" + json.dumps(
        {"life_event": value}, separators=(",", ":"))} for title, intent, value in GREETING_EVENTS]
    buttons.append({"title": "証明書をとりたい", "payload": payload("ask_overview", "konbini_kofu")})
    return Reply(text, buttons)


def _contact_lines(municipality: Municipality) -> List[str]:
    lines = [municipality.contact]
    if municipality.phone:
        lines.append(f"電話:{municipality.phone}")
    if municipality.hours:
        lines.append(f"受付時間:{municipality.hours}")
    if municipality.url:
        lines.append(municipality.url)
    return lines


def handoff_answer(municipality: Optional[Municipality]) -> Reply:
    if municipality is None:
        return Reply("職員と話したい場合は、お住まいの市区町村の窓口にお問い合わせください。")
    return Reply("\n".join(["担当の職員へのお問い合わせ先です。", *_contact_lines(municipality)]))


def handoff_queued_answer(municipality: Optional[Municipality]) -> Reply:
    """The conversation now waits for a staff member (widget and LINE, which can push)."""
    lines = ["担当の職員におつなぎします。このままお待ちください。",
             "職員が対応するまで、自動の回答はお休みします。",
             "受付時間外や混み合っているときは、お返事が遅くなります。",
             "自動の回答に戻るときは「ボットに戻る」と送ってください。"]
    if municipality is not None:
        lines += ["お急ぎの場合のお問い合わせ先です。", *_contact_lines(municipality)]
    return Reply("\n".join(lines))


def department_lines(department: Department, municipality: Optional[Municipality]) -> List[str]:
    """Who handles it: the municipality's own department and contact when its file has
    them, else the typical name (and the municipality's general contact)."""
    local = municipality.departments.get(department.id) if municipality else None
    if local is not None:
        lines = [f"担当:{local.name}"]
        lines += [f"電話:{local.phone}"] if local.phone else []
        lines += [f"受付時間:{local.hours}"] if local.hours else []
        return lines + ([local.url] if local.url else [])
    if department.national:
        return [f"担当:{department.name}", *([department.contact] if department.contact else [])]
    lines = [f"担当:{department.name}(課の名前は市区町村によって異なります)"]
    return lines + (_contact_lines(municipality) if municipality else [])


HANDOFF_BUTTON = {"title": "職員と話したい", "payload": "/human_handoff"}


def entry_payload(entry: QaEntry) -> str:
    return "/ask_overview" + json.dumps({"qa_entry": entry.id}, separators=(",", ":"))


def entry_answer(entry: QaEntry, procedure: Optional[Procedure], department: Department,
                 municipality: Optional[Municipality], related: Sequence[QaEntry] = ()
                 ) -> Reply:
    """A specific question answered by its Q&A entry: the answer, whether it differs by
    municipality (with the department to ask), the legal basis, the sources last."""
    # The question answered is shown, so a citizen sees at once whether it is theirs.
    lines = [f"【{procedure.name if procedure else department.name}】",
             f"Q. {entry.question}", *entry.answer]
    if entry.scope is Scope.local:
        lines.append("くわしい取り扱いは市区町村によって異なります。")
        lines.extend(department_lines(department, municipality))
    if entry.valid_until:
        lines.append(f"(この取り扱いは{format_date(entry.valid_until)}までです。)")
    if entry.basis:
        lines.append(f"根拠:{entry.basis}")
    lines.extend(_source_lines(entry.sources, limit=1))
    buttons = [{"title": other.question, "payload": entry_payload(other)}
               for other in related[:RELATED_ENTRIES]]
    if procedure is not None:
        buttons.append({"title": f"{short_name(procedure)}の概要",
                        "payload": payload("ask_overview", procedure.id)})
        custom = card(procedure, "qa", municipality)
    else:
        buttons.append(HANDOFF_BUTTON)
        custom = {"type": "procedure_card", "topic": "qa", "procedure": None,
                  "department": department.name,
                  "municipality": ({"name": municipality.name, "sample": municipality.sample}
                                   if municipality else None)}
    custom["entry"] = {"id": entry.id, "question": entry.question,
                       "scope": entry.scope.value,
                       "sources": [{"title": s.title, "url": s.url,
                                    "checked": s.checked.isoformat()} for s in entry.sources]}
    return Reply("\n".join(lines), buttons, custom)


def _suggestion_lines(suggestions: Sequence[QaEntry]) -> List[str]:
    return ["近いご質問の答えがあります。当てはまるものがあれば、下のボタンから選んでください。"
            ] if suggestions else []


def _with_suggestions(suggestions: Sequence[QaEntry], buttons: List[Dict[str, str]]
                      ) -> List[Dict[str, str]]:
    """Near entries first, then the given buttons, at most MAX_BUTTONS."""
    return ([{"title": e.question, "payload": entry_payload(e)} for e in suggestions]
            + buttons)[:MAX_BUTTONS]


def no_answer(procedure: Optional[Procedure], department: Department,
              municipality: Optional[Municipality], suggestions: Sequence[QaEntry] = ()
              ) -> Reply:
    """A specific question the knowledge base has no answer for: said plainly, with the
    procedure's official page and the department to ask, and the near entries as
    buttons. No card: nothing here answers the question. The staff tool lists the
    question as unanswered."""
    lines = ([f"【{procedure.name}】"] if procedure else []) + [
        "申し訳ありません。そのご質問にお答えできる情報を、まだ持っていません。",
        *_suggestion_lines(suggestions),
        "担当の窓口にお問い合わせください。", *department_lines(department, municipality)]
    if procedure is not None:
        lines.append(f"公式ページ:{procedure.sources[0].title} {procedure.sources[0].url}")
    lines.append("いただいたご質問は、担当者が確認して今後の案内に役立てます。")
    buttons = ([{"title": f"{short_name(procedure)}の概要",
                 "payload": payload("ask_overview", procedure.id)}] if procedure else [])
    return Reply("\n".join(lines), _with_suggestions(suggestions, [*buttons, HANDOFF_BUTTON]),
                 {"type": "no_answer", "procedure": procedure.id if procedure else None,
                  "department": department.id}, unanswered=True)


def unknown_service_answer(service: str, department: Department,
                           municipality: Optional[Municipality],
                           suggestions: Sequence[QaEntry] = ()) -> Reply:
    """A public service the knowledge base has no procedure for: who handles it, and the
    entries it has on the service that may be what was asked."""
    first = (f"申し訳ありません。「{service}」について、そのご質問にお答えできる情報を、"
             "まだ持っていません。" if suggestions else
             f"申し訳ありません。「{service}」のご案内は、まだこのチャットの知識にありません。")
    lines = [first, *_suggestion_lines(suggestions), "担当の窓口にお問い合わせください。",
             *department_lines(department, municipality),
             "いただいたご質問は、担当者が確認して今後の案内に役立てます。"]
    return Reply("\n".join(lines), _with_suggestions(suggestions, [HANDOFF_BUTTON]),
                 {"type": "no_answer", "service": service, "department": department.id},
                 unanswered=True)
