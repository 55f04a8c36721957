"""Channels from the officer's side: add, list, check against the sandbox; secrets stay secret."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from crosspost.sandbox import Sandbox
from crosspost.sandbox.state import DEMO_X_ACCOUNT
from tests.e2e.conftest import Cli

CANARY = "canary-7f3a9c1e-do-not-leak"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(port=0) as sb:
        yield sb


@pytest.fixture
def ready(cli: Cli) -> Cli:
    assert cli("init").code == 0
    return cli


def test_add_tells_which_variables_hold_the_credentials(ready: Cli) -> None:
    result = ready("channels", "add", "gov-x", "--platform", "x")
    assert result.code == 0, result.err
    for var in ("CROSSPOST_GOV_X_CONSUMER_KEY", "CROSSPOST_GOV_X_ACCESS_TOKEN_SECRET"):
        assert var in result.out
    rows = json.loads(ready("channels", "list", "--json").out)
    assert rows[0]["name"] == "gov-x"
    assert rows[0]["timezone"] == "Asia/Ho_Chi_Minh"
    assert set(rows[0]["credentials_set"].values()) == {False}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--platform", "myspace"), "unknown platform 'myspace'"),
        (("--platform", "facebook"), "needs --page-id"),
        (("--platform", "x", "--timezone", "Asia/Saigon_X"), "unknown time zone"),
        (("--platform", "x", "--api-base", "ftp://h"), "--api-base"),
        (("--platform", "x", "--hashtag", "no hash"), "hashtag 'no hash'"),
        (("--platform", "x", "--page-id", "1"), "take no option page_id"),
    ],
)
def test_bad_channel_settings_are_refused_and_nothing_is_stored(
    ready: Cli, args: tuple[str, ...], words: str
) -> None:
    result = ready("channels", "add", "c1", *args)
    assert result.code == 1
    assert words in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert json.loads(ready("channels", "list", "--json").out) == []


def test_check_passes_with_good_credentials_and_records_it(
    ready: Cli, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = DEMO_X_ACCOUNT
    for key in ("consumer_key", "consumer_secret", "access_token", "access_token_secret"):
        monkeypatch.setenv(f"CROSSPOST_GOV_X_{key.upper()}", getattr(account, key))
    ready("channels", "add", "gov-x", "--platform", "x", "--api-base", sandbox.x_api_base)
    result = ready("channels", "check", "gov-x")
    assert result.code == 0, result.err
    assert "credentials work" in result.out
    row = json.loads(ready("channels", "list", "--json").out)[0]
    assert row["last_check_ok"] is True
    assert sandbox.posts() == []


def test_check_with_a_bad_token_fails_without_showing_it(
    ready: Cli,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    workspace_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    monkeypatch.setenv("CROSSPOST_GOV_FB_PAGE_ACCESS_TOKEN", CANARY)
    ready(
        "channels",
        "add",
        "gov-fb",
        "--platform",
        "facebook",
        "--page-id",
        "1234567890",
        "--api-base",
        sandbox.graph_api_base,
    )
    result = ready("channels", "check", "gov-fb")
    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1
    listed = ready("channels", "list")
    as_json = ready("channels", "list", "--json")
    assert "FAILED" in listed.out
    everything = result.out + result.err + listed.out + as_json.out + caplog.text
    assert CANARY not in everything
    db = sqlite3.connect(workspace_dir / "config" / "crosspost.db")
    dump = "\n".join(db.iterdump())
    db.close()
    assert CANARY not in dump


def test_check_says_which_variable_is_missing(ready: Cli) -> None:
    ready("channels", "add", "gov-x", "--platform", "x")
    result = ready("channels", "check", "gov-x")
    assert result.code == 1
    assert "CROSSPOST_GOV_X_CONSUMER_KEY" in result.err
