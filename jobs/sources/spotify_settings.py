"""Settings of the Spotify source: ``[spotify]`` and the app's credentials (see ``jobs.sources.spotify``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from jobs.common.config import section
from jobs.common.errors import ConfigError

MAX_SEARCH_LIMIT = 50  # the Web API's maximum; development-mode apps get 10 at most (docs/design.md, "Spotify Web API")


@dataclass(frozen=True)
class SpotifySettings:
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    api_url: str = "https://api.spotify.com/v1/"
    token_url: str = "https://accounts.spotify.com/api/token"
    features_provider_url: str = ""
    market: str = "KR"
    timeout: float = 5.0  # seconds a whole request may take (connect, wait, read)
    max_response_bytes: int = 32 << 20  # an answer's body, decoded
    max_retries: int = 4
    backoff: float = 0.5
    max_retry_after: float = 120.0
    max_rate_limit_waits: int = 10
    search_limit: int = 10
    provider_batch: int = 40
    top_tracks: int = 10

    @classmethod
    def from_config(cls, config: Mapping, env: Mapping[str, str] | None = None) -> SpotifySettings:
        """``[spotify]``; credentials from SPOTIPY_CLIENT_ID / SPOTIPY_CLIENT_SECRET or ``credentials_secret``."""
        env = os.environ if env is None else env
        spotify = section(config, "spotify")
        secret = str(spotify.get("credentials_secret", "") or "")
        if secret:
            from shared.secrets import SecretError, secret_values

            try:
                client_id, client_secret = secret_values(secret, "client_id", "client_secret")
            except SecretError as exc:
                raise ConfigError(str(exc)) from None
        else:
            client_id, client_secret = env.get("SPOTIPY_CLIENT_ID", ""), env.get("SPOTIPY_CLIENT_SECRET", "")
        if not client_id or not client_secret:
            raise ConfigError(
                "Spotify credentials missing: set SPOTIPY_CLIENT_ID and SPOTIPY_CLIENT_SECRET, or "
                "spotify.credentials_secret (an AWS Secrets Manager id with client_id, client_secret)"
            )
        known = {f for f in cls.__dataclass_fields__ if f not in ("client_id", "client_secret")}
        unknown = set(spotify) - known - {"credentials_secret"}
        if unknown:
            raise ConfigError(f"[spotify] has unknown settings: {', '.join(sorted(unknown))}")
        try:
            values = {k: type(getattr(cls, k))(v) for k, v in spotify.items() if k in known}
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[spotify] settings: {exc}") from None
        settings = cls(client_id=client_id, client_secret=client_secret, **values)
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ConfigError for values Spotify or this module cannot work with."""
        if not 1 <= self.search_limit <= MAX_SEARCH_LIMIT:
            raise ConfigError(
                f"spotify.search_limit must be between 1 and {MAX_SEARCH_LIMIT} (the Web API's "
                f"maximum; development-mode apps may ask for 10 at most), not {self.search_limit}"
            )
        if self.max_rate_limit_waits < 0:
            raise ConfigError(f"spotify.max_rate_limit_waits must be 0 or more, not {self.max_rate_limit_waits}")
