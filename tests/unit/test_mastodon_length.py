"""Mastodon's and Telegram's length counts, and posts composed to fit them."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crosspost.domain.compose import (
    MASTODON_RULES,
    MASTODON_URL_LENGTH,
    TELEGRAM_RULES,
    PlatformRules,
    PostInput,
    compose,
    grapheme_count,
    mastodon_length,
    utf16_units,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "config" / "templates"
LINK = "https://baochinhphu.vn/thu-tuong-chu-tri-phien-hop-chinh-phu-102241205.htm"


@pytest.mark.parametrize(
    ("text", "clusters"),
    [
        ("Việt Nam", 8),
        (unicodedata.normalize("NFD", "Việt Nam"), 8),  # base + two combining marks: one
        ("👍🏽", 1),  # skin-tone modifier
        ("👨\u200d👩\u200d👧", 1),  # ZWJ family
        ("❤️", 1),  # variation selector
        ("🇻🇳🇺🇸", 2),  # regional-indicator pairs
        ("🇻🇳🇺", 2),  # an unpaired indicator is its own cluster
        ("a\r\nb", 3),
        ("", 0),
    ],
)
def test_grapheme_count(text: str, clusters: int) -> None:
    assert grapheme_count(text) == clusters


def test_every_http_url_counts_23_whatever_its_length() -> None:
    short, long = "https://a.vn", "https://moh.gov.vn/" + "x" * 300
    assert mastodon_length(f"Xem {short}") == 4 + MASTODON_URL_LENGTH
    assert mastodon_length(f"Xem {long}") == 4 + MASTODON_URL_LENGTH
    assert mastodon_length(f"({long}).") == 1 + MASTODON_URL_LENGTH + 2


def test_a_bare_domain_counts_its_characters() -> None:
    assert mastodon_length("moh.gov.vn") == len("moh.gov.vn")


def test_a_remote_mention_counts_without_its_domain() -> None:
    assert mastodon_length("cc @chinhphu@social.example.gov") == len("cc @chinhphu")


@given(st.text(alphabet="aăâeêioôơuưyạảấầẩẫậắằẳẵặẹẻẽếềểễệ ", max_size=200))
def test_vietnamese_counts_one_per_letter_in_nfc_or_nfd(text: str) -> None:
    nfc = unicodedata.normalize("NFC", text)
    assert mastodon_length(text) == len(nfc)
    assert mastodon_length(unicodedata.normalize("NFD", text)) == len(nfc)


def test_telegram_counts_utf16_units() -> None:
    assert utf16_units("Thông báo") == 9
    assert utf16_units("👍") == 2  # outside the BMP
    assert utf16_units(unicodedata.normalize("NFD", "ệ")) == 1


@pytest.mark.parametrize("rules", [MASTODON_RULES, TELEGRAM_RULES])
def test_bundled_template_is_shortened_to_fit(rules: PlatformRules) -> None:
    template = (TEMPLATES / f"{rules.name}.txt").read_text(encoding="utf-8")
    post = PostInput(
        title="Thủ tướng chủ trì phiên họp Chính phủ thường kỳ tháng 11",
        summary="Chính phủ thảo luận tình hình kinh tế - xã hội. " * 200,
        link=LINK,
        source_name="Báo Điện tử Chính phủ",
        hashtags=("#ChinhPhu",),
    )

    composed = compose(post, template, rules)

    assert composed.shortened
    assert composed.length == rules.length(composed.text) <= rules.limit
    assert LINK in composed.text
    assert "#ChinhPhu" in composed.text
