"""An article's picture, as its feed names it, becomes the Zalo article's cover."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from crosspost.feeds import FeedFetcher
from crosspost.services.ingest import ingest_source
from crosspost.settings import IngestSettings
from tests.integration.ingest import state
from tests.integration.ingest.conftest import AddSource, Clock, FeedServer, Route

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Cổng mẫu</title><link>https://portal.example/</link>
<item><title>Có media:content</title><link>https://portal.example/a.htm</link>
  <media:content url="https://cdn.portal.example/a.jpg" medium="image"/>
  <media:content url="https://cdn.portal.example/a.mp4" medium="video"/>
  <description>&lt;img src="/inline-a.jpg"&gt; Nội dung A</description></item>
<item><title>Có enclosure</title><link>https://portal.example/b.htm</link>
  <enclosure url="https://cdn.portal.example/b.png" type="image/png" length="1000"/></item>
<item><title>Ảnh trong mô tả</title><link>https://portal.example/tin/c.htm</link>
  <description>&lt;p&gt;&lt;img alt="x" src="../images/c.jpg"/&gt; Nội dung C&lt;/p&gt;
  </description></item>
<item><title>Không có ảnh</title><link>https://portal.example/d.htm</link>
  <enclosure url="https://cdn.portal.example/d.mp3" type="audio/mpeg" length="1"/>
  <description>&lt;img src="javascript:alert(1)"&gt; Nội dung D</description></item>
</channel></rss>"""


def test_the_best_picture_of_each_item_is_kept_absolute(
    factory: sessionmaker[Session],
    server: FeedServer,
    add_source: AddSource,
    fetcher: FeedFetcher,
    settings: IngestSettings,
    clock: Clock,
) -> None:
    source_id = add_source("hub", server.serve("/img.rss", Route(body=FEED.encode())))

    report = ingest_source(factory, source_id, fetcher=fetcher, settings=settings, now=clock)

    assert report.ok, report.error
    images = {a.canonical_url: a.image_url for a in state.articles(factory)}
    assert images == {
        "https://portal.example/a.htm": "https://cdn.portal.example/a.jpg",
        "https://portal.example/b.htm": "https://cdn.portal.example/b.png",
        "https://portal.example/tin/c.htm": "https://portal.example/images/c.jpg",
        "https://portal.example/d.htm": None,
    }
    texts = {a.canonical_url: a.summary for a in state.articles(factory)}
    assert texts["https://portal.example/tin/c.htm"] == "Nội dung C"
