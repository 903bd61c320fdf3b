"""Kakao i Open Builder skill replies (version 2.0), built within Kakao's limits.

The builders cut what would not fit (long texts, extra cards, items, buttons and quick replies)
instead of producing a reply Kakao would reject; :func:`problems` checks a finished reply
against the same limits (tests use it on every answer).

Lengths are counted as Kakao counts them, in characters, a Hangul syllable being one (Kakao's
help centre states its limits in Korean syllables, without spaces, on mobile). To be safe on
every client, :func:`kakao_length` counts UTF-16 code units, spaces included: an emoji or any
character outside the Basic Multilingual Plane counts two, as it does in the apps' JavaScript
and Java strings. That is never more generous than Kakao.

A button or quick reply that asks the bot about an artist carries the artist's id in ``extra``;
Kakao hands it back as ``action.clientExtra`` with the next request, so the artist is found by id
whatever its name (a name longer than any message, or shared by two artists).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

MAX_OUTPUTS = 3
MAX_TEXT = 1000  # simpleText.text
MAX_CARDS = 5  # listCard carousel items
MAX_LIST_ITEMS = 4  # items of a listCard inside a carousel
MAX_BUTTONS = 2  # buttons of a listCard
MAX_LABEL = 14  # a button or quick reply label
MAX_LABEL_PAIR = 8  # each label when two buttons sit side by side
MAX_QUICK_REPLIES = 10
MAX_TITLE = 50  # our own cap for card and item titles and descriptions, to keep cards readable
MAX_MESSAGE = 200  # our own cap for a quick reply's messageText

YOUTUBE_SEARCH = "https://www.youtube.com/results"


def kakao_length(text: str) -> int:
    """The length of ``text`` as Kakao may count it at most: UTF-16 code units (see the module docstring)."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def cut(text: str | None, limit: int) -> str:
    """``text`` on one line in at most ``limit`` characters (:func:`kakao_length`), ending in an ellipsis
    when it was longer."""
    text = " ".join((text or "").split())
    if kakao_length(text) <= limit:
        return text
    kept, used = [], 1
    for ch in text:
        used += kakao_length(ch)
        if used > limit:
            break
        kept.append(ch)
    return "".join(kept).rstrip() + "…"


def youtube_search(*terms: str) -> str:
    """A YouTube search URL for the terms joined by spaces."""
    return f"{YOUTUBE_SEARCH}?{urlencode({'search_query': ' '.join(t for t in terms if t)})}"


def _message_action(label: str, message: str, extra: dict | None) -> dict:
    """A button or quick reply sending ``message`` as the user's, with ``extra`` handed back to the skill."""
    action = {"label": label or "-", "action": "message", "messageText": cut(message, MAX_MESSAGE) or "-"}
    if extra:
        action["extra"] = dict(extra)
    return action


@dataclass(frozen=True)
class Button:
    """A card button: opens ``url`` (webLink), or sends ``message`` as the user's next message with
    ``extra`` handed back to the skill (message)."""

    label: str
    url: str = ""
    message: str = ""
    extra: dict | None = None

    def to_json(self, side_by_side: bool) -> dict:
        label = cut(self.label, MAX_LABEL_PAIR if side_by_side else MAX_LABEL) or "-"
        if not self.message:
            return {"label": label, "action": "webLink", "webLinkUrl": self.url}
        return _message_action(label, self.message, self.extra)


@dataclass(frozen=True)
class QuickReply:
    """A quick reply: ``label`` on the chip, ``message`` sent as the user's, ``extra`` handed back to the skill."""

    label: str
    message: str = ""
    extra: dict | None = None

    def to_json(self) -> dict:
        return _message_action(cut(self.label, MAX_LABEL), self.message or self.label, self.extra)


@dataclass(frozen=True)
class ListItem:
    title: str
    description: str = ""
    image_url: str = ""
    url: str = ""

    def to_json(self) -> dict:
        item: dict[str, Any] = {"title": cut(self.title, MAX_TITLE) or "-"}
        if self.description:
            item["description"] = cut(self.description, MAX_TITLE)
        if self.image_url:
            item["imageUrl"] = self.image_url
        if self.url:
            item["link"] = {"web": self.url}
        return item


def simple_text(text: str) -> dict:
    return {"simpleText": {"text": cut(text, MAX_TEXT) or "…"}}


def list_card(header: str, items: list[ListItem], buttons: list[Button] = ()) -> dict:
    """One listCard: a header (required), up to 4 items, up to 2 buttons."""
    buttons = list(buttons)[:MAX_BUTTONS]
    card: dict[str, Any] = {
        "header": {"title": cut(header, MAX_TITLE) or "-"},
        "items": [item.to_json() for item in items[:MAX_LIST_ITEMS]],
    }
    if buttons:
        card["buttons"] = [button.to_json(side_by_side=len(buttons) == 2) for button in buttons]
    return card


def list_card_carousel(cards: list[dict]) -> dict:
    return {"carousel": {"type": "listCard", "items": cards[:MAX_CARDS]}}


def quick_reply(name: str) -> dict:
    """A quick reply that sends ``name`` as the user's next message."""
    return QuickReply(name).to_json()


def skill_response(outputs: list[dict], quick_replies: list = ()) -> dict:
    """The whole reply: 1 to 3 outputs, at most 10 quick replies (names or :class:`QuickReply`;
    one that would send the same as an earlier one is dropped)."""
    outputs = list(outputs)[:MAX_OUTPUTS] or [simple_text("…")]
    template: dict[str, Any] = {"outputs": outputs}
    chips = [q if isinstance(q, QuickReply) else QuickReply(q) for q in quick_replies if q]
    unique: dict[str, dict] = {}
    for chip in chips:
        if chip.label.strip():
            reply = chip.to_json()
            unique.setdefault(repr((reply["messageText"], sorted((reply.get("extra") or {}).items()))), reply)
    if unique:
        template["quickReplies"] = list(unique.values())[:MAX_QUICK_REPLIES]
    return {"version": "2.0", "template": template}


def problems(reply: Any) -> list[str]:
    """What in ``reply`` breaks the skill format or Kakao's limits; ``[]`` for a valid reply."""
    found: list[str] = []
    if not isinstance(reply, dict) or reply.get("version") != "2.0" or not isinstance(reply.get("template"), dict):
        return ["not a version 2.0 skill response with a template"]
    template = reply["template"]
    outputs = template.get("outputs")
    if not isinstance(outputs, list) or not 1 <= len(outputs) <= MAX_OUTPUTS:
        found.append(f"outputs: 1 to {MAX_OUTPUTS} components")
        outputs = outputs if isinstance(outputs, list) else []
    for i, output in enumerate(outputs):
        if not isinstance(output, dict) or len(output) != 1:
            found.append(f"outputs[{i}]: one component per output")
        elif "simpleText" in output:
            text = output["simpleText"].get("text")
            if not isinstance(text, str) or not 1 <= kakao_length(text) <= MAX_TEXT:
                found.append(f"outputs[{i}].simpleText.text: 1 to {MAX_TEXT} characters")
        elif "carousel" in output:
            found.extend(_carousel_problems(output["carousel"], f"outputs[{i}].carousel"))
        else:
            found.append(f"outputs[{i}]: unexpected component {next(iter(output))!r}")
    quick = template.get("quickReplies", [])
    if not isinstance(quick, list) or len(quick) > MAX_QUICK_REPLIES:
        found.append(f"quickReplies: at most {MAX_QUICK_REPLIES}")
        quick = []
    for i, entry in enumerate(quick):
        label = entry.get("label") if isinstance(entry, dict) else None
        if not isinstance(label, str) or not 1 <= kakao_length(label) <= MAX_LABEL:
            found.append(f"quickReplies[{i}].label: 1 to {MAX_LABEL} characters")
        if not isinstance(entry, dict) or entry.get("action") != "message" or not entry.get("messageText"):
            found.append(f"quickReplies[{i}]: a message action with messageText")
    return found


def _carousel_problems(carousel: Any, where: str) -> list[str]:
    found = []
    if not isinstance(carousel, dict) or carousel.get("type") != "listCard":
        return [f"{where}: a listCard carousel"]
    cards = carousel.get("items")
    if not isinstance(cards, list) or not 1 <= len(cards) <= MAX_CARDS:
        return [f"{where}.items: 1 to {MAX_CARDS} cards"]
    for c, card in enumerate(cards):
        at = f"{where}.items[{c}]"
        if not isinstance(card.get("header"), dict) or not card["header"].get("title"):
            found.append(f"{at}.header: required, with a title")
        items = card.get("items")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_LIST_ITEMS:
            found.append(f"{at}.items: 1 to {MAX_LIST_ITEMS} items")
        elif not all(isinstance(item, dict) and item.get("title") for item in items):
            found.append(f"{at}.items: each with a title")
        buttons = card.get("buttons", [])
        if len(buttons) > MAX_BUTTONS:
            found.append(f"{at}.buttons: at most {MAX_BUTTONS}")
        limit = MAX_LABEL_PAIR if len(buttons) == 2 else MAX_LABEL
        for b, button in enumerate(buttons):
            if not 1 <= kakao_length(button.get("label", "")) <= limit:
                found.append(f"{at}.buttons[{b}].label: 1 to {limit} characters")
            if button.get("action") == "message":
                if not button.get("messageText"):
                    found.append(f"{at}.buttons[{b}]: a message action with messageText")
            elif button.get("action") != "webLink" or not str(button.get("webLinkUrl", "")).startswith("https://"):
                found.append(f"{at}.buttons[{b}]: a webLink to an https URL or a message")
    return found
