"""Text normalisation: NFC, HTML to plain text, word-boundary truncation."""

from __future__ import annotations

import unicodedata

import pytest

from crosspost.domain.text import clean_line, html_to_text, nfc, truncate_words


def test_nfc_composes_decomposed_vietnamese() -> None:
    decomposed = unicodedata.normalize("NFD", "Thủ tướng")
    assert nfc(decomposed) == "Thủ tướng"
    assert len(nfc(decomposed)) == len("Thủ tướng")


def test_clean_line_collapses_whitespace_and_drops_controls() -> None:
    assert clean_line("  Hà\u200f  Nội\n\tmới\x07 ") == "Hà Nội mới"


@pytest.mark.parametrize(
    ("fragment", "text"),
    [
        ("<p>Sáng 28/11, <b>Thủ tướng</b> chủ trì</p>", "Sáng 28/11, Thủ tướng chủ trì"),
        ("<p>Hà Nội</p><p>Huế</p>", "Hà Nội Huế"),  # block elements separate words
        ("Dòng 1<br>Dòng 2", "Dòng 1 Dòng 2"),
        ("a<script>alert('x')</script>b<style>p{color:red}</style>c", "abc"),
        ("<noscript>bật JavaScript</noscript>nội dung", "nội dung"),
        ("Bộ KH&amp;CN &ndash; &#7871; &#x1EBF;", "Bộ KH&CN – ế ế"),
        ("c&amp;#225;c", "các"),  # numeric reference encoded twice by the portal
        ("&amp;lt;b&amp;gt;", "&lt;b&gt;"),  # named ones are not decoded a second time
        ("giá &lt; 5 triệu", "giá < 5 triệu"),
        ("a < b và c > d", "a < b và c > d"),  # a bare "<" is text, not a tag
        ('<img src="x.jpg" alt="ảnh">Chiều 12/8', "Chiều 12/8"),
        ("Thu\u0309 tu\u031bo\u031b\u0301ng", "Thủ tướng"),  # NFD in, NFC out
        ("", ""),
    ],
)
def test_html_to_text(fragment: str, text: str) -> None:
    assert html_to_text(fragment) == text


def test_html_to_text_survives_unclosed_markup() -> None:
    assert html_to_text("<p>Tin <b>mới <i>nhất") == "Tin mới nhất"
    assert html_to_text("<script>never closed") == ""


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("một hai ba", 10, "một hai ba"),  # fits exactly: untouched
        ("một hai ba bốn năm", 10, "một hai…"),
        ("một hai, ba bốn", 9, "một hai…"),  # no dangling comma before the ellipsis
        ("Chủtịchnướcđãkýlệnhcôngbố", 10, "Chủtịchnư…"),  # one long word is cut inside
        ("một hai ba", 3, "mộ…"),
    ],
)
def test_truncate_words(text: str, limit: int, expected: str) -> None:
    result = truncate_words(text, limit)
    assert result == expected
    assert len(result) <= limit


def test_terminal_escape_sequences_are_removed_whole() -> None:
    # A title that colours an officer's terminal red, then resets it: nothing of it is kept.
    assert clean_line("\x1b[31mKhẩn\x1b[0m: bão số 3 \x9b1;33mđổ bộ") == "Khẩn: bão số 3 đổ bộ"
    assert clean_line("Giá [31m là chữ thường") == "Giá [31m là chữ thường"
