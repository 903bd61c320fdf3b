"""One skill application per Lambda container: settings, the mart connection and the Spotify client,
built on the first invocation and reused by the warm ones.

:meth:`SkillApp.handle` turns any API Gateway event into an HTTP response: 401 when a shared
secret is configured and the request lacks it, otherwise 200 with a valid Kakao reply (a body over
``apigw.MAX_BODY_BYTES`` gets "too long" before anything in it is decoded or parsed), whatever
the request held and whatever failed on the way (failures are logged, never shown).
"""

from __future__ import annotations

import hmac
import logging
import time

from chatbot_lambda import apigw
from chatbot_lambda.answers import Chatbot, sorry_reply, too_long_reply
from chatbot_lambda.budget import Deadline
from chatbot_lambda.kakao import BadSkillRequest, SkillRequest
from chatbot_lambda.repository import MartRepository
from chatbot_lambda.settings import Settings
from chatbot_lambda.spotify import SpotifyClient
from mart.requests import user_hash

log = logging.getLogger("chatbot_lambda")

LAMBDA_RESERVE_SECONDS = 0.3  # kept from the Lambda's own timeout to send the reply


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
        fields = self.request_fields(skill)
        try:
            answer = self.chatbot.answer(skill, deadline)
        except Exception:  # the user gets an apology, the log gets the traceback (never the message)
            log.exception("answering failed", extra=fields)
            _log_answer("error", started, "unexpected failure", fields)
            return apigw.json_response(200, sorry_reply(self.settings.language))
        if answer.artist_id:
            fields["artist_id"] = answer.artist_id
        _log_answer(answer.outcome, started, answer.detail, fields)
        return apigw.json_response(200, answer.reply)

    def request_fields(self, skill: SkillRequest) -> dict:
        """What the answer's log record says about the request, never what was typed nor who typed it:
        ``intent`` (``tap`` for a button or quick reply carrying ``extra``, ``param`` for an artist the
        block extracted, else ``text``), the tapped ``extra`` kind, the requested ``lang``, the
        message's length in ``chars``, and ``user``: the keyed hash the mart keeps users as."""
        kind = (skill.extra or {}).get("kind")
        fields = {
            "intent": "tap" if skill.extra else "param" if skill.artist_param else "text",
            "chars": len(skill.text),
        }
        if isinstance(kind, str):
            fields["extra_kind"] = kind[:20]
        if skill.lang:
            fields["lang"] = skill.lang
        if skill.user_id and self.settings.request_key:
            fields["user"] = user_hash(self.settings.request_key, skill.user_id)
        return fields


# Outcomes logged as warnings (something failed, or a name waits for the next batch); the others as info.
WARNING_OUTCOMES = ("mart_down", "queued", "error", "bad_event", "unauthorized", "too_large")
# The structured fields of an answer's record: the keys the Lambda runtime's JSON log format adds for them.
LOG_FIELDS = ("outcome", "latency_ms", "intent", "extra_kind", "lang", "chars", "user", "artist_id", "detail")


def _log_answer(outcome: str, started: float, detail: str = "", fields: dict | None = None) -> None:
    """One record per request: a short message, and as fields (logging's ``extra``, which the Lambda
    runtime's JSON log format writes as keys of the record's JSON object) what path it took
    (``outcome``), how long it took (``latency_ms``), what failed if anything (``detail``) and what
    :meth:`SkillApp.request_fields` says of the request. No user text, no user id but its keyed hash."""
    latency = round((time.perf_counter() - started) * 1000, 1)
    record = {"outcome": outcome, "latency_ms": latency, **(fields or {})}
    if detail:
        record["detail"] = detail
    level = logging.WARNING if outcome in WARNING_OUTCOMES else logging.INFO
    log.log(level, "%s in %.1f ms%s", outcome, latency, f": {detail}" if detail else "", extra=record)
