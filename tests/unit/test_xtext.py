"""X's weighted length: twitter-text's conformance file, then the Vietnamese cases we live on."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from crosspost.domain.xtext import X_MAX_WEIGHTED, url_spans, weighted_length

# The sections of validate.yml that assert weightedLength, with the emoji parsing of the config
# twitter-text checks them with: v2 counted emoji by code point, v3 (what X uses) does not.
WEIGHTED_SECTIONS = {
    "WeightedTweetsCounterTest": False,
    "WeightedTweetsWithDiscountedEmojiCounterTest": True,
    "UnicodeDirectionalMarkerCounterTest": True,
}


def _conformance_file() -> Path:
    base = os.environ.get("CROSSPOST_CONFORMANCE_DIR")
    root = (
        Path(base)
        if base
        else Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
    )
    return root / "twitter-text" / "validate.yml"


def _cases() -> list[Any]:
    path = _conformance_file()
    if not path.is_file():
        reason = (
            f"twitter-text conformance file not found at {path} (set CROSSPOST_CONFORMANCE_DIR)"
        )
        return [pytest.param("", 0, True, marks=pytest.mark.skip(reason=reason), id="absent")]
    tests = yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
    missing = set(WEIGHTED_SECTIONS) - set(tests)
    assert not missing, f"{path} no longer has the sections {sorted(missing)}"
    return [
        pytest.param(
            case["text"],
            case["expected"]["weightedLength"],
            emoji_parsing,
            id=f"{section}: {case['description']}",
        )
        for section, emoji_parsing in WEIGHTED_SECTIONS.items()
        for case in tests[section]
    ]


@pytest.mark.parametrize(("text", "expected", "emoji_parsing"), _cases())
def test_conformance(text: str, expected: int, emoji_parsing: bool) -> None:
    assert weighted_length(text, emoji_parsing=emoji_parsing) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ê", 1),  # U+00EA, Latin-1: light
        ("ệ", 2),  # U+1EC7, Latin Extended Additional: outside U+0000–U+10FF
        ("e\u0302\u0323", 2),  # the same ệ typed as NFD: X counts it after NFC
        ("Hà Nội", 7),
        ("Đ", 1),
        ("ư", 1),
        ("ữ", 2),
        ("Chính phủ", 10),
        ("“Chính phủ”", 12),  # curly quotes are in the light U+2010–U+201F range
        ("…", 2),  # U+2026 is not
    ],
)
def test_vietnamese_letters(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_nfd_and_nfc_titles_weigh_the_same() -> None:
    title = "Hội nghị về chuyển đổi số"  # ộ ị ề ể ổ ố weigh 2, the rest 1
    nfd = unicodedata.normalize("NFD", title)
    assert nfd != title
    assert weighted_length(nfd) == weighted_length(title) == 31


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://chinhphu.vn/", 23),
        ("https://baochinhphu.vn/" + "thu-tuong-chu-tri-" * 20 + "102241205.htm", 23),
        ("https://chinhphu.vn/chính-phủ-điện-tử", 23),  # Vietnamese letters are path characters
        ("Xem chinhphu.vn/tin-tuc", 27),  # a bare domain with a path is a link
        ("Cổng chinhphu.vn", 17),  # but a bare name.vn without a path is not: 11 characters
        ("TP.HCM", 6),  # "HCM" is no TLD
        ("ThS.BS", 6),  # name + ccTLD without a path is not linked
        ("GS.TS.BS Nguyễn Văn A", 23 + 14),  # but with a subdomain it is, as X does
        ("https://t.co/abc", 23),
    ],
)
def test_links_weigh_23(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_url_spans_are_indices_into_the_nfc_text() -> None:
    text = unicodedata.normalize("NFD", "Chi tiết: https://chinhphu.vn/a-1.htm #ChinhPhu")
    spans = url_spans(text)
    normalized = unicodedata.normalize("NFC", text)
    assert [normalized[start:end] for start, end in spans] == ["https://chinhphu.vn/a-1.htm"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("📢", 2),
        ("👍🏽", 2),  # skin tone
        ("🇻🇳", 2),  # flag
        ("👨‍👩‍👧", 2),  # ZWJ family
        ("1\ufe0f\u20e3", 2),  # keycap
        ("©", 1),  # text unless VS16 asks for the emoji, as twemoji reads it
        ("©\ufe0f", 2),
        ("❤\ufe0f", 2),
        ("😷\ufe0f", 4),  # emoji-only pictographs have no VS16 form: it counts on its own
    ],
)
def test_emoji(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_emoji_parsing_off_counts_code_points() -> None:
    assert weighted_length("👍🏽", emoji_parsing=False) == 4


@pytest.mark.timeout(10)
@pytest.mark.parametrize("run", ["a." * 2500, "ệệ." * 2000, "a-" * 2000 + ".com"])
def test_long_dotted_runs_are_weighed_quickly(run: str) -> None:
    # A flat TLD alternation took minutes here; the trie and the per-word pre-check make it fast.
    assert weighted_length(run) > X_MAX_WEIGHTED
