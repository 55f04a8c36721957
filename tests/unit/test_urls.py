"""Article links: absolute against the feed, canonical for dedupe."""

from __future__ import annotations

import pytest

from crosspost.domain.urls import absolute_url, canonical_url

FEED = "https://vpcp.chinhphu.vn/rss/home.rss"
TRACKING = ["utm_*", "fbclid", "gclid", "dclid", "msclkid"]


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("https://baochinhphu.vn/a-102.htm", "https://baochinhphu.vn/a-102.htm"),
        (
            " /tiep-nhan-can-bo-115241118155440961.htm",
            "https://vpcp.chinhphu.vn/tiep-nhan-can-bo-115241118155440961.htm",
        ),
        ("tin-moi.htm", "https://vpcp.chinhphu.vn/rss/tin-moi.htm"),
        ("../tin/a.htm", "https://vpcp.chinhphu.vn/tin/a.htm"),
        ("//moh.gov.vn/tin/a", "https://moh.gov.vn/tin/a"),
        ("\n  https://moc.gov.vn/a.htm\n ", "https://moc.gov.vn/a.htm"),
        ("http:moc.gov.vn/vn/tin-tuc/1.aspx", "http://moc.gov.vn/vn/tin-tuc/1.aspx"),
        ("http:/moc.gov.vn/vn/tin-tuc/1.aspx", "http://moc.gov.vn/vn/tin-tuc/1.aspx"),
        ("javascript:alert(1)", None),
        ("mailto:banbientap@chinhphu.vn", None),
        ("ftp://files.gov.vn/a.pdf", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_absolute_url(href: str | None, expected: str | None) -> None:
    assert absolute_url(href, FEED) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTPS://BaoChinhPhu.VN:443/a.htm?utm_source=fb&utm_medium=social&fbclid=x#top",
            "https://baochinhphu.vn/a.htm",
        ),
        (
            "https://moet.gov.vn/Pages/index.aspx?ItemID=54&UTM_Campaign=x&CateID=0&gclid=y",
            "https://moet.gov.vn/Pages/index.aspx?ItemID=54&CateID=0",
        ),
        ("http://portal.gov.vn:80", "http://portal.gov.vn/"),
        ("http://portal.gov.vn:8080/a", "http://portal.gov.vn:8080/a"),
        ("https://user:secret@portal.gov.vn/a", "https://portal.gov.vn/a"),
        ("https://portal.gov.vn/Tin Tức/a.htm", "https://portal.gov.vn/Tin%20T%E1%BB%A9c/a.htm"),
        (
            "https://portal.gov.vn/Tin%20T%E1%BB%A9c/a.htm",
            "https://portal.gov.vn/Tin%20T%E1%BB%A9c/a.htm",
        ),
        ("https://portal.gov.vn/a?b=1&&c=&d", "https://portal.gov.vn/a?b=1&c=&d"),
        (
            "https://portal.gov.vn/a?q=h%C3%A0+n%E1%BB%99i",
            "https://portal.gov.vn/a?q=h%C3%A0+n%E1%BB%99i",
        ),
        ("https://[2001:DB8::1]:443/a", "https://[2001:db8::1]/a"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url, TRACKING) == expected


def test_canonical_url_path_case_is_kept() -> None:
    # Paths are case-sensitive on the Liferay and SharePoint portals.
    assert canonical_url("https://moet.gov.vn/Pages/A.aspx", TRACKING).endswith("/Pages/A.aspx")


def test_the_same_article_from_hub_and_ministry_has_one_canonical_url() -> None:
    hub = absolute_url(
        " HTTPS://MST.gov.vn/tin-tuc/a-4821.htm?utm_source=chinhphu&utm_medium=rss#binh-luan",
        FEED,
    )
    ministry = absolute_url("a-4821.htm", "https://mst.gov.vn/tin-tuc/")
    assert hub is not None
    assert ministry is not None
    assert canonical_url(hub, TRACKING) == canonical_url(ministry, TRACKING)


def test_no_tracking_patterns_keeps_every_parameter() -> None:
    assert canonical_url("https://a.vn/x?utm_source=y", []) == "https://a.vn/x?utm_source=y"
