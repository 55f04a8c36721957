"""The CLI's contract with its users: help everywhere, one-line errors, exit codes, --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from crosspost.cli.main import app
from tests.e2e.conftest import Cli


def _commands(group: typer.Typer) -> list[tuple[str, object]]:
    root = typer.main.get_command(group)
    found: list[tuple[str, object]] = []

    def walk(cmd: object, path: str) -> None:
        sub = getattr(cmd, "commands", None)
        if sub is None:
            found.append((path, cmd))
            return
        for name, child in sub.items():
            walk(child, f"{path} {name}".strip())

    walk(root, "")
    return found


def test_every_command_has_help_with_an_example(cli: Cli) -> None:
    commands = _commands(app)
    assert len(commands) >= 14
    missing = []
    for path, command in commands:
        doc = getattr(command, "help", None) or ""
        if "Example: crosspost " + path.split()[0] not in doc:
            missing.append(path)
        result = cli(*path.split(), "--help")
        assert result.code == 0, (path, result.err)
        assert "Example:" in result.out, path
    assert missing == []


def test_root_help_lists_every_command_group(cli: Cli) -> None:
    result = cli("--help")
    assert result.code == 0
    for name in ("init", "ingest", "sources", "articles", "audit", "db", "demo"):
        assert name in result.out


def test_init_creates_config_and_database_and_is_safe_to_repeat(
    cli: Cli, workspace_dir: Path
) -> None:
    first = cli("init")
    assert first.code == 0, first.err
    config = workspace_dir / "config" / "crosspost.toml"
    assert config.is_file()
    assert (workspace_dir / "config" / "crosspost.db").is_file()
    config.write_text(config.read_text() + "\n# mine\n")
    again = cli("init")
    assert again.code == 0
    assert "kept" in again.out
    assert config.read_text().endswith("# mine\n")


def test_commands_before_init_say_what_to_do(cli: Cli) -> None:
    result = cli("sources", "list")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert "run `crosspost init`" in lines[0]


def test_sources_add_and_list_as_json(cli: Cli) -> None:
    assert cli("init").code == 0
    added = cli("sources", "add", "chinhphu", "https://chinhphu.vn/rss/home.rss", "--trusted")
    assert added.code == 0, added.err
    listed = cli("sources", "list", "--json")
    assert listed.code == 0
    rows = json.loads(listed.out)
    assert [(r["name"], r["trusted"], r["enabled"], r["items_seen"]) for r in rows] == [
        ("chinhphu", True, True, 0)
    ]
    assert rows[0]["last_run_at"] is None


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("sources", "add", "x", "ftp://example.org/feed"), "must be an absolute http"),
        (("sources", "add", "Bad Name", "https://example.org/feed"), "source name"),
        (("articles", "show", "404"), "no article with id 404"),
        (("articles", "approve", "1", "2"), "no article with id 1"),
        (("articles", "reject", "1", "--reason", "  "), "needs a reason"),
        (("sources", "disable", "nope"), "no source named 'nope'"),
    ],
)
def test_user_errors_are_one_line_and_exit_1(cli: Cli, args: tuple[str, ...], words: str) -> None:
    assert cli("init").code == 0
    result = cli(*args)
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert words in lines[0]
    assert lines[0].startswith("error: ")


def test_a_duplicate_source_is_refused_and_nothing_changes(cli: Cli) -> None:
    cli("init")
    cli("sources", "add", "a", "https://example.org/rss")
    again = cli("sources", "add", "b", "https://example.org/rss")
    assert again.code == 1
    assert "already polls" in again.err
    assert [r["name"] for r in json.loads(cli("sources", "list", "--json").out)] == ["a"]


def test_usage_errors_exit_2(cli: Cli) -> None:
    cli("init")
    assert cli("articles", "list", "--status", "nope").code == 2
    assert cli("articles", "approve").code == 2


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[database\nurl=1", "not valid TOML"),
        ('[display]\ntimezone = "Asia/Hanoi_City"\n', "display.timezone: unknown time zone"),
        ("[ingest]\ntimeout_seconds = -1\n", "ingest.timeout_seconds"),
        ("[ingest]\ncolour = 1\n", "ingest.colour: unknown setting"),
    ],
)
def test_bad_configuration_is_named_in_one_line(
    cli: Cli, workspace_dir: Path, content: str, words: str
) -> None:
    (workspace_dir / "config").mkdir()
    (workspace_dir / "config" / "crosspost.toml").write_text(content)
    result = cli("sources", "list")
    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1
    assert words in result.err


def test_environment_overrides_the_file(
    cli: Cli, workspace_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSPOST_DATABASE_URL", f"sqlite:///{workspace_dir / 'elsewhere.db'}")
    assert cli("init").code == 0
    assert (workspace_dir / "elsewhere.db").is_file()
    assert not (workspace_dir / "config" / "crosspost.db").exists()
    monkeypatch.setenv("CROSSPOST_TIMEZONE", "Mars/Olympus")
    result = cli("sources", "list")
    assert result.code == 1
    assert "unknown time zone 'Mars/Olympus'" in result.err


def test_a_malformed_database_url_is_named(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSPOST_DATABASE_URL", "not a url")
    for args in (("init",), ("sources", "list")):
        result = cli(*args)
        assert result.code == 1
        assert "database.url: not a valid SQLAlchemy URL" in result.err
        assert len(result.err.strip().splitlines()) == 1


def test_an_unreachable_database_is_one_line_with_the_password_masked(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "CROSSPOST_DATABASE_URL", "postgresql+psycopg://officer:s3cr3t-canary@127.0.0.1:1/x"
    )
    result = cli("sources", "list")
    assert result.code == 1
    assert "not reachable" in result.err
    assert "s3cr3t-canary" not in result.err + result.out
    assert len(result.err.strip().splitlines()) == 1


def test_installed_console_script_runs(workspace_dir: Path) -> None:
    exe = Path(sys.executable).with_name("crosspost")
    result = subprocess.run(
        [str(exe), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("crosspost ")
