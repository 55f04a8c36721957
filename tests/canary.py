"""A canary credential across the whole test session, and the scan that proves it never leaked.

Loaded from tests/conftest.py (`pytest_plugins`). At import it puts a fresh random marker in
CROSSPOST_SANDBOX_TOKEN_MARK, which the sandbox appends to every demo credential
(crosspost/sandbox/state.py) before anything reads them; every test that talks to the sandbox
with the demo accounts (the engine rig, the platform kits, the CLI tests, the demo, worker
subprocesses, which inherit the environment) therefore carries the canary in its credentials.

Where it is looked for, and when:

- every log record of any logger, at DEBUG (a handler on the root logger for the session);
- every test's captured stdout/stderr/log sections, and the failure text of a failed test;
- what tests read back through `capsys`/`capfd` (the in-process CLI's output), and what they
  capture from child processes (`subprocess.run(..., capture_output=True)`: the CLI, the demo);
- the sandboxes a test used (request log: path, query, body; accepted posts), before teardown;
- the PostgreSQL test database, all text columns, after each test (before it is emptied);
- at the end, every file under the session's temporary folder, byte for byte (logs, SQLite
  databases and their WAL files, reports, worker output).

The one place the canary may be is the credential itself on the wire (the Authorization header
or the Graph API's ``access_token`` parameter), which the sandbox never records.
A finding fails the session with a line saying where.
"""

from __future__ import annotations

import logging
import mmap
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CANARY_ENV = "CROSSPOST_SANDBOX_TOKEN_MARK"
CANARY = "-canary" + secrets.token_hex(10)
"""This session's marker; the leading dash keeps demo tokens readable (`...-token-canary…`)."""

os.environ[CANARY_ENV] = CANARY

_PG_TABLES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r'
  AND (xpath('/row/n/text()', query_to_xml(format(
        'SELECT count(*) AS n FROM public.%I r WHERE strpos(r::text, %L) > 0',
        c.relname, CAST(:needle AS text)), false, true, ''))
      )[1]::text::int > 0
"""
"""One round trip (~1 ms on the test schema): the tables with the needle in any column."""

_PG_COLUMNS = """
SELECT c.table_name, c.column_name
FROM information_schema.columns c
WHERE c.table_schema = 'public' AND c.table_name = ANY(:tables)
  AND (xpath('/row/n/text()', query_to_xml(format(
        'SELECT count(*) AS n FROM public.%I WHERE strpos(%I::text, %L) > 0',
        c.table_name, c.column_name, CAST(:needle AS text)), false, true, ''))
      )[1]::text::int > 0
ORDER BY 1, 2
"""
"""Only after a hit: which columns of those tables."""


@dataclass
class Scanner:
    """Looks for `needle` in texts, files, databases and sandboxes; remembers where it was."""

    needle: str
    findings: list[str] = field(default_factory=list)
    _engines: dict[str, Any] = field(default_factory=dict, repr=False)

    def text(self, where: str, text: str | None) -> None:
        """One piece of text (output, a log message, an exception)."""
        if text and self.needle in text:
            line = next(x for x in text.splitlines() if self.needle in x)
            snippet = line.replace(self.needle, "<CANARY>").strip()[:160]
            self.findings.append(f"{where}: {snippet}")

    def tree(self, root: Path) -> int:
        """Every regular file under `root`, as bytes; returns how many bytes were read."""
        needle = self.needle.encode()
        total = 0
        for path in _regular_files(root):
            try:
                with path.open("rb") as handle:
                    size = os.fstat(handle.fileno()).st_size
                    if size == 0:
                        continue
                    total += size
                    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                        found = data.find(needle) >= 0
            except (OSError, ValueError):
                continue  # vanished, or not mappable (a file being written to its end)
            if found:
                self.findings.append(f"file {path}")
        return total

    def postgres(self, url: str, where: str) -> None:
        """Every column (as text) of every table of the database at `url`."""
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        if url not in self._engines:  # NullPool: no connection stays open between scans
            self._engines[url] = create_engine(url, poolclass=NullPool)
        with self._engines[url].connect() as conn:
            needle = {"needle": self.needle}
            tables = list(conn.scalars(text(_PG_TABLES), needle))
            if not tables:
                return
            rows = conn.execute(text(_PG_COLUMNS), {**needle, "tables": tables}).all()
        for table, column in rows:
            self.findings.append(f"{where}: PostgreSQL column {table}.{column}")
        if not rows:  # in a column of a type the column query does not cast the same way
            self.findings += [f"{where}: PostgreSQL table {table}" for table in tables]

    def sandbox(self, sandbox: Any, where: str) -> None:
        """A sandbox's request log (path, query, body; never the auth header) and its posts."""
        state = sandbox.state
        with state.lock():
            requests = list(state.requests)
            posts = list(state.posts)
        for record in requests:
            seen = " ".join([record.path, *record.query.values(), record.body])
            self.text(f"{where}: sandbox request {record.method} {record.path}", seen)
        for post in posts:
            self.text(f"{where}: sandbox post {post.platform} {post.id}", post.text)
            self.text(f"{where}: sandbox post {post.platform} {post.id}", post.link)


def _regular_files(root: Path) -> Iterator[Path]:
    for folder, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink():
                yield path


class _RecordScan(logging.Handler):
    def __init__(self, scanner: Scanner) -> None:
        super().__init__(logging.DEBUG)
        self.scanner = scanner
        self.where = "session"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the logging call's bug, not a leak
            message = str(record.msg)
        exc = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        self.scanner.text(f"{self.where}: log record {record.name}", message + exc)


SCANNER = Scanner(CANARY)
_HANDLER = _RecordScan(SCANNER)
_ROOT_LEVEL: list[int] = []
_COMMUNICATE = subprocess.Popen.communicate


def _communicate_scanned(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> Any:
    """Popen.communicate (so also subprocess.run) as usual; what a test captured from a child
    process (`crosspost demo`, the CLI as a subprocess) is scanned too."""
    out, err = _COMMUNICATE(self, *args, **kwargs)
    for part in (out, err):
        if part:
            text = part if isinstance(part, str) else part.decode("utf-8", "replace")
            SCANNER.text(f"{_HANDLER.where}: output of subprocess {self.args!r:.60}", text)
    return out, err


def pytest_configure(config: pytest.Config) -> None:
    from crosspost.sandbox import state

    if state.TOKEN_MARK != CANARY:
        raise pytest.UsageError(
            "the canary is not in the sandbox's demo credentials: crosspost.sandbox.state was "
            "imported before tests/canary.py set " + CANARY_ENV
        )
    root = logging.getLogger()
    _ROOT_LEVEL.append(root.level)
    root.setLevel(logging.DEBUG)
    root.addHandler(_HANDLER)
    subprocess.Popen.communicate = _communicate_scanned  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    subprocess.Popen.communicate = _COMMUNICATE  # type: ignore[method-assign]
    root = logging.getLogger()
    root.removeHandler(_HANDLER)
    if _ROOT_LEVEL:
        root.setLevel(_ROOT_LEVEL.pop())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    _HANDLER.where = item.nodeid
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Before the test's fixtures go: the sandboxes it used."""
    from crosspost.sandbox import Sandbox

    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    seen: set[int] = set()
    for value in funcargs.values():
        box = value if isinstance(value, Sandbox) else getattr(value, "sandbox", None)
        if isinstance(box, Sandbox) and id(box) not in seen:
            seen.add(id(box))
            SCANNER.sandbox(box, item.nodeid)
    try:
        return (yield)
    finally:
        _HANDLER.where = "session"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for title, content in report.sections:
        SCANNER.text(f"{report.nodeid}: {title}", content)
    if report.failed:
        SCANNER.text(f"{report.nodeid}: failure text", report.longreprtext)


class _ScannedCapture:
    """`capsys`/`capfd` as the test sees them, with what it reads back scanned too."""

    def __init__(self, inner: pytest.CaptureFixture[str], where: str) -> None:
        self._inner = inner
        self._where = where

    def readouterr(self) -> Any:
        result = self._inner.readouterr()
        SCANNER.text(f"{self._where}: captured output", f"{result.out}\n{result.err}")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def capsys(capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest) -> Any:
    """pytest's capsys; every readouterr() is also scanned for the canary."""
    return _ScannedCapture(capsys, request.node.nodeid)


@pytest.fixture
def capfd(capfd: pytest.CaptureFixture[str], request: pytest.FixtureRequest) -> Any:
    """pytest's capfd; every readouterr() is also scanned for the canary."""
    return _ScannedCapture(capfd, request.node.nodeid)


def scan_postgres(url: str, where: str) -> None:
    """Scan a PostgreSQL database this session made, before it is emptied or dropped."""
    SCANNER.postgres(url, where)


_FILES_SCANNED: list[str] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    base = getattr(factory, "_basetemp", None)
    if base is not None and Path(base).is_dir():
        started = time.perf_counter()
        size = SCANNER.tree(Path(base))
        took = time.perf_counter() - started
        _FILES_SCANNED.append(f"{size / 1e6:.1f} MB of files scanned in {took:.2f} s")
    if SCANNER.findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not SCANNER.findings:
        done = "; ".join(["logs, outputs, sandboxes, PostgreSQL", *_FILES_SCANNED])
        terminalreporter.write_line(f"crosspost: canary credential not found ({done})")
        return
    terminalreporter.section("canary credential leaked", red=True)
    unique = list(dict.fromkeys(SCANNER.findings))
    for line in unique[:50]:
        terminalreporter.write_line(line, red=True)
    if len(unique) > 50:
        terminalreporter.write_line(f"... and {len(unique) - 50} more", red=True)
