"""The pure rules behind the hostile-input defences: which addresses are public, what text keeps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crosspost.domain.feed import MAX_TITLE_CHARS, RawEntry, normalise_entry
from crosspost.domain.text import clean_line, html_to_text
from crosspost.domain.urls import absolute_url, is_public_address

INSIDE = [
    "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
    "192.0.2.1", "198.18.0.1", "::1", "::", "fc00::1", "fd00:ec2::254", "fe80::1", "fe80::1%eth0",
    "fec0::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
    "2002:7f00:1::", "64:ff9b::7f00:1", "not-an-address", "",
]  # fmt: skip
OUTSIDE = ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888", "::ffff:8.8.8.8", "2606:4700::1"]


@pytest.mark.parametrize("address", INSIDE)
def test_inside_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", OUTSIDE)
def test_internet_addresses_are_public(address: str) -> None:
    assert is_public_address(address)


def test_invisible_and_direction_characters_are_dropped_but_joiners_kept() -> None:
    hostile = "\u202eBộ\u200b Tài\u2066 chính\ufeff\u2060\u00ad\u061c\x00\x1b\ud800 👨\u200d👩"
    assert clean_line(hostile) == "Bộ Tài chính 👨\u200d👩"


def test_a_link_loses_credentials_and_invisible_characters() -> None:
    assert (
        absolute_url("http://user:pw@portal.gov.vn/t\u202e\u200b\x00in.html", "http://x/")
        == "http://portal.gov.vn/tin.html"
    )


def test_html_to_text_stops_reading_once_it_has_enough() -> None:
    huge = "<p>Nội dung</p>" * 200_000
    text = html_to_text(huge, enough=100)
    assert text.startswith("Nội dung Nội dung")
    assert len(text) < 50_000  # not the 1.8 million characters of the whole


def test_a_megabyte_title_is_cut_to_the_limit_at_a_word() -> None:
    entry = RawEntry(
        guid=None,
        link="https://portal.gov.vn/tin/1.html",
        title="Tiêu đề " * 200_000,
        summary="",
        published=None,
    )
    item = normalise_entry(
        entry,
        feed_url="https://portal.gov.vn/rss",
        seen_at=datetime(2026, 11, 28, tzinfo=UTC),
        tracking_params=[],
        summary_max_chars=100,
    )
    assert item is not None
    assert len(item.title) <= MAX_TITLE_CHARS
    assert item.title.endswith("đề…")
