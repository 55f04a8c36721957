"""Composing posts: exact platform limits, Vietnamese text, templates officers edit."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crosspost.domain.compose import (
    FACEBOOK_RULES,
    X_RULES,
    PlatformRules,
    PostInput,
    check_template,
    code_points,
    compose,
    normalized_hashtags,
    with_utm,
)
from crosspost.domain.xtext import weighted_length
from crosspost.errors import CompositionError

TEMPLATES = Path(__file__).resolve().parents[2] / "config" / "templates"
X_TEMPLATE = (TEMPLATES / "x.txt").read_text(encoding="utf-8")
FACEBOOK_TEMPLATE = (TEMPLATES / "facebook.txt").read_text(encoding="utf-8")
WITH_SUMMARY = "{title}\n\n{summary}\n\n{link}\n{hashtags}\n"
LINK = "https://baochinhphu.vn/thu-tuong-chu-tri-phien-hop-chinh-phu-102241205.htm"
TAGS = ("ChinhPhu", "KinhTe")
SENTENCE = (
    "Thủ tướng Phạm Minh Chính chủ trì phiên họp Chính phủ thường kỳ tháng mười một bàn về "
    "tình hình kinh tế xã hội đẩy mạnh giải ngân vốn đầu tư công thúc đẩy tăng trưởng bảo đảm "
    "an sinh xã hội cải cách thủ tục hành chính chuyển đổi số quốc gia"
)
WORDS = SENTENCE.split()


def words(count: int) -> str:
    return " ".join(WORDS[i % len(WORDS)] for i in range(count))


def post(title: str, summary: str = "", **changes: object) -> PostInput:
    values: dict[str, object] = {
        "title": title,
        "summary": summary,
        "link": LINK,
        "source_name": "Báo Điện tử Chính phủ",
        "hashtags": TAGS,
    }
    values.update(changes)
    return PostInput(**values)  # type: ignore[arg-type]


def assert_intact(text: str) -> None:
    """The link and every hashtag are there whole, each a token of its own."""
    tokens = text.split()
    assert LINK in tokens
    assert "#ChinhPhu" in tokens
    assert "#KinhTe" in tokens


def test_a_post_that_fits_is_left_whole() -> None:
    result = compose(
        post("Chính phủ họp thường kỳ", "Sáng nay, Chính phủ họp."), WITH_SUMMARY, X_RULES
    )
    assert result.text == (
        f"Chính phủ họp thường kỳ\n\nSáng nay, Chính phủ họp.\n\n{LINK}\n#ChinhPhu #KinhTe"
    )
    assert not result.shortened
    assert (result.platform, result.limit) == ("x", 280)
    assert result.length == weighted_length(result.text) == 27 + 2 + 26 + 2 + 23 + 1 + 17


def test_x_counts_vietnamese_by_weight_not_characters() -> None:
    # 236 characters would leave room for the link (23) and tags; 266 weighted do not.
    title = words(52)
    assert len(title) == 236
    result = compose(post(title), X_TEMPLATE, X_RULES)
    assert result.shortened
    assert result.text.splitlines()[0].endswith("…")
    assert result.length == weighted_length(result.text) <= 280


def test_the_summary_is_cut_first_at_a_word_with_an_ellipsis() -> None:
    title = "Chính phủ họp phiên thường kỳ tháng 11"
    summary = words(60)
    result = compose(post(title, summary), WITH_SUMMARY, X_RULES)
    assert result.shortened
    assert result.length <= 280
    assert result.text.startswith(title + "\n\n")  # the title is untouched
    cut = result.text.split("\n\n")[1]
    assert cut.endswith("…")
    head = cut.removesuffix("…")
    assert summary.startswith(head + " ")  # ends where a word ended
    assert_intact(result.text)
    # The longest cut that fits: one word more would not.
    longer = summary[: summary.index(" ", len(head) + 1)] + "…"
    assert weighted_length(result.text.replace(cut, longer)) > 280


def test_the_summary_goes_when_not_even_its_first_word_fits() -> None:
    title = words(30)  # fits alone with the link and tags, with little room left
    summary = "Nghịquyết" * 10 + " số 01"
    result = compose(post(title, summary), WITH_SUMMARY, X_RULES)
    assert result.text == f"{title}\n\n{LINK}\n#ChinhPhu #KinhTe"
    assert result.shortened


def test_the_title_is_cut_last_and_the_longest_fitting_cut_is_kept() -> None:
    title = words(120)
    result = compose(post(title, words(40)), WITH_SUMMARY, X_RULES)
    first_line, rest = result.text.split("\n\n", 1)
    assert rest == f"{LINK}\n#ChinhPhu #KinhTe"  # summary dropped, link and tags whole
    head = first_line.removesuffix("…")
    assert first_line.endswith("…")
    assert title.startswith(head + " ")
    assert result.length <= 280
    one_more = title[: title.index(" ", len(head) + 1)] + "…"
    assert weighted_length(result.text.replace(first_line, one_more)) > 280


def test_trailing_punctuation_is_not_left_before_the_ellipsis() -> None:
    title = "Kết luận của Thủ tướng, " + words(150)
    rules = PlatformRules(
        "tiny", weighted_length(f"Kết luận của Thủ tướng…\n\n{LINK}"), weighted_length
    )
    result = compose(post(title, hashtags=()), X_TEMPLATE, rules)
    assert result.text.splitlines()[0] == "Kết luận của Thủ tướng…"


def test_refused_when_even_the_shortest_form_does_not_fit() -> None:
    many_tags = [f"ChuyenDoiSo{i}" for i in range(20)]
    with pytest.raises(CompositionError) as raised:
        compose(post(words(5), hashtags=many_tags), X_TEMPLATE, X_RULES)
    message = str(raised.value)
    assert "limit 280" in message
    shortest = f"Thủ…\n\n{LINK}\n" + " ".join(f"#{tag}" for tag in many_tags)
    assert f"length {weighted_length(shortest)} >" in message


def test_facebook_counts_code_points_up_to_63206() -> None:
    summary = words(15_000)  # far over the limit
    result = compose(post("Thông cáo báo chí", summary), FACEBOOK_TEMPLATE, FACEBOOK_RULES)
    assert result.shortened
    assert result.length == len(unicodedata.normalize("NFC", result.text)) <= 63_206
    assert result.length > 63_206 - 20  # cut at the last word that fits, not far before
    assert "Nguồn: Báo Điện tử Chính phủ" in result.text
    assert_intact(result.text)
    assert code_points(unicodedata.normalize("NFD", "Đổi mới")) == 7  # NFC first, as Facebook


def test_facebook_template_drops_lines_whose_values_are_missing() -> None:
    result = compose(
        post("Thông báo", "", source_name="", hashtags=()), FACEBOOK_TEMPLATE, FACEBOOK_RULES
    )
    assert result.text == f"Thông báo\n\nXem chi tiết: {LINK}"


def test_nfd_input_is_composed_and_counted_as_nfc() -> None:
    title = unicodedata.normalize("NFD", "Hội nghị về chuyển đổi số")
    result = compose(post(title, hashtags=()), X_TEMPLATE, X_RULES)
    assert result.text == f"Hội nghị về chuyển đổi số\n\n{LINK}"
    assert result.length == 31 + 2 + 23


# --- Templates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "name"),
    [
        ("{titel}\n{link}", "{titel}"),
        ("{title.__class__}", "{title.__class__}"),
        ("{title:>300}", "{title:>300}"),
        ("{0}", "{0}"),
        ("{}", "{}"),
    ],
)
def test_an_unknown_placeholder_is_named(template: str, name: str) -> None:
    with pytest.raises(CompositionError, match="unknown placeholder") as raised:
        compose(post("Tin"), template, X_RULES)
    assert name in str(raised.value)


def test_an_unmatched_brace_is_refused_with_its_line() -> None:
    with pytest.raises(CompositionError, match=r"line 2: unmatched '\{'"):
        check_template("{title}\nXem {link")


def test_doubled_braces_are_literal() -> None:
    assert check_template("{{title}} {link}") == {"link"}
    result = compose(post("Tin"), "{{Tin}} {title}\n{link}", FACEBOOK_RULES)
    assert result.text == f"{{Tin}} Tin\n{LINK}"


def test_blank_lines_left_by_empty_placeholders_collapse() -> None:
    template = "\n{title}\n\n{summary}\n\n\n{source}\n\n{link}\n\n{hashtags}\n\n"
    result = compose(post("Tin", "", source_name="", hashtags=()), template, FACEBOOK_RULES)
    assert result.text == f"Tin\n\n{LINK}"


def test_shipped_templates_use_only_known_placeholders() -> None:
    assert check_template(X_TEMPLATE) == {"title", "link", "hashtags"}
    assert check_template(FACEBOOK_TEMPLATE) == {"title", "summary", "source", "link", "hashtags"}


# --- Links and hashtags --------------------------------------------------------------------------

UTM = {"utm_source": "x", "utm_medium": "social", "utm_campaign": "tin-noi-bat"}


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (
            "https://chinhphu.vn/a.htm",
            "https://chinhphu.vn/a.htm?utm_source=x&utm_medium=social&utm_campaign=tin-noi-bat",
        ),
        (
            "https://chinhphu.vn/a.htm?id=5&page=2#binh-luan",
            "https://chinhphu.vn/a.htm?id=5&page=2"
            "&utm_source=x&utm_medium=social&utm_campaign=tin-noi-bat#binh-luan",
        ),
        (
            "https://chinhphu.vn/a.htm?utm_source=rss&id=5&utm_medium=feed",
            "https://chinhphu.vn/a.htm?id=5&utm_source=x&utm_medium=social&utm_campaign=tin-noi-bat",
        ),
    ],
)
def test_utm_parameters_are_added_once(link: str, expected: str) -> None:
    assert with_utm(link, UTM) == expected
    assert with_utm(expected, UTM) == expected  # idempotent


def test_utm_values_are_percent_encoded_and_empty_ones_skipped() -> None:
    link = with_utm("https://chinhphu.vn/a", {"utm_campaign": "chính phủ", "utm_term": ""})
    assert link == "https://chinhphu.vn/a?utm_campaign=ch%C3%ADnh%20ph%E1%BB%A7"
    assert weighted_length(link) == 23  # still one link for X


def test_compose_puts_the_utm_link_in_the_post() -> None:
    result = compose(post("Tin"), X_TEMPLATE, X_RULES, utm=UTM)
    assert f"{LINK}?utm_source=x&utm_medium=social&utm_campaign=tin-noi-bat" in result.text


def test_hashtags_are_normalised() -> None:
    tags = ["#ChinhPhu", "chinhphu", "  Kinh tế ", "", "#", "＃ĐổiMới"]
    assert normalized_hashtags(tags) == ["#ChinhPhu", "#Kinhtế", "#ĐổiMới"]


# --- Property ------------------------------------------------------------------------------------

titles = st.lists(st.sampled_from(WORDS), max_size=90)
summaries = st.lists(st.sampled_from([*WORDS, "TP.HCM", "2024", "–", "v.v.", "chinhphu.vn/a"]))


@settings(max_examples=150, deadline=None)
@given(title=titles, summary=summaries, tag_count=st.integers(0, 14))
def test_any_vietnamese_post_fits_with_link_and_tags_whole_or_is_refused(
    title: list[str], summary: list[str], tag_count: int
) -> None:
    tags = [f"ChinhPhu{i}" for i in range(tag_count)]
    article = post(" ".join(title), " ".join(summary), hashtags=tags)
    # The shortest form the composer may fall back to: one word of the title, link, tags.
    first_word = title[0] + "…" if len(title) > 1 else " ".join(title)
    shortest = "\n\n".join(filter(None, [first_word, LINK]))
    shortest += "\n" + " ".join(f"#{tag}" for tag in tags) if tags else ""
    if weighted_length(shortest) > 280:
        with pytest.raises(CompositionError, match="limit 280"):
            compose(article, WITH_SUMMARY, X_RULES)
        return
    result = compose(article, WITH_SUMMARY, X_RULES)
    assert result.length == weighted_length(result.text) <= 280
    tokens = result.text.split()
    assert LINK in tokens
    assert all(f"#{tag}" in tokens for tag in tags)
    if not result.shortened:
        assert " ".join(title) in result.text
        assert " ".join(summary) in result.text
    elif summary and " ".join(summary) not in result.text:
        assert result.text.count("…") <= 2
