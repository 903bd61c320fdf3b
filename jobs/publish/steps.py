"""One step of the publish against the mart (see the protocol in ``jobs/publish/mart.py``): its
JDBC driver or Spark error turned into a one-line MartError that says whose error it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from jobs.common.errors import MartError
from jobs.common.java_errors import is_java_error, is_sql_error, root_cause_message
from jobs.common.jdbc import MartTarget
from jobs.publish.load_data import marked_error


@contextmanager
def database_step(target: MartTarget, what: str, outcome: str = "the live set is unchanged") -> Iterator[None]:
    """Turn a JDBC driver or Spark error of one step into a one-line MartError, saying whose error it is.

    An SQL error (one in the Java cause chain, or a LOAD DATA task's ``MART-SQL`` error, see
    ``load_data.py``) names the mart and its user, gives the database's words and advice on them; any
    other JVM error (a lost executor, a Python UDF's exception, S3 refusing a read while Spark
    recomputes a frame) is called a Spark error, without database advice.
    Python's own exceptions pass through unchanged.
    """
    try:
        yield
    except MartError:
        raise
    except Exception as exc:
        if not is_java_error(exc):
            raise
        cause = root_cause_message(exc)
        marked = marked_error(cause)  # a database error inside a LOAD DATA task (load_data.py)
        if marked:
            cause = marked[1]
        elif not is_sql_error(exc):
            raise MartError(
                f"{what} failed, {outcome}: {cause} (a Spark error, not the database's); fix the cause and run again"
            ) from None
        lowered = cause.lower()
        if "max_allowed_packet" in lowered or "packet for query is too large" in lowered:
            fix = "lower mart.batch_size or raise the server's max_allowed_packet"
        elif "denied" in lowered:
            fix = "grant the mart user SELECT, INSERT, CREATE, DROP and ALTER on the mart database"
        else:
            fix = "fix the cause and run again"
        raise MartError(
            f"{what} failed at {target.shown_url} as user {target.user or '(none)'}, {outcome}: {cause}; {fix}"
        ) from None
