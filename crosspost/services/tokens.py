"""Rotating OAuth tokens (Zalo), kept encrypted in the database and rotated under a row lock.

Zalo's refresh token is single-use: the refresh that spends it returns the next one. Two
workers refreshing at once would both spend the same token and one would be refused, and a
rotation kept only in a process's memory would be lost with the process. So the tokens live in
`channel_tokens`, and a refresh happens inside one transaction that first locks the channel's
row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write lock, taken at BEGIN): whoever waited
reads the tokens the other process just stored and does not refresh again. The HTTP call to
the token endpoint is made with that lock held — an exception to the rule that no transaction
stays open during a platform call, paid once a day per channel.

The tokens are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under the workspace key:
``CROSSPOST_SECRET_KEY`` (the same on every machine of a deployment), or else a key file
``secret.key`` created beside the configuration (mode 0600) on first use.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Channel, ChannelToken
from crosspost.db.session import transaction
from crosspost.errors import ConfigError
from crosspost.platforms.base import IssuedTokens, Secret
from crosspost.services import audit

KEY_ENV = "CROSSPOST_SECRET_KEY"
KEY_FILE = "secret.key"


def token_cipher(environ: Mapping[str, str], workspace: Path) -> Fernet:
    """The workspace's token cipher: the key in CROSSPOST_SECRET_KEY, else the key file (made
    on first use). ConfigError when the variable holds something that is not a Fernet key."""
    configured = environ.get(KEY_ENV, "").strip()
    if configured:
        try:
            return Fernet(configured.encode("ascii"))
        except (ValueError, binascii.Error, UnicodeEncodeError):
            raise ConfigError(
                f"{KEY_ENV} is not a key: make one with "
                '`python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"`'
            ) from None
    path = workspace / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot create the token key {path}: {exc.strerror}") from None
    else:
        key = Fernet.generate_key()
        with os.fdopen(fd, "wb") as out:
            out.write(key + b"\n")
    try:
        return Fernet(key)
    except (ValueError, binascii.Error):
        raise ConfigError(
            f"{path} does not hold a token key (delete it to make a new one)"
        ) from None


class DatabaseTokenStore:
    """The `TokenStore` of one channel, in `channel_tokens`."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        channel_id: int,
        cipher: Fernet,
        *,
        clock: Callable[[], datetime],
        actor: str = "worker",
    ) -> None:
        self._factory = factory
        self._channel_id = channel_id
        self._cipher = cipher
        self._clock = clock
        self._actor = actor

    def load(self) -> IssuedTokens | None:
        with self._factory() as session:
            row = session.get(ChannelToken, self._channel_id)
            return self._decode(row) if row is not None else None

    def rotate(
        self, refresh: Callable[[IssuedTokens | None], IssuedTokens | None]
    ) -> IssuedTokens | None:
        with transaction(self._factory) as session:
            # The lock: PostgreSQL row lock; SQLite holds the database write lock already.
            session.execute(
                select(Channel.id).where(Channel.id == self._channel_id).with_for_update()
            )
            row = session.get(ChannelToken, self._channel_id, populate_existing=True)
            current = self._decode(row) if row is not None else None
            new = refresh(current)
            if new is None:
                return current
            now = self._clock()
            if row is None:
                row = ChannelToken(channel_id=self._channel_id, refreshes=0)
                session.add(row)
            row.access_token = self._encrypt(new.access_token)
            row.refresh_token = self._encrypt(new.refresh_token)
            row.access_expires_at = new.access_expires_at
            row.refresh_expires_at = new.refresh_expires_at
            row.seeded_from = new.seeded_from
            row.refreshed_at = now
            row.refreshes = (row.refreshes or 0) + 1
            audit.append(
                session,
                at=now,
                actor=self._actor,
                action="tokens-refreshed",
                subject_type="channel",
                subject_id=self._channel_id,
                note=f"refresh token valid until {new.refresh_expires_at:%Y-%m-%d %H:%M} UTC",
            )
            return new

    def _encrypt(self, secret: Secret) -> str:
        return self._cipher.encrypt(secret.reveal().encode("utf-8")).decode("ascii")

    def _decode(self, row: ChannelToken) -> IssuedTokens:
        try:
            access = self._cipher.decrypt(row.access_token.encode("ascii")).decode("utf-8")
            refresh = self._cipher.decrypt(row.refresh_token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise ConfigError(
                "the stored platform tokens cannot be decrypted with this workspace's key: "
                f"set {KEY_ENV} to the key they were stored with (every worker needs the same)"
            ) from None
        return IssuedTokens(
            access_token=Secret(access),
            refresh_token=Secret(refresh),
            access_expires_at=row.access_expires_at,
            refresh_expires_at=row.refresh_expires_at,
            seeded_from=row.seeded_from,
        )


@dataclass(frozen=True, slots=True)
class TokenState:
    """What may be shown about a channel's stored tokens: times only, never values."""

    access_expires_at: datetime
    refresh_expires_at: datetime
    refreshed_at: datetime
    refreshes: int


TOKEN_WARNING_DAYS = 14
"""Warn this many days before a stored refresh token expires (the OA must be authorised again)."""


def token_warning(state: TokenState | None, now: datetime) -> str | None:
    """A warning when the channel's refresh token expires within TOKEN_WARNING_DAYS."""
    if state is None:
        return None
    left = state.refresh_expires_at - now
    if left.total_seconds() <= 0:
        return "REFRESH TOKEN EXPIRED: authorise the OA again and set the refresh token variable"
    if left.days < TOKEN_WARNING_DAYS:
        return f"refresh token expires in {left.days} days: authorise the OA again before then"
    return None


def token_warnings(factory: sessionmaker[Session], now: datetime) -> list[tuple[str, str]]:
    """(channel name, warning) for every channel whose refresh token expires soon."""
    states = token_states(factory)
    with factory() as session:
        names = {cid: name for cid, name in session.execute(select(Channel.id, Channel.name))}
    found = [(names[cid], token_warning(state, now)) for cid, state in states.items()]
    return sorted((name, warning) for name, warning in found if warning)


def token_states(factory: sessionmaker[Session]) -> dict[int, TokenState]:
    """Channel id → its stored tokens' times, for every channel that has some."""
    with factory() as session:
        return {
            row.channel_id: TokenState(
                row.access_expires_at, row.refresh_expires_at, row.refreshed_at, row.refreshes
            )
            for row in session.scalars(select(ChannelToken))
        }


def store_for(
    factory: sessionmaker[Session],
    channel_id: int,
    platform: str,
    cipher: Callable[[], Fernet],
    *,
    clock: Callable[[], datetime],
    actor: str = "worker",
) -> DatabaseTokenStore | None:
    """The channel's store when its platform rotates tokens, else None (the cipher, and so the
    key file, is only made for such channels)."""
    from crosspost.platforms.registry import platform_info

    if not platform_info(platform).rotating_tokens:
        return None
    return DatabaseTokenStore(factory, channel_id, cipher(), clock=clock, actor=actor)
