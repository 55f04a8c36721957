"""Zalo's rotating tokens in the database: encrypted, shared by every process, rotated once.

Each test runs on SQLite and on PostgreSQL against the sandbox's fake Zalo over HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from crosspost.errors import ConfigError
from crosspost.platforms.base import ChannelConnection, Secret
from crosspost.platforms.zalo import ZaloPublisher, build_zalo_publisher
from crosspost.sandbox import Sandbox
from crosspost.sandbox.state import DEMO_ZALO_OA
from crosspost.services import audit
from crosspost.services.channels import NewChannel, add_channel
from crosspost.services.tokens import DatabaseTokenStore, token_cipher, token_states


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(port=0) as sb:
        yield sb


@pytest.fixture
def channel_id(factory: sessionmaker[Session]) -> int:
    view = add_channel(
        factory,
        NewChannel(
            name="gov-zalo",
            platform="zalo",
            options={"oa_id": DEMO_ZALO_OA.oa_id, "app_id": DEMO_ZALO_OA.app_id},
        ),
        now=now(),
    )
    return view.id


def publisher(sandbox: Sandbox, store: DatabaseTokenStore) -> ZaloPublisher:
    return build_zalo_publisher(
        ChannelConnection(
            platform="zalo",
            credentials={
                "app_secret": Secret(DEMO_ZALO_OA.app_secret),
                "refresh_token": Secret(DEMO_ZALO_OA.refresh_token),
            },
            api_base=sandbox.zalo_api_base,
            options={"oa_id": DEMO_ZALO_OA.oa_id, "app_id": DEMO_ZALO_OA.app_id},
            token_store=store,
        )
    )


def refreshes(sandbox: Sandbox) -> int:
    return len(sandbox.requests("zalo", path="/v4/oa/access_token"))


def test_tokens_are_stored_encrypted_and_read_by_another_process(
    factory: sessionmaker[Session], channel_id: int, sandbox: Sandbox
) -> None:
    key = Fernet(Fernet.generate_key())
    publisher(sandbox, DatabaseTokenStore(factory, channel_id, key, clock=now)).check_credentials()

    # A second worker (its own store object, same database and key) does not refresh again.
    other = DatabaseTokenStore(factory, channel_id, key, clock=now)
    publisher(sandbox, other).check_credentials()
    assert refreshes(sandbox) == 1

    with sandbox.state.lock():
        oa = sandbox.state.zalo_oas[0]
        issued = [*oa.access_tokens, oa.refresh_token]
    with factory() as session:
        row = session.execute(text("SELECT * FROM channel_tokens")).one()
    stored = " ".join(str(value) for value in row)
    for token in issued:
        assert token not in stored
    loaded = other.load()
    assert loaded is not None
    assert loaded.refresh_token.reveal() == oa.refresh_token
    [state] = token_states(factory).values()
    assert state.refreshes == 1
    assert (state.refresh_expires_at - now()).days in (89, 90)


def test_two_workers_refreshing_at_once_spend_the_refresh_token_once(
    factory: sessionmaker[Session], channel_id: int, sandbox: Sandbox
) -> None:
    key = Fernet(Fernet.generate_key())
    sandbox.inject("delay", delay=0.5, platform="zalo", path="/v4/oa/access_token")
    workers = [
        publisher(sandbox, DatabaseTokenStore(factory, channel_id, key, clock=now))
        for _ in range(3)
    ]
    errors: list[BaseException] = []

    def check(worker: ZaloPublisher) -> None:
        try:
            worker.check_credentials()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=check, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert refreshes(sandbox) == 1
    assert len(sandbox.requests("zalo", path="/v2.0/oa/getoa")) == 3


def test_each_rotation_is_on_the_audit_record_without_values(
    factory: sessionmaker[Session], channel_id: int, sandbox: Sandbox
) -> None:
    key = Fernet(Fernet.generate_key())
    worker = publisher(sandbox, DatabaseTokenStore(factory, channel_id, key, clock=now))
    worker.check_credentials()
    sandbox.advance(26 * 3600)
    worker.check_credentials()

    entries = [e for e in audit.list_entries(factory) if e.action == "tokens-refreshed"]
    assert len(entries) == 2
    with sandbox.state.lock():
        current = sandbox.state.zalo_oas[0].refresh_token
    assert all(current not in e.note for e in entries)
    checked, problems = audit.verify(factory)
    assert checked >= 2
    assert problems == []


def test_tokens_stored_under_another_key_are_a_clear_error(
    factory: sessionmaker[Session], channel_id: int, sandbox: Sandbox
) -> None:
    first = Fernet(Fernet.generate_key())
    publisher(
        sandbox, DatabaseTokenStore(factory, channel_id, first, clock=now)
    ).check_credentials()

    wrong = DatabaseTokenStore(factory, channel_id, Fernet(Fernet.generate_key()), clock=now)
    with pytest.raises(ConfigError, match="CROSSPOST_SECRET_KEY"):
        wrong.load()


def test_the_key_file_is_made_once_private_and_reused(tmp_path: Path) -> None:
    one = token_cipher({}, tmp_path)
    two = token_cipher({}, tmp_path)

    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert two.decrypt(one.encrypt(b"x")) == b"x"
    configured = Fernet.generate_key().decode()
    from_env = token_cipher({"CROSSPOST_SECRET_KEY": configured}, tmp_path)
    assert Fernet(configured.encode()).decrypt(from_env.encrypt(b"y")) == b"y"
