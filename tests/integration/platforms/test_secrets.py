"""Credentials never leak: not into exception text, not into any log record, at DEBUG, for
every logger (urllib3, requests, tweepy, oauthlib included), across successes and failures."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from crosspost.errors import PublishError
from crosspost.platforms.base import OutgoingPost, Publisher
from crosspost.sandbox import GraphPage, Sandbox, XAccount
from crosspost.sandbox.state import MastodonAccount, TelegramBot, ZaloOA

from .conftest import Kit

CANARY = "CANARY" + uuid.uuid4().hex
LINK = "https://moh.gov.vn/tin/canary"


def canary_publisher(kit: Kit, sandbox: Sandbox, **kwargs: Any) -> Publisher:
    """A publisher whose every credential value contains CANARY, known to the sandbox."""
    if kit.name == "x":
        sandbox.add_x_account(
            XAccount(
                user_id="1790000000000000077",
                username="canary",
                name="Canary",
                consumer_key=CANARY + "ck",
                consumer_secret=CANARY + "cs",
                access_token=CANARY + "at",
                access_token_secret=CANARY + "ats",
            )
        )
        credentials = {
            "consumer_key": CANARY + "ck",
            "consumer_secret": CANARY + "cs",
            "access_token": CANARY + "at",
            "access_token_secret": CANARY + "ats",
        }
        return kit.publisher(sandbox, credentials=credentials, **kwargs)
    if kit.name == "telegram":
        token = "7000000077:" + CANARY
        bot = TelegramBot("7000000077", "canary_bot", "Canary", token, "-1007", "canary", "Canary")
        sandbox.add_telegram_bot(bot)
        return kit.publisher(
            sandbox, credentials={"bot_token": token}, options={"chat": "@canary"}, **kwargs
        )
    if kit.name == "mastodon":
        sandbox.add_mastodon_account(MastodonAccount("110000000000000077", "canary", "C", CANARY))
        return kit.publisher(sandbox, credentials={"access_token": CANARY}, **kwargs)
    if kit.name == "zalo":
        oa = ZaloOA(
            oa_id="2000000000000000077",
            name="Canary OA",
            app_id="3000000000000000077",
            app_secret=CANARY + "as",
            refresh_token=CANARY + "rt",
            token_prefix=CANARY,
        )
        sandbox.add_zalo_oa(oa)
        return kit.publisher(
            sandbox,
            credentials={"app_secret": oa.app_secret, "refresh_token": oa.refresh_token},
            options={"oa_id": oa.oa_id, "app_id": oa.app_id},
            **kwargs,
        )
    sandbox.add_page(GraphPage(page_id="100000000000077", name="Canary", access_token=CANARY))
    return kit.publisher(
        sandbox,
        credentials={"page_access_token": CANARY},
        options={"page_id": "100000000000077"},
        **kwargs,
    )


def exception_texts(exc: BaseException) -> str:
    """Everything an exception can show, its whole chain included (even suppressed context)."""
    seen: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        seen += [str(current), repr(current), *traceback.format_exception(current)]
        seen += [repr(arg) for arg in current.args]
        current = current.__cause__ or current.__context__
    return "\n".join(seen)


def test_no_secret_in_errors_or_logs(
    kit: Kit, sandbox: Sandbox, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    publisher = canary_publisher(kit, sandbox)
    errors: list[PublishError] = []

    def attempt(call: Callable[[], object]) -> None:
        try:
            call()
        except PublishError as exc:
            errors.append(exc)

    post = OutgoingPost("Tin thử nghiệm bí mật", LINK)
    publisher.check_credentials()
    published = publisher.publish(post)
    attempt(lambda: publisher.publish(post))  # duplicate
    sandbox.inject("html_502", **kit.create)
    attempt(lambda: publisher.publish(OutgoingPost("502", LINK)))
    sandbox.inject(**kit.create, **kit.wire("server_error"))
    attempt(lambda: publisher.publish(OutgoingPost("5xx", LINK)))
    sandbox.inject(**kit.create, **kit.rate_limit_with_reset)
    attempt(lambda: publisher.publish(OutgoingPost("429", LINK)))
    sandbox.inject("drop", **kit.create)
    attempt(lambda: publisher.publish(OutgoingPost("drop", LINK)))
    sandbox.inject("delay", delay=1.0, **kit.read)
    attempt(publisher.check_credentials)
    publisher.find_recent_by_link(LINK, published.published_at.replace(year=2000))
    publisher.fetch_metrics([published.post_id, "404404"])
    publisher.delete(published.post_id)
    attempt(
        lambda: canary_publisher(kit, sandbox, api_base=f"http://127.0.0.1:{closed_port}").publish(
            post
        )
    )
    canary_account = {
        "x": "1790000000000000077",
        "facebook": "100000000000077",
        "telegram": "7000000077",
        "mastodon": "110000000000000077",
        "zalo": "2000000000000000077",
    }
    sandbox.revoke(kit.name, canary_account[kit.name])
    attempt(lambda: publisher.publish(OutgoingPost("revoked", LINK)))
    attempt(publisher.check_credentials)

    connection = kit.connection(sandbox, credentials=dict.fromkeys(kit.credentials, CANARY))
    assert CANARY not in repr(connection) + str(connection)
    # One error fewer where the same post twice is not refused as a duplicate.
    assert len(errors) == (9 if kit.rejects_duplicates else 8), [type(e).__name__ for e in errors]
    for exc in errors:
        assert CANARY not in exception_texts(exc), type(exc).__name__
    loggers = {record.name.split(".")[0] for record in caplog.records}
    assert "urllib3" in loggers  # the capture really saw the HTTP layer
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert CANARY not in text, f"{record.name}: {text[:200]}"


# The session-wide canary (tests/canary.py): it is in force, and its scanner can fail.


def test_the_session_canary_is_in_every_demo_credential() -> None:
    from crosspost.sandbox.state import DEMO_MASTODON_ACCOUNT, DEMO_PAGE, DEMO_TELEGRAM_BOT
    from crosspost.sandbox.state import DEMO_X_ACCOUNT as X
    from tests.canary import CANARY

    values = [
        X.consumer_key,
        X.consumer_secret,
        X.access_token,
        X.access_token_secret,
        DEMO_PAGE.access_token,
        DEMO_TELEGRAM_BOT.token,
        DEMO_MASTODON_ACCOUNT.access_token,
    ]
    assert all(value.endswith(CANARY) for value in values), values


def test_the_scanner_reports_a_planted_canary_and_where(tmp_path: Path, sandbox: Sandbox) -> None:
    """A throwaway scan with its own needle: planted in files (a SQLite database too), a text,
    a log record and a sandbox request body, it is reported with the place; a clean tree and the
    credential in the Graph API's access_token field (the auth itself) are not findings."""
    from tests.canary import Scanner

    needle = "PLANTED" + uuid.uuid4().hex
    scanner = Scanner(needle)
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "worker.log").write_text("published post 1\n")
    assert scanner.tree(clean) > 0
    assert scanner.findings == []

    deep = tmp_path / "dirty" / "logs"
    deep.mkdir(parents=True)
    (deep / "worker.log").write_text(f"line 1\ntoken={needle}\n")
    db = tmp_path / "dirty" / "crosspost.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table channel_checks (note text)")
        conn.execute("insert into channel_checks values (?)", (f"bad token {needle}",))
    scanner.tree(tmp_path / "dirty")
    assert sorted(scanner.findings) == [f"file {db}", f"file {deep / 'worker.log'}"]

    scanner.findings.clear()
    scanner.text("t::x: Captured stdout call", f"ok\nAuthorization: Bearer {needle}\n")
    assert scanner.findings == ["t::x: Captured stdout call: Authorization: Bearer <CANARY>"]

    scanner.findings.clear()
    requests.post(
        f"{sandbox.graph_api_base}/v21.0/me/feed",
        data={"access_token": needle, "message": "hello"},
        timeout=5,
    )
    scanner.sandbox(sandbox, "t::y")
    assert scanner.findings == []  # the credential where it belongs is not recorded
    requests.post(
        f"{sandbox.graph_api_base}/v21.0/me/feed",
        data={"access_token": "x", "message": f"leaked {needle}"},
        timeout=5,
    )
    scanner.sandbox(sandbox, "t::y")
    assert scanner.findings == [
        "t::y: sandbox request POST /v21.0/me/feed: /v21.0/me/feed message=leaked+<CANARY>"
    ]


@pytest.mark.postgres
def test_the_scanner_finds_a_canary_in_any_postgresql_text_column(postgres_url: str) -> None:
    from sqlalchemy import create_engine, text

    from tests.canary import Scanner

    needle = "PLANTED" + uuid.uuid4().hex
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            text("insert into audit_head (id, seq, hash) values (1, 1, :h)"), {"h": needle}
        )
    engine.dispose()
    scanner = Scanner(needle)
    scanner.postgres(postgres_url, "t::pg")
    assert scanner.findings == ["t::pg: PostgreSQL column audit_head.hash"]


def test_a_session_that_leaks_the_canary_fails_and_says_where(tmp_path: Path) -> None:
    """The plugin in a pytest run of its own: tests that print a credential, log it, or print it
    and read it back through capsys (as the CLI tests do) pass, yet the run fails and names each
    place; the credential itself is not shown."""
    (tmp_path / "test_leaky.py").write_text(
        "import logging\n"
        "from crosspost.sandbox.state import DEMO_PAGE\n"
        "def test_prints():\n"
        "    print('token is', DEMO_PAGE.access_token)\n"
        "def test_logs():\n"
        "    logging.getLogger('crosspost.x').debug('using %s', DEMO_PAGE.access_token)\n"
        "def test_reads_back(capsys):\n"
        "    print('cli said', DEMO_PAGE.access_token)\n"
        "    assert 'cli said' in capsys.readouterr().out\n"
        "def test_runs_a_child():\n"
        "    import subprocess, sys\n"
        "    code = 'import os; print(os.environ[\"CROSSPOST_SANDBOX_TOKEN_MARK\"])'\n"
        "    subprocess.run([sys.executable, '-c', code], capture_output=True, check=True)\n"
        "def test_clean():\n"
        "    print('nothing to see')\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("CROSSPOST_SANDBOX_TOKEN_MARK", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.canary",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            str(tmp_path / "base"),
            "-q",
            str(tmp_path / "test_leaky.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "5 passed" in out, out
    assert "test_leaky.py::test_runs_a_child: output of subprocess" in out, out
    assert (
        "test_leaky.py::test_reads_back: captured output: "
        "cli said sandbox-page-access-token<CANARY>" in out
    ), out
    assert "canary credential leaked" in out, out
    assert (
        "test_leaky.py::test_prints: Captured stdout call: "
        "token is sandbox-page-access-token<CANARY>" in out
    )
    assert (
        "test_leaky.py::test_logs: log record crosspost.x: using sandbox-page-access-token<CANARY>"
        in out
    )
    assert "test_clean" not in out.split("canary credential leaked")[1], out
