"""The Lambda entry point (``chatbot_lambda.handler.lambda_handler``) behind API Gateway.

The application (settings, mart connection, Spotify client) is built on the first invocation and
kept for the warm ones. Settings that cannot be read (a missing secret...) are logged and answered
with an apology; the next invocation tries again.
"""

from __future__ import annotations

import logging
import os

from chatbot_lambda import apigw
from chatbot_lambda.answers import sorry_reply
from chatbot_lambda.app import SkillApp
from chatbot_lambda.settings import Settings, SettingsError

log = logging.getLogger("chatbot_lambda")
_app: SkillApp | None = None


def application() -> SkillApp:
    """This container's application, built from the environment on first use."""
    global _app
    if _app is None:
        settings = Settings.from_env(os.environ)
        if not os.environ.get("AWS_LAMBDA_LOG_LEVEL"):  # on Lambda, the function's ApplicationLogLevel rules
            logging.getLogger().setLevel(settings.log_level)
        _app = SkillApp(settings)
    return _app


def reset() -> None:
    """Forget the application (and close its connection): the next invocation starts cold."""
    global _app
    if _app is not None:
        _app.repository.close()
    _app = None


def lambda_handler(event, context):
    try:
        app = application()
    except SettingsError as exc:
        log.error("cannot start: %s", exc)
        return apigw.json_response(200, sorry_reply())
    return app.handle(event, context)
