"""The errors the jobs report to their user, each with a message that says what to fix.

``jobs.common.cli`` turns each into a one-line message and an exit status; the publish's own refusals
(``PublishRefused``, ``PublishCheckFailed``, ``MartBusy``) subclass ``MartError`` beside the code that
raises them in ``jobs/publish/``.
"""


class ConfigError(ValueError):
    """A config file, override or setting that cannot be used as given."""


class SnapshotError(RuntimeError):
    """A lake table or snapshot that a job needs is missing or empty."""


class MartError(RuntimeError):
    """The mart cannot be reached or used as configured; the message says what to fix."""
