"""What a Java exception raised through py4j or PySpark says, and whether the database raised it.

Used by the publish (to tell a database's refusal from Spark's own failure) and by the entry points'
error messages.
"""

from __future__ import annotations

from collections.abc import Iterator

from pyspark.errors.exceptions.captured import CapturedException


def _java_exception(exc: BaseException):
    """The Java exception behind a py4j error or a PySpark exception converted from one (else ``None``)."""
    java = getattr(exc, "java_exception", None)
    if java is None:
        java = getattr(exc, "_origin", None)
    if java is None and isinstance(exc, CapturedException):
        # PySpark raises some conversions (a Python UDF's PythonException) without their origin,
        # "from None" inside the handler of the py4j error: that error is still the context.
        java = getattr(exc.__context__, "java_exception", None)
    return java


def is_java_error(exc: BaseException) -> bool:
    """True for an exception raised by the JVM (a driver, Spark), false for Python's own."""
    return _java_exception(exc) is not None


# Packages of the Java exceptions that come from a database or its JDBC driver.
SQL_ERROR_PACKAGES = ("java.sql.", "com.mysql.", "org.mariadb.", "org.sqlite.")


def _causes(java) -> Iterator:
    """A Java exception and its causes, outermost first (at most 32, cycles cut)."""
    for _ in range(32):
        if java is None:
            return
        yield java
        cause = java.getCause()
        java = cause if cause is not None and not cause.equals(java) else None


def _is_sql_exception(java) -> bool:
    """True when ``java`` is a ``java.sql.SQLException`` or comes from a database driver's package."""
    cls = java.getClass()
    if str(cls.getName()).startswith(SQL_ERROR_PACKAGES):
        return True
    while cls is not None:  # a driver's own subclass of SQLException in some other package
        if str(cls.getName()) == "java.sql.SQLException":
            return True
        cls = cls.getSuperclass()
    return False


def is_sql_error(exc: BaseException) -> bool:
    """True when the Java exception behind ``exc``, or one of its causes, is the database's (an SQL error).

    False for Spark's own failures (a lost executor, a Python UDF's exception, an S3 error while
    recomputing a DataFrame) and for errors that do not come from the JVM.
    """
    return any(_is_sql_exception(java) for java in _causes(_java_exception(exc)))


def _first_line(text) -> str:
    """The line that says what went wrong: the first, or the last one of a Python traceback."""
    lines = [line.strip() for line in str(text or "").strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1] if lines[0].startswith("Traceback (most recent call last)") else lines[0]


def root_cause_message(exc: BaseException) -> str:
    """The first line of the deepest cause of the Java exception behind ``exc`` (what the database said).

    For a Python worker's traceback (a UDF's exception), its last line: the exception itself.
    """
    java = _java_exception(exc)
    if java is None:
        return java_message(exc)
    *_, java = _causes(java)
    return _first_line(java.getMessage()) or str(java.getClass().getName())


def java_message(exc: BaseException) -> str:
    """What the Java exception behind a py4j error says: its first line, and its root cause's."""
    java = _java_exception(exc)
    if java is None:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    parts = []
    while java is not None and len(parts) < 8:
        text = java.getMessage()
        line = str(text).strip().splitlines()[0] if text else java.getClass().getSimpleName()
        if line not in parts:
            parts.append(line)
        cause = java.getCause()
        java = cause if cause is not None and not cause.equals(java) else None
    return parts[0] if len(parts) == 1 else f"{parts[0]} (cause: {parts[-1]})"
