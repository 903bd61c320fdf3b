"""The chatbot's settings, from environment variables (the Lambda function's configuration).

==============================  ======================================================================
variable                        meaning (default)
==============================  ======================================================================
MART_URL                        the mart: ``jdbc:mysql://host:3306/mart`` or ``jdbc:sqlite:<file>``
                                (``jdbc:sqlite:data/mart.db``, what ``make demo`` writes); an SQLite
                                file must exist (it is never created here). A user or password written
                                in the URL is used when the variables below do not give one; it is
                                never logged
MART_USER                       the mart user (read artists, write artist_requests and chat_listens)
MART_PASSWORD                   its password, or
MART_PASSWORD_SECRET            an AWS Secrets Manager id holding it (plain, or JSON ``password``)
MART_SSL_CA                     a CA bundle file: MySQL over TLS, the server's certificate and host
                                name verified against it; a relative path is in the zip (the one
                                ``build_zip.py --ca-bundle`` ships is ``certs/mart-ca.pem``)
SPOTIPY_CLIENT_ID               Spotify client credentials for live lookups of artists the mart lacks;
SPOTIPY_CLIENT_SECRET           without them (and without the secret below) live lookups are off
SPOTIFY_CREDENTIALS_SECRET      a Secrets Manager id with JSON ``client_id`` and ``client_secret``
SPOTIFY_API_URL                 (``https://api.spotify.com/v1/``)
SPOTIFY_TOKEN_URL               (``https://accounts.spotify.com/api/token``)
SPOTIFY_MARKET                  (``KR``)
SKILL_SECRET                    when set, requests must carry it in the header below (else 401), or
SKILL_SECRET_ID                 a Secrets Manager id holding it
SKILL_SECRET_HEADER             (``X-Skill-Secret``)
TIME_BUDGET_SECONDS             the whole answer, live calls included (3.5; Kakao waits 5)
DB_TIMEOUT_SECONDS              connect and read timeout of mart queries (1.0); MySQL also stops each
                                statement on the server after this long
SPOTIFY_TIMEOUT_SECONDS         the longest one Spotify request may take (1.2)
TRACKS_PER_CARD                 top tracks per artist card (3, at most 4)
LANGUAGE                        ``ko`` (Korean, the default) or ``en``: the replies' language; a request
                                whose ``userRequest.lang`` is English is answered in English anyway
REQUEST_KEY                     required: the key that hashes user ids (the distinct users of a request
                                or an alias) and signs the alias offers a user may tap (at least 16
                                characters; the Lambda does not start without it), or
REQUEST_KEY_SECRET              a Secrets Manager id holding it (plain, or JSON ``key``)
MAX_REQUESTS                    rows ``artist_requests`` may hold (10000); when it is full, a new name
                                takes the place of the request with the fewest distinct users and the
                                oldest last ask
MAX_NEW_NAMES_PER_USER          new names one user may add to ``artist_requests`` in 24 hours (20)
CHAT_LISTENS_PER_USER_PER_DAY   distinct known artists ``chat_listens`` keeps per signed user and UTC
                                day (30; 0 records none): the artists the bot answered, which the
                                ingest turns into listening data; further artists that day record
                                nothing
CHAT_LISTENS_RETENTION_DAYS     days ``chat_listens`` keeps a row (90): older rows are deleted, a few
                                at a time by the chatbot now and then, all of them by the ingest
ALIAS_OFFER_MINUTES             how long an alias offer ("혹시 IU 말씀이세요?") can be confirmed (10)
LOG_LEVEL                       (``INFO``) off Lambda; on Lambda the function's ApplicationLogLevel
                                (``AWS_LAMBDA_LOG_LEVEL``) applies instead
==============================  ======================================================================

Learning from chat users (alias confirmations, ranking requests by how many distinct users asked,
and the artists each user asked about, ``chat_listens``) needs users the bot can trust: it is on only
when requests are signed (``SKILL_SECRET``). An unsigned endpoint still answers and records names,
with no users, no alias offers and no listening.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from mart.url import MartUrl, MartUrlError

DEFAULT_MART_URL = "jdbc:sqlite:data/mart.db"
MIN_REQUEST_KEY = 16


class SettingsError(ValueError):
    """A setting that is missing or malformed; the message names the variable."""


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={text} is outside {low}..{high}")
    return value


def _secret(secret_id: str, *keys: str) -> tuple[str, ...]:
    from shared.secrets import SecretError, secret_values

    try:
        return secret_values(secret_id, *keys)
    except SecretError as exc:
        raise SettingsError(str(exc)) from None


@dataclass(frozen=True)
class Settings:
    mart_url: MartUrl = MartUrl.parse(DEFAULT_MART_URL)  # parsed once, its credentials taken out
    mart_user: str = ""
    mart_password: str = field(default="", repr=False)
    mart_ssl_ca: str = ""
    spotify_client_id: str = ""
    spotify_client_secret: str = field(default="", repr=False)
    spotify_api_url: str = "https://api.spotify.com/v1/"
    spotify_token_url: str = "https://accounts.spotify.com/api/token"
    spotify_market: str = "KR"
    skill_secret: str = field(default="", repr=False)
    skill_secret_header: str = "X-Skill-Secret"
    time_budget: float = 3.5
    db_timeout: float = 1.0
    spotify_timeout: float = 1.2
    tracks_per_card: int = 3
    language: str = "ko"
    request_key: str = field(default="", repr=False)
    max_requests: int = 10000
    max_new_names_per_user: int = 20
    chat_listens_per_user_per_day: int = 30
    chat_listens_retention_days: int = 90
    alias_offer_minutes: float = 10.0
    log_level: str = "INFO"

    def __post_init__(self):
        if len(self.request_key) < MIN_REQUEST_KEY:
            raise SettingsError(
                f"REQUEST_KEY (or REQUEST_KEY_SECRET) must give a key of at least {MIN_REQUEST_KEY} "
                "characters: it hashes user ids and signs alias offers (python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))' makes one)"
            )

    @property
    def live_lookups(self) -> bool:
        return bool(self.spotify_client_id and self.spotify_client_secret)

    @property
    def learning(self) -> bool:
        """Whether users are trusted enough to learn from: requests are signed by the skill secret."""
        return bool(self.skill_secret)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``env`` (default ``os.environ``); secrets named by ``*_SECRET*`` ids are read here."""
        env = os.environ if env is None else env
        mart_password = env.get("MART_PASSWORD", "")
        if not mart_password and env.get("MART_PASSWORD_SECRET"):
            (mart_password,) = _secret(env["MART_PASSWORD_SECRET"], "password")
        client_id, client_secret = env.get("SPOTIPY_CLIENT_ID", ""), env.get("SPOTIPY_CLIENT_SECRET", "")
        if not (client_id and client_secret) and env.get("SPOTIFY_CREDENTIALS_SECRET"):
            client_id, client_secret = _secret(env["SPOTIFY_CREDENTIALS_SECRET"], "client_id", "client_secret")
        skill_secret = env.get("SKILL_SECRET", "")
        if not skill_secret and env.get("SKILL_SECRET_ID"):
            (skill_secret,) = _secret(env["SKILL_SECRET_ID"], "secret")
        request_key = env.get("REQUEST_KEY", "")
        if not request_key and env.get("REQUEST_KEY_SECRET"):
            (request_key,) = _secret(env["REQUEST_KEY_SECRET"], "key")
        try:
            mart_url = MartUrl.parse(env.get("MART_URL", "").strip() or DEFAULT_MART_URL, label="MART_URL=")
        except MartUrlError as exc:
            raise SettingsError(str(exc)) from None
        mart_user, mart_password = mart_url.credentials(env.get("MART_USER", ""), mart_password)
        ssl_ca = env.get("MART_SSL_CA", "").strip()
        if ssl_ca and not os.path.isabs(ssl_ca) and env.get("LAMBDA_TASK_ROOT"):
            ssl_ca = os.path.join(env["LAMBDA_TASK_ROOT"], ssl_ca)  # a bundle shipped in the zip
        if ssl_ca and not os.path.isfile(ssl_ca):
            raise SettingsError(f"MART_SSL_CA={ssl_ca!r} is not a file")
        language = env.get("LANGUAGE", "").strip().lower() or cls.language
        if language not in ("ko", "en"):
            raise SettingsError(f"LANGUAGE={language!r} is neither ko nor en")
        level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"LOG_LEVEL={level!r} is not one of DEBUG, INFO, WARNING, ERROR")
        return cls(
            mart_url=replace(mart_url, user="", password=""),
            mart_user=mart_user,
            mart_password=mart_password,
            mart_ssl_ca=ssl_ca,
            spotify_client_id=client_id,
            spotify_client_secret=client_secret,
            spotify_api_url=env.get("SPOTIFY_API_URL", "").strip() or cls.spotify_api_url,
            spotify_token_url=env.get("SPOTIFY_TOKEN_URL", "").strip() or cls.spotify_token_url,
            spotify_market=env.get("SPOTIFY_MARKET", "").strip().upper() or cls.spotify_market,
            skill_secret=skill_secret,
            skill_secret_header=env.get("SKILL_SECRET_HEADER", "").strip() or cls.skill_secret_header,
            time_budget=_number(env, "TIME_BUDGET_SECONDS", cls.time_budget, 0.5, 4.5),
            db_timeout=_number(env, "DB_TIMEOUT_SECONDS", cls.db_timeout, 0.1, 4.0),
            spotify_timeout=_number(env, "SPOTIFY_TIMEOUT_SECONDS", cls.spotify_timeout, 0.1, 4.0),
            tracks_per_card=int(_number(env, "TRACKS_PER_CARD", cls.tracks_per_card, 1, 4)),
            language=language,
            request_key=request_key,
            max_requests=int(_number(env, "MAX_REQUESTS", cls.max_requests, 0, 10_000_000)),
            max_new_names_per_user=int(_number(env, "MAX_NEW_NAMES_PER_USER", cls.max_new_names_per_user, 0, 10_000)),
            chat_listens_per_user_per_day=int(
                _number(env, "CHAT_LISTENS_PER_USER_PER_DAY", cls.chat_listens_per_user_per_day, 0, 1000)
            ),
            chat_listens_retention_days=int(
                _number(env, "CHAT_LISTENS_RETENTION_DAYS", cls.chat_listens_retention_days, 1, 3650)
            ),
            alias_offer_minutes=_number(env, "ALIAS_OFFER_MINUTES", cls.alias_offer_minutes, 1, 24 * 60),
            log_level=level,
        )
