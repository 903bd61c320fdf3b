"""Calling the chatbot the way API Gateway does, for tests."""

from __future__ import annotations

import base64
import json

from chatbot_lambda import replies, serve

REQUEST_KEY = "tests' request key, not a secret"  # REQUEST_KEY of the chatbots the tests build
SKILL_SECRET = "tests' skill secret"  # SKILL_SECRET of the chatbots whose users are verified


def skill_body(
    utterance: str, user: str = "user-1", lang: str | None = None, extra: dict | None = None, **params
) -> str:
    request = {"userRequest": {"utterance": utterance, "user": {"id": user}}, "action": {"params": params}}
    if lang:
        request["userRequest"]["lang"] = lang
    if extra is not None:
        request["action"]["clientExtra"] = extra
    return json.dumps(request, ensure_ascii=False)


def http_api_event(body: str | None, headers: dict | None = None, base64_body: bool = False) -> dict:
    """An HTTP API (payload 2.0) event, as the local skill server builds it."""
    event = serve.http_api_event("POST", "/skill", headers or {}, (body or "").encode("utf-8"))
    if body is None:
        event["body"] = None
    elif base64_body:
        event.update(body=base64.b64encode(body.encode("utf-8")).decode("ascii"), isBase64Encoded=True)
    return event


def rest_api_event(body: str | None, headers: dict | None = None, base64_body: bool = False) -> dict:
    """A REST API (payload 1.0) proxy event."""
    if base64_body and body is not None:
        body = base64.b64encode(body.encode("utf-8")).decode("ascii")
    return {
        "resource": "/skill",
        "path": "/skill",
        "httpMethod": "POST",
        "headers": headers or {},
        "requestContext": {"resourcePath": "/skill", "httpMethod": "POST"},
        "body": body,
        "isBase64Encoded": base64_body,
    }


def reply_of(response: dict) -> dict:
    """The Kakao reply inside a 200 response; fails when it breaks the skill format or Kakao's limits,
    or has no quick reply (every answer offers a next step)."""
    assert response["statusCode"] == 200, response
    reply = json.loads(response["body"])
    assert replies.problems(reply) == [], (replies.problems(reply), reply)
    assert reply["template"].get("quickReplies"), reply
    return reply


def signed(app) -> dict:
    """The headers Kakao sends to ``app``: its skill secret, when it has one."""
    secret = app.settings.skill_secret
    return {app.settings.skill_secret_header: secret} if secret else {}


def ask(app, utterance: str, **kwargs) -> dict:
    return reply_of(app.handle(http_api_event(skill_body(utterance, **kwargs), signed(app))))


def texts(reply: dict) -> list[str]:
    return [o["simpleText"]["text"] for o in reply["template"]["outputs"] if "simpleText" in o]


def cards(reply: dict) -> list[dict]:
    return [card for o in reply["template"]["outputs"] if "carousel" in o for card in o["carousel"]["items"]]


def headers(reply: dict) -> list[str]:
    return [card["header"]["title"] for card in cards(reply)]


def quick_replies(reply: dict) -> list[str]:
    return [q["messageText"] for q in reply["template"].get("quickReplies", [])]


def tap(app, reply: dict, index: int = 0, user: str = "user-1") -> dict:
    """The reply to tapping quick reply ``index`` of ``reply``, as Kakao sends it (messageText, extra)."""
    chip = reply["template"]["quickReplies"][index]
    body = skill_body(chip["messageText"], user=user, extra=chip.get("extra"))
    return reply_of(app.handle(http_api_event(body, signed(app))))
