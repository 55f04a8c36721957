"""Every hostile feed ends its source's run in success or a one-line failure, never in between.

Each case is served by the local feed server and ingested by the real fetcher and service. The
run is measured (peak resident memory, see memory.py) and the database is compared before
and after: a failed run changes nothing but its source's status; a successful one stores only
clean, bounded text and a verifiable audit log; a secret file that external entities point at
is never stored, and a DTD URL on the local server is never requested.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db import migrate
from crosspost.db.models import Article, ArticleRevision, Source, SourceItem
from crosspost.db.session import make_engine, session_factory, transaction
from crosspost.domain.feed import MAX_TITLE_CHARS
from crosspost.feeds import FeedFetcher
from crosspost.services import audit
from crosspost.services.ingest import ingest_source
from crosspost.settings import IngestSettings
from tests.hostile.corpus import CASES, SECRET, Case, Ctx
from tests.hostile.dbstate import all_text, fingerprint
from tests.hostile.memory import peak_rss
from tests.integration.ingest.conftest import Clock, FeedServer

DTD_PATH = "/never-fetch.dtd"
# Invisible or direction-changing characters that must not survive into stored text.
_FORBIDDEN = {chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]} | set(
    "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff\u061c"
)


@pytest.fixture
def sqlite_factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'big.db'}")
    migrate.upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


def _run(
    case: Case,
    factory: sessionmaker[Session],
    server: FeedServer,
    settings: IngestSettings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET)
    url = server.serve(f"/{case.name}.rss", case.build(Ctx(secret_file, server.url(DTD_PATH))))
    source_id = _add_source(factory, case.name, url, created_at=clock(), **case.source)
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine)
    before = fingerprint(engine, exclude={"sources"})

    with peak_rss() as peak, FeedFetcher(settings) as fetcher:
        report = ingest_source(factory, source_id, fetcher=fetcher, settings=settings, now=clock)
    print(f"{case.name}: peak RSS +{peak.megabytes:.1f} MB")  # shown with -s
    assert peak.megabytes < case.memory_mb, f"{case.name}: peak {peak.megabytes:.0f} MB"
    assert DTD_PATH not in {path for path, _ in server.requests}
    assert SECRET not in all_text(engine)
    if case.expect == "ok":
        assert report.ok, report.error
    elif case.expect == "fail":
        assert not report.ok
    if not report.ok:
        assert report.error is not None
        assert case.reason in report.error
        assert "\n" not in report.error
        assert len(report.error) <= 300
        assert SECRET not in report.error
        assert fingerprint(engine, exclude={"sources"}) == before  # nothing half-written
        return
    _assert_clean(factory, settings)


def _add_source(factory: sessionmaker[Session], name: str, url: str, **fields: Any) -> int:
    # The local server is on 127.0.0.1: these sources allow private addresses.
    with transaction(factory) as session:
        source = Source(
            name=name,
            url=url,
            trusted=False,
            enabled=True,
            allow_private=True,
            items_seen=0,
            articles_created=0,
            revisions_recorded=0,
            **fields,
        )
        session.add(source)
        session.flush()
        return source.id


def _assert_clean(factory: sessionmaker[Session], settings: IngestSettings) -> None:
    """What a successful run stored: bounded, visible, plain text; complete rows; a sound log."""
    with factory() as session:
        for article in session.scalars(select(Article)):
            for text in (article.title, article.summary):
                assert not _FORBIDDEN & set(text), ascii(text[:200])
                assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)
                assert text == unicodedata.normalize("NFC", text)
                assert "<script" not in text.lower()
                assert "alert(" not in text
            assert 0 < len(article.title) <= MAX_TITLE_CHARS
            assert len(article.summary) <= settings.summary_max_chars
            for link in (article.link, article.canonical_url):
                assert link.startswith(("http://", "https://"))
                assert not _FORBIDDEN & set(link)
                assert " " not in link
                assert "@" not in link.split("/")[2], link  # no user:password@ to publish
            items = session.scalar(select(func.count()).where(SourceItem.article_id == article.id))
            revisions = session.scalar(
                select(func.count()).where(ArticleRevision.article_id == article.id)
            )
            assert items
            assert revisions == article.revision
    checked, problems = audit.verify(factory)
    assert checked >= 1
    assert problems == []


@pytest.mark.parametrize("case", [c for c in CASES if not c.big], ids=lambda c: c.name)
def test_hostile_feed(
    case: Case,
    factory: sessionmaker[Session],
    server: FeedServer,
    settings: IngestSettings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    _run(case, factory, server, settings, clock, tmp_path)


@pytest.mark.parametrize("case", [c for c in CASES if c.big], ids=lambda c: c.name)
def test_huge_hostile_feed_in_bounded_memory(
    case: Case,
    sqlite_factory: sessionmaker[Session],
    server: FeedServer,
    settings: IngestSettings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    # Once, on SQLite: what is measured is the fetch and the parse, not the database (the
    # stored text is bounded before it reaches it), and each case costs a second or more.
    _run(case, sqlite_factory, server, settings, clock, tmp_path)
