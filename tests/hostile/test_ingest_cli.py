"""The hostile corpus through `crosspost ingest` as a user runs it: lines, not tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine

from tests.e2e.conftest import Cli
from tests.hostile.corpus import CASES, SECRET, Ctx
from tests.hostile.dbstate import all_text
from tests.integration.ingest.conftest import FEEDS, FeedServer, Route


def test_every_hostile_feed_ends_in_a_line_of_its_own(
    cli: Cli, server: FeedServer, workspace_dir: Path
) -> None:
    secret_file = workspace_dir / "secret.txt"
    secret_file.write_text(SECRET)
    ctx = Ctx(secret_file, server.url("/never-fetch.dtd"))
    assert cli("init").code == 0
    cases = [c for c in CASES if not c.big]
    for case in cases:
        url = server.serve(f"/{case.name}.rss", case.build(ctx))
        added = cli("sources", "add", case.name, url, "--allow-private")
        assert added.code == 0, added.err

    result = cli("ingest")

    assert result.code == 1  # some sources fail, by design
    lines = result.err.splitlines()
    assert "Traceback" not in result.err
    assert SECRET not in result.out + result.err
    assert all(len(line) <= 400 for line in lines), max(lines, key=len)[:200]
    assert lines[-1].startswith("error: ")
    assert "sources failed" in lines[-1]
    for case in cases:
        mine = [line for line in lines if f" {case.name}: " in line]
        assert len(mine) == 1, (case.name, mine)  # one line per source, success or failure
        expected = {"ok": "✓", "fail": "✗", "either": ""}[case.expect]
        assert mine[0].startswith(expected), mine[0]
    listed = json.loads(cli("sources", "list", "--json").out)
    assert {s["name"] for s in listed} == {c.name for c in cases}
    for source in listed:
        assert source["last_run_ok"] is not None
        assert "\n" not in (source["last_error"] or "")
    assert cli("audit", "verify").code == 0
    engine = create_engine(f"sqlite:///{workspace_dir / 'config' / 'crosspost.db'}")
    assert SECRET not in all_text(engine)
    engine.dispose()


def test_a_local_feed_needs_allow_private(cli: Cli, server: FeedServer) -> None:
    url = server.serve("/hub.rss", Route(body=(FEEDS / "hub.rss").read_bytes()))
    assert cli("init").code == 0
    assert cli("sources", "add", "lan", url).code == 0

    refused = cli("ingest", "--source", "lan")

    assert refused.code == 1
    assert "refusing to fetch from non-public address 127.0.0.1" in refused.err
    assert "/hub.rss" not in {path for path, _ in server.requests}
    same_feed = server.serve("/hub-again.rss", Route(body=(FEEDS / "hub.rss").read_bytes()))
    assert cli("sources", "add", "lan-allowed", same_feed, "--allow-private").code == 0
    allowed = cli("ingest", "--source", "lan-allowed")
    assert allowed.code == 0, allowed.err
    assert "✓ lan-allowed:" in allowed.err
