"""`crosspost demo`: the main job on embedded defaults, for a newcomer, in under a minute.

A throw-away workspace (SQLite, the embedded Redis), the sandbox standing in for the platforms,
and the bundled sample feeds served on a local port. Each step is a real crosspost command, shown
as typed and run in-process; the worker is the real RQ worker. Nothing is left behind.
"""

from __future__ import annotations

import os
import shlex
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.rule import Rule
from rich.text import Text

from crosspost.bootstrap import open_workspace, utcnow
from crosspost.cli.common import console, local_time, table
from crosspost.errors import CrosspostError
from crosspost.localserve import serve_directory
from crosspost.resources import bundled_file

if TYPE_CHECKING:
    from crosspost.sandbox import Sandbox

ZONE = "Asia/Ho_Chi_Minh"
DEADLINE_SECONDS = 90
"""The demo gives up (and says so) if the posts are not out by then."""


class DemoFailed(CrosspostError):
    """A step of the demo did not succeed."""


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    keep: Annotated[
        Path | None,
        typer.Option("--keep", help="Keep the demo workspace in this (new or empty) folder."),
    ] = None,
) -> None:
    """Run the whole path on throw-away data: ingest sample feeds, approve, schedule, publish.

    Example: crosspost demo
    """
    if keep is not None:
        if keep.exists() and any(keep.iterdir()):
            raise DemoFailed(f"{keep} is not empty; give a new or empty folder to --keep")
        keep.mkdir(parents=True, exist_ok=True)
        _run(keep.resolve())
        console.print(f"\nThe demo workspace is kept in {keep} (--config {keep}/crosspost.toml).")
        return
    with tempfile.TemporaryDirectory(prefix="crosspost-demo-") as tmp:
        _run(Path(tmp))


def _run(folder: Path) -> None:
    from crosspost.queue.embedded import ensure_running
    from crosspost.sandbox import Sandbox
    from crosspost.sandbox.state import (
        DEMO_MASTODON_ACCOUNT,
        DEMO_PAGE,
        DEMO_TELEGRAM_BOT,
        DEMO_X_ACCOUNT,
        DEMO_ZALO_OA,
    )

    config = folder / "crosspost.toml"
    credentials = {
        "CROSSPOST_DEMO_X_CONSUMER_KEY": DEMO_X_ACCOUNT.consumer_key,
        "CROSSPOST_DEMO_X_CONSUMER_SECRET": DEMO_X_ACCOUNT.consumer_secret,
        "CROSSPOST_DEMO_X_ACCESS_TOKEN": DEMO_X_ACCOUNT.access_token,
        "CROSSPOST_DEMO_X_ACCESS_TOKEN_SECRET": DEMO_X_ACCOUNT.access_token_secret,
        "CROSSPOST_DEMO_FB_PAGE_ACCESS_TOKEN": DEMO_PAGE.access_token,
        "CROSSPOST_DEMO_TG_BOT_TOKEN": DEMO_TELEGRAM_BOT.token,
        "CROSSPOST_DEMO_MASTO_ACCESS_TOKEN": DEMO_MASTODON_ACCOUNT.access_token,
        "CROSSPOST_DEMO_ZALO_APP_SECRET": DEMO_ZALO_OA.app_secret,
        "CROSSPOST_DEMO_ZALO_REFRESH_TOKEN": DEMO_ZALO_OA.refresh_token,
    }
    started = time.monotonic()
    with (
        serve_directory(bundled_file("demo")) as feeds,
        Sandbox.start() as sandbox,
        _environment({**credentials, "CROSSPOST_CONFIG": str(config)}),
    ):
        console.print(Rule("crosspost demo: portal feeds to five platforms, end to end"))
        console.print(f"Sandbox (stand-in for the platforms' APIs): {sandbox.url}")
        _step("init")
        # The demo holds the workspace's embedded Redis for its whole run; it stops at the end.
        with ensure_running(folder):
            chat = f"@{DEMO_TELEGRAM_BOT.chat_username}"
            _publish_path(folder, feeds, sandbox, DEMO_PAGE.page_id, chat)
        _summary(config, sandbox, started)


def _publish_path(folder: Path, feeds: str, sandbox: Sandbox, page_id: str, chat: str) -> None:
    from crosspost.sandbox.state import DEMO_ZALO_OA

    config = folder / "crosspost.toml"
    _step("sources", "add", "chinhphu", f"{feeds}/chinhphu.rss", "--trusted", "--allow-private")
    _step("sources", "add", "bo-tttt", f"{feeds}/bo-tttt.atom", "--allow-private")
    _step("ingest")
    _step("articles", "list", "--status", "pending")
    first, *others = _ids(config, "pending")
    officer = "Cán bộ trực (demo)"
    _step("articles", "approve", str(first), "--by", officer, "--note", "đã duyệt")
    for article_id in others:
        reason = "chờ cơ quan chủ trì xác nhận"
        _step("articles", "reject", str(article_id), "--by", officer, "--reason", reason)
    channels = {
        "demo-x": [
            "--platform",
            "x",
            "--api-base",
            sandbox.x_api_base,
            "--hashtag",
            "#ChinhPhu",
            "--utm-source",
            "x",
            "--utm-campaign",
            "demo",
        ],
        "demo-fb": [
            "--platform",
            "facebook",
            "--page-id",
            page_id,
            "--api-base",
            sandbox.graph_api_base,
            "--utm-source",
            "facebook",
            "--utm-campaign",
            "demo",
        ],
        "demo-tg": [
            "--platform",
            "telegram",
            "--chat",
            chat,
            "--api-base",
            sandbox.telegram_api_base,
        ],
        "demo-masto": [
            "--platform",
            "mastodon",
            "--api-base",
            sandbox.mastodon_api_base,
            "--hashtag",
            "#ChinhPhu",
        ],
        "demo-zalo": [
            "--platform",
            "zalo",
            "--oa-id",
            DEMO_ZALO_OA.oa_id,
            "--app-id",
            DEMO_ZALO_OA.app_id,
            "--cover-url",
            "https://chinhphu.vn/images/cover.jpg",
            "--api-base",
            sandbox.zalo_api_base,
        ],
    }
    for name, options in channels.items():
        _step("channels", "add", name, *options)
    for name in channels:
        _step("channels", "check", name)
    approved = _ids(config, "approved")
    _step("preview", str(approved[0]), "--channel", "demo-x")
    # Slots compressed into the next minute: one article every few seconds, in the channels' zone.
    zone = ZoneInfo(ZONE)
    for n, article_id in enumerate(approved[:4]):
        when = (utcnow() + timedelta(seconds=8 + 4 * n)).astimezone(zone)
        _step(
            "schedule",
            str(article_id),
            "--channels",
            "all",
            "--at",
            when.strftime("%Y-%m-%d %H:%M:%S"),
        )
    _step("schedule", "list")
    console.print(Text("\n$ crosspost worker   (until everything scheduled is out)", style="bold"))
    _work_until_done(config)
    _step("deliveries", "list")
    _step("status")
    _step("audit", "verify")


def _work_until_done(config: Path) -> None:
    from crosspost.cli.main import main
    from crosspost.services.deliveries import list_deliveries

    ws = open_workspace(config)
    deadline = time.monotonic() + DEADLINE_SECONDS
    shown = -1
    try:
        while True:
            views = list_deliveries(ws.factory)
            live = [v for v in views if v.status in ("scheduled", "sending", "unconfirmed")]
            done = len(views) - len(live)
            if done != shown:
                console.print(f"  {done} of {len(views)} deliveries settled")
                shown = done
            if not live:
                return
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"{len(live)} deliveries were still not out after {DEADLINE_SECONDS} s"
                )
            if main(["worker", "--burst", "--log-level", "WARNING"]) != 0:
                raise DemoFailed("the worker failed")
            time.sleep(1.0)
    finally:
        ws.close()


def _summary(config: Path, sandbox: object, started: float) -> None:
    from crosspost.sandbox import Sandbox
    from crosspost.services.deliveries import list_deliveries

    assert isinstance(sandbox, Sandbox)
    ws = open_workspace(config)
    try:
        views = list_deliveries(ws.factory)
    finally:
        ws.close()
    console.print(Rule("what was posted where"))
    zone = ZoneInfo(ZONE)
    console.print(
        table(
            ("channel", "article", "post id (sandbox)", "published", "title"),
            [
                (v.channel, v.article_id, v.post_id, local_time(v.published_at, zone), v.title[:50])
                for v in views
                if v.status == "published"
            ],
        )
    )
    posts = sandbox.posts()
    console.print(
        f"The sandbox holds {len(posts)} posts for {len(views)} deliveries "
        f"({sum(1 for v in views if v.status == 'published')} published); "
        f"demo took {time.monotonic() - started:.0f} s."
    )


def _ids(config: Path, status: str) -> list[int]:
    from crosspost.domain.approval import ArticleStatus
    from crosspost.services.articles import list_articles

    ws = open_workspace(config)
    try:
        views, _ = list_articles(ws.factory, status=ArticleStatus(status))
    finally:
        ws.close()
    if not views:
        raise DemoFailed(f"the sample feeds produced no {status} article")
    return sorted(v.id for v in views)


def _step(*args: str) -> None:
    from crosspost.cli.main import main

    console.print(Text(f"\n$ crosspost {shlex.join(args)}", style="bold"))
    code = main(list(args))
    if code != 0:
        raise DemoFailed(f"demo step `crosspost {shlex.join(args)}` exited with {code}")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the demo's in-process commands, and restore them after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
