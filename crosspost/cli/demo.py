"""`crosspost demo`: the main path on throw-away data, for a newcomer.

Each step is a real crosspost command, shown as typed and run in-process against a temporary
workspace; the bundled sample feeds are served on a local port. Nothing is left behind.
"""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.rule import Rule
from rich.text import Text

from crosspost.cli.common import console
from crosspost.errors import CrosspostError
from crosspost.localserve import serve_directory
from crosspost.resources import bundled_file


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
    """Run the whole path on throw-away data: ingest sample portal feeds, approve, audit.

    Example: crosspost demo
    """
    if keep is not None:
        if keep.exists() and any(keep.iterdir()):
            raise DemoFailed(f"{keep} is not empty; give a new or empty folder to --keep")
        keep.mkdir(parents=True, exist_ok=True)
        _run(keep)
        console.print(
            f"\nThe demo workspace is kept in {keep} (use --config {keep}/crosspost.toml)."
        )
        return
    with tempfile.TemporaryDirectory(prefix="crosspost-demo-") as tmp:
        _run(Path(tmp))


def _run(folder: Path) -> None:
    config = folder / "crosspost.toml"
    with serve_directory(bundled_file("demo")) as feeds:
        console.print(Rule("crosspost demo: a portal feed and a ministry feed, end to end"))
        _step(config, "init")
        _step(
            config,
            "sources",
            "add",
            "chinhphu",
            f"{feeds}/chinhphu.rss",
            "--trusted",
            "--allow-private",
        )
        _step(config, "sources", "add", "bo-tttt", f"{feeds}/bo-tttt.atom", "--allow-private")
        _step(config, "ingest")
        _step(config, "articles", "list", "--status", "pending")
        first, *others = _pending_ids(config)
        officer = "Cán bộ trực (demo)"
        _step(config, "articles", "approve", str(first), "--by", officer, "--note", "đã duyệt")
        for article_id in others:
            _step(
                config,
                "articles",
                "reject",
                str(article_id),
                "--by",
                officer,
                "--reason",
                "chờ cơ quan chủ trì xác nhận",
            )
        _step(config, "articles", "list")
        _step(config, "sources", "list")
        _step(config, "audit", "verify")
        console.print(Rule("done"))
        console.print(
            "Next: publishing to X and Facebook arrives with the platform layer and delivery "
            "engine."
        )


def _pending_ids(config: Path) -> list[int]:
    from crosspost.bootstrap import open_workspace
    from crosspost.domain.approval import ArticleStatus
    from crosspost.services.articles import list_articles

    ws = open_workspace(config)
    try:
        views, _ = list_articles(ws.factory, status=ArticleStatus.PENDING)
    finally:
        ws.close()
    if not views:
        raise DemoFailed("the sample ministry feed produced no pending article")
    return sorted(v.id for v in views)


def _step(config: Path, *args: str) -> None:
    from crosspost.cli.main import main

    console.print(Text(f"\n$ crosspost {shlex.join(args)}", style="bold"))
    code = main(["--config", str(config), *args])
    if code != 0:
        raise DemoFailed(f"demo step `crosspost {shlex.join(args)}` exited with {code}")
