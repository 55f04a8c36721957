"""A Zalo OA channel from the officer's side: add, check (tokens stored encrypted, expiry
shown), list (expiry warning), preview (the article's fields)."""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crosspost.localserve import serve_directory
from crosspost.resources import bundled_file
from crosspost.sandbox import Sandbox
from crosspost.sandbox.state import DEMO_ZALO_OA
from tests.e2e.conftest import Cli


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(port=0) as sb:
        yield sb


@pytest.fixture
def zalo(cli: Cli, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Cli:
    assert cli("init").code == 0
    monkeypatch.setenv("CROSSPOST_GOV_ZALO_APP_SECRET", DEMO_ZALO_OA.app_secret)
    monkeypatch.setenv("CROSSPOST_GOV_ZALO_REFRESH_TOKEN", DEMO_ZALO_OA.refresh_token)
    added = cli(
        "channels", "add", "gov-zalo", "--platform", "zalo",
        "--oa-id", DEMO_ZALO_OA.oa_id, "--app-id", DEMO_ZALO_OA.app_id,
        "--cover-url", "https://chinhphu.vn/cover.jpg", "--slots", "08:00,17:00",
        "--api-base", sandbox.zalo_api_base,
    )  # fmt: skip
    assert added.code == 0, added.err
    assert "CROSSPOST_GOV_ZALO_REFRESH_TOKEN" in added.out
    return cli


def database(workspace_dir: Path) -> str:
    db = sqlite3.connect(workspace_dir / "config" / "crosspost.db")
    dump = "\n".join(db.iterdump())
    db.close()
    return dump


def test_the_issue_example_adds_a_channel_and_warns_about_the_cover(cli: Cli) -> None:
    assert cli("init").code == 0
    result = cli(
        "channels", "add", "gov-zalo", "--platform", "zalo", "--oa-id", "1234",
        "--app-id", "5678", "--slots", "08:00,17:00",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "cover photo" in result.out
    [row] = json.loads(cli("channels", "list", "--json").out)
    assert row["options"]["oa_id"] == "1234"
    assert row["slots"] == ["08:00", "17:00"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--app-id", "5678"), "needs --oa-id"),
        (("--oa-id", "1234"), "needs --app-id"),
        (("--oa-id", "12", "--app-id", "5", "--cover-url", "file:///etc/passwd"), "--cover-url"),
        (("--oa-id", "12", "--app-id", "5", "--broadcast-hours", "22:00-06:00"), "start before"),
        (("--oa-id", "12", "--app-id", "5", "--verify-timeout", "600"), "at most 90"),
        (("--oa-id", "12", "--app-id", "5", "--refresh-days", "0"), "above 0"),
    ],
)
def test_bad_zalo_settings_are_refused(cli: Cli, args: tuple[str, ...], words: str) -> None:
    assert cli("init").code == 0
    result = cli("channels", "add", "z", "--platform", "zalo", *args)
    assert result.code == 1
    assert words in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert json.loads(cli("channels", "list", "--json").out) == []


def test_check_refreshes_once_stores_tokens_encrypted_and_shows_expiry(
    zalo: Cli, sandbox: Sandbox, workspace_dir: Path
) -> None:
    first = zalo("channels", "check", "gov-zalo")
    second = zalo("channels", "check", "gov-zalo")

    assert first.code == 0, first.err
    assert second.code == 0, second.err
    assert DEMO_ZALO_OA.name in first.out
    assert "refresh token expires" in first.out
    assert "(in 89 days)" in first.out or "(in 90 days)" in first.out
    # One refresh: the second check (another process, in real life) used the stored token.
    assert len(sandbox.requests("zalo", path="/v4/oa/access_token")) == 1
    with sandbox.state.lock():
        issued = [*sandbox.state.zalo_oas[0].access_tokens, sandbox.state.zalo_oas[0].refresh_token]
    dump = database(workspace_dir)
    assert "channel_tokens" in dump
    for token in issued:
        assert token not in dump
        assert token not in first.out + second.out
    key = workspace_dir / "config" / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_list_warns_before_the_refresh_token_expires(zalo: Cli, workspace_dir: Path) -> None:
    assert zalo("channels", "check", "gov-zalo").code == 0
    assert "expires in" not in zalo("channels", "list").out

    soon = (datetime.now(UTC) + timedelta(days=5, hours=1)).isoformat()
    db = sqlite3.connect(workspace_dir / "config" / "crosspost.db")
    db.execute("UPDATE channel_tokens SET refresh_expires_at = ?", (soon,))
    db.commit()
    db.close()

    listed = zalo("channels", "list")
    assert "refresh token expires in 5 days" in listed.out
    assert "gov-zalo: refresh token expires in 5 days" in zalo("status").out
    [row] = json.loads(zalo("channels", "list", "--json").out)
    assert row["refresh_token_expires_at"].startswith(soon[:10])


def test_a_wrong_key_is_a_clear_error_not_a_traceback(
    zalo: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert zalo("channels", "check", "gov-zalo").code == 0
    monkeypatch.setenv("CROSSPOST_SECRET_KEY", "not-a-key")
    result = zalo("channels", "check", "gov-zalo")
    assert result.code == 1
    assert "CROSSPOST_SECRET_KEY is not a key" in result.err
    assert "Traceback" not in result.err


def test_preview_shows_the_article_fields(zalo: Cli) -> None:
    with serve_directory(bundled_file("demo")) as feeds:
        zalo("sources", "add", "chinhphu", f"{feeds}/chinhphu.rss", "--allow-private")
        assert zalo("ingest").code == 0
    listed = json.loads(zalo("articles", "list", "--json").out)["articles"]
    by_title = {a["title"]: a["id"] for a in listed}
    pictured = by_title["Thủ tướng chủ trì Phiên họp Chính phủ thường kỳ tháng 11/2026"]
    article = by_title["Lấy ý kiến Nhân dân về dự thảo Luật Giao dịch điện tử (sửa đổi)"]
    shown = zalo("preview", str(pictured), "--channel", "gov-zalo")
    assert "cover: https://portal.example/images/phien-hop.jpg" in shown.out  # the feed's <img>
    result = zalo("preview", str(article), "--channel", "gov-zalo")
    assert result.code == 0, result.err
    assert "title: " in result.out
    assert "/ 150)" in result.out
    assert "cover: https://chinhphu.vn/cover.jpg" in result.out  # no picture: the channel's
    assert "broadcast: no" in result.out
    assert "description length" in result.out
    data = json.loads(zalo("preview", str(article), "--channel", "gov-zalo", "--json").out)
    [title] = [f for f in data["fields"] if f["name"] == "title"]
    assert title["length"] <= 150


def test_a_broadcast_channel_schedules_night_times_into_the_morning(
    cli: Cli, sandbox: Sandbox
) -> None:
    assert cli("init").code == 0
    with serve_directory(bundled_file("demo")) as feeds:
        cli("sources", "add", "chinhphu", f"{feeds}/chinhphu.rss", "--trusted", "--allow-private")
        assert cli("ingest").code == 0
    added = cli(
        "channels", "add", "gov-zalo", "--platform", "zalo", "--oa-id", "1", "--app-id", "2",
        "--cover-url", "https://chinhphu.vn/c.jpg", "--broadcast",
    )  # fmt: skip
    assert added.code == 0, added.err
    approved = json.loads(cli("articles", "list", "--status", "approved", "--json").out)
    first, second = (a["id"] for a in approved["articles"][:2])
    vietnam = ZoneInfo("Asia/Ho_Chi_Minh")
    tomorrow = datetime.now(vietnam).date() + timedelta(days=1)

    late = cli(
        "schedule", str(first), "--channels", "gov-zalo", "--at", f"{tomorrow} 23:15", "--json"
    )
    day = cli("schedule", str(second), "--channels", "gov-zalo", "--at", f"{tomorrow} 09:00")

    assert late.code == 0, late.err
    [planned] = json.loads(late.out)
    due = datetime.fromisoformat(planned["due_at"]).astimezone(vietnam)
    assert (due.date(), due.hour, due.minute) == (tomorrow + timedelta(days=1), 6, 0)
    assert day.code == 0, day.err
    assert "09:00" in day.out
