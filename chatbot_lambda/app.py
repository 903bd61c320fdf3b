"""One skill application per Lambda container: settings, the mart connection and the Spotify client,
built on the first invocation and reused by the warm ones.

:meth:`SkillApp.handle` turns any API Gateway event into an HTTP response: 401 when a shared
secret is configured and the request lacks it, otherwise 200 with a valid Kakao reply (a body over
``apigw.MAX_BODY_BYTES`` gets "too long" before anything in it is decoded or parsed), whatever
the request held and whatever failed on the way (failures are logged, never shown).
"""

from __future__ import annotations

import hmac
import json
import logging
import time

from chatbot_lambda import apigw
from chatbot_lambda.answers import Chatbot, sorry_reply, too_long_reply
from chatbot_lambda.budget import Deadline
from chatbot_lambda.kakao import BadSkillRequest, SkillRequest
from chatbot_lambda.repository import MartRepository
from chatbot_lambda.settings import Settings
from chatbot_lambda.spotify import SpotifyClient

log = logging.getLogger("chatbot_lambda")

LAMBDA_RESERVE_SECONDS = 0.3     # kept from the Lambda's own timeout to send the reply


class SkillApp:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.repository = MartRepository(settings)
        self.spotify = SpotifyClient(settings) if settings.live_lookups else None
        self.chatbot = Chatbot(self.repository, self.spotify)

    def deadline(self, context) -> Deadline:
        """The answer's deadline: the time budget, or less when the Lambda itself has less time left."""
        budget = self.settings.time_budget
        remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
        if callable(remaining_ms):
            budget = min(budget, remaining_ms() / 1000 - LAMBDA_RESERVE_SECONDS)
        return Deadline(max(budget, 0.0))

    def authorized(self, request: apigw.HttpRequest) -> bool:
        secret = self.settings.skill_secret
        if not secret:
            return True
        sent = request.header(self.settings.skill_secret_header)
        return hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), secret.encode("utf-8"))

    def handle(self, event, context=None) -> dict:
        started = time.perf_counter()
        deadline = self.deadline(context)
        try:
            request = apigw.parse_event(event)
        except apigw.BadEvent as exc:
            _log_answer("bad_event", started, str(exc))
            return apigw.json_response(200, sorry_reply(self.settings.language))
        if not self.authorized(request):
            _log_answer("unauthorized", started, f"missing or wrong {self.settings.skill_secret_header} header")
            return apigw.json_response(401, {"error": f"missing or wrong {self.settings.skill_secret_header}"})
        try:
            skill = SkillRequest.from_body(request.text())
        except apigw.BodyTooLarge as exc:
            _log_answer("too_large", started, str(exc))
            return apigw.json_response(200, too_long_reply(self.settings.language))
        except (apigw.BadEvent, BadSkillRequest) as exc:
            _log_answer("bad_request", started, str(exc))
            return apigw.json_response(200, sorry_reply(self.settings.language))
        try:
            answer = self.chatbot.answer(skill, deadline)
        except Exception:      # the user gets an apology, the log gets the traceback
            log.exception("answering %r failed", skill.text[:100])
            _log_answer("error", started, "unexpected failure")
            return apigw.json_response(200, sorry_reply(self.settings.language))
        _log_answer(answer.outcome, started, answer.detail, skill.text)
        return apigw.json_response(200, answer.reply)


def _log_answer(outcome: str, started: float, detail: str = "", text: str = "") -> None:
    """One JSON line per request: what path it took, how long it took and what went wrong, if anything."""
    line = {"outcome": outcome, "ms": round((time.perf_counter() - started) * 1000, 1)}
    if text:
        line["text"] = text[:100]
    if detail:
        line["detail"] = detail
    level = logging.WARNING if outcome in ("mart_down", "queued", "error", "bad_event", "unauthorized", "too_large") \
        else logging.INFO
    log.log(level, json.dumps(line, ensure_ascii=False))
