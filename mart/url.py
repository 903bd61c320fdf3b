"""One mart URL, parsed once: its dialect, where it points, the credentials it carries, and the
masked form every log line and error message shows.

Accepted forms::

    jdbc:sqlite:<file>                     (also jdbc:sqlite:file:<file>, jdbc:sqlite::memory:)
    jdbc:mysql://[user[:password]@]host[:port]/database[?key=value&...]
    jdbc:mariadb://...                     (same as jdbc:mysql://)

Credentials written in a MySQL URL (``//user:password@`` or ``?user=...&password=...``) are taken
out of it: :attr:`MartUrl.bare` is the URL without them, :meth:`MartUrl.credentials` applies the
precedence (a user or password given explicitly, by a setting or the environment, wins; the URL's
own is used only for what is not given otherwise). Neither :attr:`MartUrl.masked` nor ``str()``
nor ``repr()`` ever contains the password.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

SQLITE = "jdbc:sqlite:"
MYSQL_SCHEMES = ("mysql", "mariadb")
CREDENTIAL_KEYS = ("user", "password")
MASK = "***"


class MartUrlError(ValueError):
    """A mart URL that is not ``jdbc:sqlite:<file>`` or ``jdbc:mysql://host[:port]/database``.

    The message shows the URL masked."""


def mask(text: str) -> str:
    """``text`` with any password a JDBC URL in it carries replaced by ``***`` (``//user:pw@`` and
    ``password=...``), for text that is not known to be one well-formed URL (an error message)."""
    text = re.sub(r"(?i)(password=)[^&;\s'\"]*", rf"\1{MASK}", text)
    return re.sub(r"(//[^/@:?\s'\"]*:)[^/@?\s'\"]*@", rf"\1{MASK}@", text)


@dataclass(frozen=True)
class MartUrl:
    """A parsed mart URL. Build it with :meth:`parse`; ``str(url)`` is the masked form."""

    dialect: str  # "sqlite" or "mysql"
    bare: str  # the URL without credentials: what connections are opened with
    host: str = ""
    port: int = 3306
    database: str = ""
    path: str = ""  # SQLite: the file ("" or ":memory:" for memory databases)
    params: tuple[tuple[str, str], ...] = ()  # query parameters other than user and password
    user: str = ""  # from the URL, if it carried one
    password: str = field(default="", repr=False)

    @classmethod
    def parse(cls, text: str, label: str = "mart URL ") -> MartUrl:
        """The URL ``text``; ``label`` starts error messages (e.g. ``"MART_URL="``)."""
        text = (text or "").strip()
        if text.startswith(SQLITE):
            path, _, _ = text[len(SQLITE) :].partition("?")
            return cls(dialect="sqlite", bare=text, path=path.removeprefix("file:"))
        match = re.match(r"^jdbc:(mysql|mariadb)://", text)
        if not match:
            raise MartUrlError(
                f"{label}{mask(text.split('?')[0])!r} is neither jdbc:sqlite:<file> nor jdbc:mysql://host:port/database"
            )
        parts = urlsplit(text[len("jdbc:") :])
        try:
            port = parts.port or 3306
        except ValueError as exc:
            raise MartUrlError(f"{label}{mask(text.split('?')[0])!r}: {exc}") from None
        query = parse_qsl(parts.query, keep_blank_values=True)
        given = {k.lower(): v for k, v in query}
        user = unquote(parts.username or "") or given.get("user", "")
        password = unquote(parts.password or "") if parts.password is not None else given.get("password", "")
        params = tuple((k, v) for k, v in query if k.lower() not in CREDENTIAL_KEYS)
        host = parts.hostname or "127.0.0.1"
        netloc = f"[{host}]" if ":" in host else host
        if parts.port:
            netloc += f":{parts.port}"
        bare = f"jdbc:{match.group(1)}://{netloc}{parts.path}"
        if params:
            bare += "?" + urlencode(params, safe=":/,")
        return cls(
            dialect="mysql",
            bare=bare,
            host=host,
            port=port,
            database=unquote(parts.path.lstrip("/")),
            params=params,
            user=user,
            password=password,
        )

    @property
    def masked(self) -> str:
        """The URL for logs and messages: its user shown, its password never."""
        if self.dialect == "sqlite" or not (self.user or self.password):
            return self.bare
        who = quote(self.user, safe="") + (f":{MASK}" if self.password else "")
        return self.bare.replace("://", f"://{who}@", 1)

    @property
    def sqlite_file(self) -> str | None:
        """The database file of an SQLite URL; ``None`` for memory databases and MySQL URLs."""
        if self.dialect != "sqlite" or not self.path or self.path.startswith(":memory:"):
            return None
        return self.path

    @property
    def scheme(self) -> str:
        """The JDBC sub-protocol the URL names: ``sqlite``, ``mysql`` or ``mariadb``."""
        return self.bare.split(":", 2)[1]

    def absolute(self) -> MartUrl:
        """This URL with a relative SQLite file made absolute against this process's working directory
        (a JVM resolves relative paths against its own start directory, which need not be ours);
        memory databases, ``file:`` URLs, absolute files and MySQL URLs are returned unchanged."""
        path, sep, query = self.bare[len(SQLITE) :].partition("?")
        if self.dialect != "sqlite" or not path or path.startswith((":memory:", "file:")) or os.path.isabs(path):
            return self
        path = os.path.abspath(path)
        return replace(self, bare=f"{SQLITE}{path}{sep}{query}", path=path)

    @property
    def has_credentials(self) -> bool:
        return bool(self.user or self.password)

    def credentials(self, user: str = "", password: str = "") -> tuple[str, str]:
        """``(user, password)`` to connect with: each one given here wins over the URL's own."""
        return (user or self.user, password or self.password)

    def param(self, key: str, default: str = "") -> str:
        """A query parameter (case-insensitive key), credentials excluded."""
        for k, v in self.params:
            if k.lower() == key.lower():
                return v
        return default

    def __str__(self) -> str:
        return self.masked
