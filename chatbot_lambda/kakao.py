"""The Kakao i Open Builder skill request: what the user typed, who they are, their language, and the
``extra`` of the quick reply or button they tapped (``action.clientExtra``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class BadSkillRequest(ValueError):
    """The body is not a skill request (not JSON, or without userRequest.utterance)."""


@dataclass(frozen=True)
class SkillRequest:
    utterance: str  # what the user typed, as sent (may end in a newline)
    user_id: str  # userRequest.user.id ("" when absent)
    artist_param: str  # action.params.artist when the block extracts it, else ""
    lang: str = ""  # userRequest.lang ("ko", "en", ...; "" when absent)
    extra: dict | None = None  # action.clientExtra when it is an object (untrusted: check every field)

    @property
    def text(self) -> str:
        """The artist name asked for: the extracted parameter when there is one, else the utterance, trimmed."""
        return (self.artist_param or self.utterance).strip()

    @classmethod
    def from_body(cls, body: str) -> SkillRequest:
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            raise BadSkillRequest("the body is not JSON") from None
        user_request = _dict(payload, "userRequest")
        utterance = user_request.get("utterance")
        if not isinstance(utterance, str):
            raise BadSkillRequest("the body has no userRequest.utterance text")
        user_id = _dict(user_request, "user").get("id")
        action = _dict(payload, "action")
        artist = _dict(action, "params").get("artist")
        lang = user_request.get("lang")
        extra = action.get("clientExtra")
        return cls(
            _without_surrogates(utterance),
            _without_surrogates(user_id if isinstance(user_id, str) else ""),
            _without_surrogates(artist.strip() if isinstance(artist, str) else ""),
            lang[:16] if isinstance(lang, str) else "",
            extra if isinstance(extra, dict) else None,
        )


def _without_surrogates(text: str) -> str:
    """``text`` without lone UTF-16 surrogates (JSON may escape them; no database or URL takes them)."""
    return text.encode("utf-8", "ignore").decode("utf-8") if any("\ud800" <= ch <= "\udfff" for ch in text) else text


def _dict(parent: Any, key: str) -> dict:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}
