"""Turn the bot's channel-neutral messages into LINE message objects, within LINE's limits.

- at most 5 message objects per reply or push;
- a text of at most 5,000 characters, counted in UTF-16 code units as LINE counts them;
- at most 13 quick-reply items, labels of at most 20 characters (grapheme clusters);
- the procedure card becomes a Flex bubble with a plain-text ``altText``.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence

from knowledge.answers import FEEDBACK_BUTTONS, is_answer_card

MAX_MESSAGES = 5
MAX_TEXT_UNITS = 5000
MAX_QUICK_REPLIES = 13
MAX_LABEL = 20
MAX_POSTBACK_DATA = 300
MAX_ALT_TEXT = 400


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT_UNITS) -> List[str]:
    """Chunks of at most ``limit`` UTF-16 units, cut at a line break where one is near."""
    chunks: List[str] = []
    while utf16_length(text) > limit:
        cut, units = 0, 0
        for index, char in enumerate(text):
            units += 2 if ord(char) > 0xFFFF else 1
            if units > limit:
                break
            cut = index + 1
        line_break = text.rfind("\n", 0, cut)
        if line_break > cut // 2:
            cut = line_break + 1
        chunks.append(text[:cut].rstrip("\n"))
        text = text[cut:]
    if text:
        chunks.append(text)
    return chunks


def _graphemes(text: str) -> List[str]:
    """Grapheme clusters, closely enough for labels: base characters with their marks."""
    import unicodedata

    clusters: List[str] = []
    for char in text:
        joins = clusters and (unicodedata.combining(char) or char in "\u200d\ufe0f"
                              or clusters[-1].endswith("\u200d"))
        if joins:
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def label(text: str, limit: int = MAX_LABEL) -> str:
    clusters = _graphemes(text)
    return "".join(clusters[:limit]) if len(clusters) > limit else text


def quick_reply(buttons: Sequence[Dict[str, str]]) -> Dict[str, Any]:
    """Buttons as quick-reply postback items; the payload comes back as the user's message."""
    items = []
    for button in buttons[:MAX_QUICK_REPLIES]:
        title = button.get("title") or button.get("payload") or ""
        data = (button.get("payload") or title)[:MAX_POSTBACK_DATA]
        items.append({"type": "action", "action": {
            "type": "postback", "label": label(title), "data": data,
            "displayText": label(title, 300)}})
    return {"items": items}


def _row(title: str, value: str) -> Dict[str, Any]:
    return {"type": "box", "layout": "vertical", "margin": "md", "contents": [
        {"type": "text", "text": title, "size": "sm", "color": "#555555", "weight": "bold"},
        {"type": "text", "text": value or "未確認", "size": "sm", "wrap": True}]}


def procedure_flex(card: Dict[str, Any]) -> Dict[str, Any]:
    """The procedure card as a Flex bubble, with a plain-text summary as altText."""
    procedure = card["procedure"]
    deadline = (procedure.get("deadline") or {}).get("text") or "未確認"
    online = procedure["online"]["status"]
    documents = "、".join(procedure.get("documents", [])[:5]) or "未確認"
    alt = f"{procedure['name']}:オンライン {online}/期限 {deadline}"
    bubble: Dict[str, Any] = {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical", "contents": [
            {"type": "text", "text": procedure["name"], "weight": "bold", "wrap": True}]},
        "body": {"type": "box", "layout": "vertical", "contents": [
            _row("オンライン", f"{online}:{procedure['online']['text']}"),
            _row("期限", deadline),
            _row("必要なもの", documents)]},
    }
    sources = procedure.get("sources") or []
    if sources:
        bubble["footer"] = {"type": "box", "layout": "vertical", "contents": [
            {"type": "button", "style": "link", "height": "sm", "action": {
                "type": "uri", "label": "公式ページ", "uri": sources[0]["url"]}}]}
    return {"type": "flex", "altText": alt[:MAX_ALT_TEXT], "contents": bubble}


def to_line_messages(collected: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The bot's messages for one turn as at most five LINE message objects."""
    texts: List[str] = []
    cards: List[Dict[str, Any]] = []
    buttons: List[Dict[str, str]] = []
    answered = False
    for message in collected:
        if message.get("text"):
            texts.extend(split_text(message["text"]))
        buttons.extend(message.get("buttons") or [])
        custom = message.get("custom")
        if is_answer_card(custom):
            answered = True
            # A department's Q&A answer has no procedure to draw: its text is the answer.
            if custom.get("procedure"):
                cards.append(procedure_flex(custom))
    objects: List[Dict[str, Any]] = [{"type": "text", "text": t} for t in texts]
    room = MAX_MESSAGES - len(objects)
    objects.extend(cards[:max(room, 0)])
    if len(objects) > MAX_MESSAGES:
        # Too many texts: join the overflow into the last allowed text, still split safely.
        head, tail = objects[:MAX_MESSAGES - 1], objects[MAX_MESSAGES - 1:]
        joined = "\n\n".join(o["text"] for o in tail if o["type"] == "text")
        objects = head + [{"type": "text", "text": split_text(joined)[0]}]
    if answered:
        buttons = buttons[:MAX_QUICK_REPLIES - len(FEEDBACK_BUTTONS)] + list(FEEDBACK_BUTTONS)
    if buttons and objects:
        objects[-1]["quickReply"] = quick_reply(buttons)
    return objects
