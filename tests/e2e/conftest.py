"""Run the CLI as a user does, in-process (fast) or as a subprocess (the installed script)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from crosspost.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str


Cli = Callable[..., Result]


@pytest.fixture
def workspace_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder as the working directory, with no CROSSPOST_* variables leaking in."""
    for var in (
        "CROSSPOST_CONFIG",
        "CROSSPOST_DATABASE_URL",
        "CROSSPOST_REDIS_URL",
        "CROSSPOST_TIMEZONE",
        "CROSSPOST_USER",
        "CROSSPOST_SECRET_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def cli(workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """cli("sources", "list") -> Result(code, out, err), run against ./config/crosspost.toml."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
