"""`crosspost demo`, the README's promise, run as a newcomer runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_publishes_every_scheduled_post_once_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    exe = Path(sys.executable).with_name("crosspost")
    keep = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
    env["COLUMNS"] = "200"
    result = subprocess.run(
        [str(exe), "demo", "--keep", str(keep)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    summary = re.search(
        r"The sandbox holds (\d+) posts for (\d+) deliveries \((\d+) published\)", result.stdout
    )
    assert summary is not None, result.stdout[-2000:]
    posts, deliveries, published = map(int, summary.groups())
    assert deliveries >= 4
    assert posts == deliveries == published
    assert "Audit log intact" in result.stdout
    # the embedded Redis the demo started is gone
    assert _redis_servers_mentioning(keep) == []


def _redis_servers_mentioning(folder: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        if "redis-server" in cmdline and str(folder) in cmdline:
            found.append(int(entry.name))
    return found
