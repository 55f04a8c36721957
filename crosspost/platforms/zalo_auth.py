"""Zalo's OAuth tokens: a 25-hour access token and the single-use refresh token issued with it.

Every refresh spends the refresh token and returns the next one (valid about three months), so
the tokens live in the channel's `TokenStore` (the engine's is the database, encrypted) and a
refresh runs under the store's lock: a process that waited for it finds the tokens another one
just stored and does not spend the refresh token again. The refresh token the officer configured
(the environment variable) seeds the chain; a different one (the OA authorised again) replaces
it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import requests

from crosspost.errors import CredentialsInvalid, PublishError, RetryLater
from crosspost.platforms.base import IssuedTokens, Secret, TokenStore, one_line, secret_digest
from crosspost.platforms.zalo_errors import PLATFORM, json_body

DEFAULT_OAUTH_BASE = "https://oauth.zaloapp.com"
"""Token endpoint host. A channel with `api_base` (the sandbox, a gateway) sends both there."""
ACCESS_REFRESH_MARGIN = timedelta(minutes=30)
"""Refresh an access token this long before Zalo says it expires."""
DEFAULT_REFRESH_DAYS = 90
"""A refresh token's life (Zalo: "3 months"); option ``refresh_days``."""


class ZaloTokens:
    """The token chain of one OA's app, kept in `store`."""

    def __init__(
        self,
        session: requests.Session,
        *,
        oauth_base: str,
        app_id: str,
        app_secret: Secret,
        refresh_seed: Secret,
        store: TokenStore,
        clock: Callable[[], datetime],
        refresh_days: int = DEFAULT_REFRESH_DAYS,
    ) -> None:
        self._session = session
        self._oauth_base = oauth_base
        self._app_id = app_id
        self._app_secret = app_secret
        self._seed = refresh_seed
        self._seed_digest = secret_digest(refresh_seed)
        self._store = store
        self._clock = clock
        self._refresh_life = timedelta(days=refresh_days)

    def current(self) -> IssuedTokens | None:
        """The stored tokens when they descend from the configured refresh token."""
        stored = self._store.load()
        if stored is not None and stored.seeded_from == self._seed_digest:
            return stored
        return None

    def access_token(self) -> Secret:
        current = self.current()
        if (
            current is not None
            and current.access_expires_at - ACCESS_REFRESH_MARGIN > self._clock()
        ):
            return current.access_token
        return self.refresh(stale=None).access_token

    def refresh(self, *, stale: Secret | None) -> IssuedTokens:
        """New tokens under the store's lock; a process that waited for the lock finds the
        tokens another one just stored and uses them instead of spending a refresh token."""

        def refresh(current: IssuedTokens | None) -> IssuedTokens | None:
            mine = current if current and current.seeded_from == self._seed_digest else None
            if (
                mine is not None
                and mine.access_expires_at - ACCESS_REFRESH_MARGIN > self._clock()
                and mine.access_token != stale
            ):
                return None
            return self._exchange(mine.refresh_token if mine else self._seed)

        tokens = self._store.rotate(refresh)
        if tokens is None:  # pragma: no cover - a store that dropped what it was given
            raise RetryLater("zalo: the token store kept no tokens", platform=PLATFORM)
        return tokens

    def _exchange(self, refresh_token: Secret) -> IssuedTokens:
        """``POST /v4/oa/access_token`` with ``grant_type=refresh_token`` (spends the token)."""
        url = f"{self._oauth_base}/v4/oa/access_token"
        failure: PublishError | None = None
        try:
            response = self._session.post(
                url,
                data={
                    "refresh_token": refresh_token.reveal(),
                    "app_id": self._app_id,
                    "grant_type": "refresh_token",
                },
                headers={"secret_key": self._app_secret.reveal()},
            )
        except requests.RequestException as exc:
            said = str(exc) if isinstance(exc, requests.ConnectionError) else type(exc).__name__
            # A lost answer may have spent the refresh token; the next attempt will tell.
            failure = RetryLater(
                f"zalo: could not refresh the access token: {said}", platform=PLATFORM
            )
        if failure is not None:
            raise failure
        body = json_body(response)
        access = body.get("access_token") if body else None
        refresh = body.get("refresh_token") if body else None
        if response.status_code >= 500 or body is None:
            raise RetryLater(
                f"zalo: could not refresh the access token: HTTP {response.status_code}",
                platform=PLATFORM,
                code=str(response.status_code),
            )
        if not access or not refresh:
            code = str(body.get("error", response.status_code))
            said = one_line(str(body.get("error_description") or body.get("message") or ""))
            raise CredentialsInvalid(
                f"zalo: the refresh token was refused ({code}: {said}); authorise the OA "
                "again and set the channel's refresh token variable",
                platform=PLATFORM,
                code=code,
            )
        now = self._clock()
        try:
            lifetime = float(body.get("expires_in", 90000))
        except (TypeError, ValueError):
            lifetime = 90000.0
        return IssuedTokens(
            access_token=Secret(str(access)),
            refresh_token=Secret(str(refresh)),
            access_expires_at=now + timedelta(seconds=lifetime),
            refresh_expires_at=now + self._refresh_life,
            seeded_from=self._seed_digest,
        )
