"""One populated workspace per module, and a runner that reports the database's fingerprint.

The workspace is built once through the CLI (sources, ingested articles, a decision, channels,
a scheduled delivery) so that fuzzed commands meet real rows: an id that exists, one that does
not. Every command is run in-process with `--config` pointing at it, from a scratch directory
(a stray `--output` lands there, and is noticed).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from crosspost.cli.main import main
from tests.hostile.dbstate import fingerprint
from tests.integration.ingest.conftest import FEEDS, FeedServer, Route
from tests.integration.ingest.conftest import feed_server as feed_server

CLEAN_ENV = ("CROSSPOST_CONFIG", "CROSSPOST_DATABASE_URL", "CROSSPOST_REDIS_URL",
             "CROSSPOST_TIMEZONE", "CROSSPOST_USER")  # fmt: skip


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@dataclass
class Fuzzbed:
    """The workspace: its config file, database, scratch directory, and how to run commands."""

    config: Path
    scratch: Path
    engine: Engine

    def run(self, *args: str, config: Path | None = None) -> Outcome:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--config", str(config or self.config), *args])
        return Outcome(code, out.getvalue(), err.getvalue())

    def run_plain(self, *args: str) -> Outcome:
        """Run without --config (the environment or ./config/crosspost.toml decides)."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
        return Outcome(code, out.getvalue(), err.getvalue())

    def state(self) -> tuple[str, list[str]]:
        """The database fingerprint and the scratch directory's listing."""
        return fingerprint(self.engine), sorted(os.listdir(self.scratch))


@pytest.fixture(scope="module")
def fuzzbed(tmp_path_factory: pytest.TempPathFactory, feed_server: FeedServer) -> Iterator[Fuzzbed]:
    root = tmp_path_factory.mktemp("fuzzbed")
    scratch = root / "scratch"
    scratch.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for var in CLEAN_ENV:
            mp.delenv(var, raising=False)
        mp.setenv("COLUMNS", "200")
        mp.chdir(scratch)
        config = root / "config" / "crosspost.toml"
        bed = Fuzzbed(
            config, scratch, create_engine(f"sqlite:///{root / 'config' / 'crosspost.db'}")
        )
        _populate(bed, feed_server)
        yield bed
        bed.engine.dispose()


def _populate(bed: Fuzzbed, server: FeedServer) -> None:
    hub = server.serve("/fuzz/hub.rss", Route(body=(FEEDS / "hub.rss").read_bytes()))
    ministry = server.serve("/fuzz/mof.rss", Route(body=(FEEDS / "revised_v1.rss").read_bytes()))
    steps = [
        ("init",),
        ("sources", "add", "hub", hub, "--allow-private", "--trusted"),
        ("sources", "add", "mof", ministry, "--allow-private"),
        ("ingest",),
        ("articles", "reject", "-1"),  # replaced below by a real pending id
        ("channels", "add", "gov-x", "--platform", "x", "--api-base", "http://127.0.0.1:9"),
        ("channels", "add", "gov-fb", "--platform", "facebook", "--page-id", "1234567890",
         "--api-base", "http://127.0.0.1:9"),
        ("schedule", "1", "--channels", "gov-x"),
    ]  # fmt: skip
    for step in steps:
        if step == ("sources", "add", "hub", hub, "--allow-private", "--trusted"):
            # No queue: a command that needs one says so in a line, and no embedded Redis is
            # started (and left to stop) by a fuzzed `metrics collect`.
            text = bed.config.read_text(encoding="utf-8")
            bed.config.write_text(_no_queue(text), encoding="utf-8")
        if step[:2] == ("articles", "reject"):
            pending = _first_pending(bed)
            step = ("articles", "reject", pending, "--reason", "trùng", "--by", "fuzz")
        result = bed.run(*step)
        assert result.code == 0, (step, result.err)


def _no_queue(config: str) -> str:
    """The configuration with Redis pointed at a closed port."""
    head, sep, tail = config.partition("[redis]")
    assert sep, "the configuration written by init has a [redis] table"
    first, _, rest = tail.partition('url = ""')
    return head + sep + first + 'url = "redis://127.0.0.1:1/0"' + rest


def _first_pending(bed: Fuzzbed) -> str:
    import json

    listed = json.loads(bed.run("articles", "list", "--status", "pending", "--json").out)
    return str(listed["articles"][0]["id"])
