"""A post's text for one platform, from an article and an officer-edited template.

The template is plain text with the placeholders {title}, {summary}, {link}, {hashtags} and
{source}; "{{" and "}}" stand for literal braces. Nothing else is interpreted: no attribute
access, no format specs, so a template can never reach into Python objects. A line whose
placeholders all come out empty is left out ("Nguồn: {source}" with no source), and blank lines
never pile up.

The post keeps the platform's exact limit, measured the platform's way (`PlatformRules.length`).
When the full text is too long the composer gives up, in order: the end of the summary (cut at a
word, ending "…"), the summary, the end of the title. The link, the hashtags and the source are
never cut. If even one word of the title does not fit, it raises `CompositionError`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from crosspost.domain.text import clean_line
from crosspost.domain.xtext import X_MAX_WEIGHTED, url_spans, weighted_length
from crosspost.errors import CompositionError

ELLIPSIS = "…"
PLACEHOLDERS = frozenset({"title", "summary", "link", "hashtags", "source"})
"""The names a template may use."""


def code_points(text: str) -> int:
    """Length in Unicode code points after NFC (Facebook's count)."""
    return len(unicodedata.normalize("NFC", text))


@dataclass(frozen=True)
class PlatformRules:
    """How a platform measures a post and how long it may be.

    See X_RULES, FACEBOOK_RULES, TELEGRAM_RULES and MASTODON_RULES below.
    """

    name: str
    limit: int
    length: Callable[[str], int]


def utf16_units(text: str) -> int:
    """Length in UTF-16 code units after NFC: Telegram measures text (and entity offsets) in
    them, so an emoji outside the BMP counts 2; Vietnamese NFC letters are all 1."""
    return len(unicodedata.normalize("NFC", text).encode("utf-16-le")) // 2


MASTODON_URL_LENGTH = 23
"""Every http(s) URL counts this many characters on Mastodon, whatever its length."""

_REMOTE_MENTION = re.compile(r"(?<![\w@])@(\w+)@[\w.-]+\w", re.UNICODE)


def mastodon_length(text: str) -> int:
    """Mastodon's StatusLengthValidator count: grapheme clusters, each http(s) URL as 23, and a
    remote mention ``@user@domain`` as ``@user``.

    URLs are the spans `crosspost.domain.xtext.url_spans` finds (twitter-text's rules, which
    Mastodon's own URL pattern is built from) that start with ``http://`` or ``https://``:
    Mastodon does not shorten a bare ``moh.gov.vn``.
    """
    normal = unicodedata.normalize("NFC", text)
    pieces, last = [], 0
    for start, end in url_spans(normal):
        if normal[start:end].lower().startswith(("http://", "https://")):
            pieces += [normal[last:start], "x" * MASTODON_URL_LENGTH]
            last = end
    pieces.append(normal[last:])
    return grapheme_count(_REMOTE_MENTION.sub(r"@\1", "".join(pieces)))


def grapheme_count(text: str) -> int:
    """User-perceived characters, approximating Unicode extended grapheme clusters (UAX #29)
    with the standard library only.

    A character joins the cluster before it when it is a combining mark, a variation selector,
    an emoji skin-tone modifier or tag, a ZWJ, or follows a ZWJ (emoji sequences); two regional
    indicators make one flag; CR LF is one. Not modelled: Hangul syllable sequences from
    conjoining jamo, prepend characters and Indic conjuncts, which each count per code point
    here (never fewer than the real count, so a post that fits here fits on Mastodon).
    """
    count = 0
    after_zwj = False
    pending_flag = False
    previous = ""
    for char in text:
        point = ord(char)
        joins = (
            after_zwj
            or unicodedata.category(char) in ("Mn", "Me", "Mc")
            or point == 0x200D
            or 0xFE00 <= point <= 0xFE0F
            or 0xE0100 <= point <= 0xE01EF
            or 0x1F3FB <= point <= 0x1F3FF
            or 0xE0020 <= point <= 0xE007F
            or (previous == "\r" and char == "\n")
        )
        is_flag_half = 0x1F1E6 <= point <= 0x1F1FF
        if is_flag_half and pending_flag:
            joins, pending_flag = True, False
        elif is_flag_half:
            pending_flag = not joins
        else:
            pending_flag = False
        if not joins:
            count += 1
        after_zwj = point == 0x200D
        previous = char
    return count


X_RULES = PlatformRules("x", X_MAX_WEIGHTED, weighted_length)
FACEBOOK_RULES = PlatformRules("facebook", 63_206, code_points)
TELEGRAM_RULES = PlatformRules("telegram", 4096, utf16_units)
MASTODON_RULES = PlatformRules("mastodon", 500, mastodon_length)
"""Mastodon's default limit; an instance may raise it (``configuration.statuses`` of
``/api/v2/instance``)."""
ZALO_RULES = PlatformRules("zalo", 300, code_points)
"""A Zalo OA article's description (the post's text); its title has a limit of its own,
ZALO_TITLE_LIMIT (`crosspost.domain.text.truncate_words`)."""
ZALO_TITLE_LIMIT = 150


@dataclass(frozen=True)
class PostInput:
    """What a post is made of, as plain values."""

    title: str
    summary: str
    link: str
    source_name: str = ""
    hashtags: Sequence[str] = ()


@dataclass(frozen=True)
class ComposedPost:
    """The text to publish, its length by the platform's count, and whether it was shortened."""

    text: str
    length: int
    limit: int
    platform: str
    shortened: bool


def compose(
    post: PostInput,
    template: str,
    rules: PlatformRules,
    *,
    utm: Mapping[str, str] | None = None,
) -> ComposedPost:
    """The post rendered through `template`, shortened as needed to fit `rules.limit`.

    Raises CompositionError for a bad template, or when even the shortest form is too long.
    """
    lines = _parse(template)
    used = {part for line in lines for part in line if isinstance(part, _Field)}
    fixed = {
        "link": with_utm(post.link.strip(), utm or {}),
        "hashtags": " ".join(normalized_hashtags(post.hashtags)),
        "source": clean_line(post.source_name),
    }

    def render(title: str, summary: str) -> str:
        return _render(lines, {**fixed, "title": title, "summary": summary})

    def fits(text: str) -> bool:
        return rules.length(text) <= rules.limit

    title, summary = clean_line(post.title), clean_line(post.summary)
    text = render(title, summary)
    if fits(text):
        return ComposedPost(text, rules.length(text), rules.limit, rules.name, shortened=False)
    attempts: list[Callable[[], str | None]] = []
    if summary and "summary" in used:
        attempts.append(lambda: _longest(_shortenings(summary), lambda s: render(title, s), fits))
        attempts.append(lambda: render(title, ""))
    if "title" in used:
        attempts.append(lambda: _longest(_shortenings(title), lambda t: render(t, ""), fits))
    for attempt in attempts:
        candidate = attempt()
        if candidate is not None and fits(candidate):
            return ComposedPost(
                candidate, rules.length(candidate), rules.limit, rules.name, shortened=True
            )
    shortest = render((_shortenings(title) or [title])[-1], "")
    bare = render("", "")
    raise CompositionError(
        f"{rules.name}: the post does not fit even at its shortest: length "
        f"{rules.length(shortest)} > limit {rules.limit} "
        f"(link, hashtags and source alone: {rules.length(bare)})"
    )


def with_utm(link: str, utm: Mapping[str, str]) -> str:
    """`link` with the given utm_* parameters set.

    Other parameters are kept as they are. One of the same name already in the link (the
    portal's own `utm_source=rss`) is replaced, never repeated, so this is idempotent.
    """
    ours = {key: value for key, value in utm.items() if value}
    if not link or not ours:
        return link
    parts = urlsplit(link)
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and unquote_plus(pair.split("=", 1)[0]) not in ours
    ]
    # Percent-encoded: X's URL rules end a link at the first non-ASCII character of a query.
    added = [f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in ours.items()]
    return urlunsplit(parts._replace(query="&".join(kept + added)))


def normalized_hashtags(tags: Sequence[str]) -> list[str]:
    """Each tag as "#Word": one "#", inner spaces removed, empty and repeated tags dropped."""
    seen: set[str] = set()
    result: list[str] = []
    for tag in tags:
        body = "".join(clean_line(tag).lstrip("#＃").split())
        if body and body.casefold() not in seen:
            seen.add(body.casefold())
            result.append("#" + body)
    return result


def check_template(template: str) -> frozenset[str]:
    """The placeholders `template` uses; CompositionError naming the first unknown one."""
    return frozenset(part for line in _parse(template) for part in line if isinstance(part, _Field))


# --- Templates -----------------------------------------------------------------------------------


class _Field(str):
    """A placeholder's name, told apart from literal text in a parsed line."""


_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}|[{}]")
_Line = tuple[str, ...]  # literal text and _Field names, in order


def _parse(template: str) -> list[_Line]:
    lines: list[_Line] = []
    text = unicodedata.normalize("NFC", template).replace("\r\n", "\n")
    for number, raw in enumerate(text.split("\n"), start=1):
        parts: list[str] = []
        position = 0
        for token in _TOKEN.finditer(raw):
            parts.append(raw[position : token.start()])
            position = token.end()
            if token.group() in ("{{", "}}"):
                parts.append(token.group()[0])
            elif token.group(1) is None:
                raise CompositionError(f"template line {number}: unmatched {token.group()!r}")
            elif token.group(1) not in PLACEHOLDERS:
                known = ", ".join(f"{{{name}}}" for name in sorted(PLACEHOLDERS))
                raise CompositionError(
                    f"template line {number}: unknown placeholder {{{token.group(1)}}} "
                    f"(known: {known})"
                )
            else:
                parts.append(_Field(token.group(1)))
        parts.append(raw[position:])
        lines.append(tuple(parts))
    return lines


def _render(lines: list[_Line], values: Mapping[str, str]) -> str:
    out: list[str] = []
    for line in lines:
        fields = [part for part in line if isinstance(part, _Field)]
        if fields and not any(values[field] for field in fields):
            continue  # the line exists for values that are not there
        rendered = "".join(values[p] if isinstance(p, _Field) else p for p in line).rstrip()
        if rendered or (out and out[-1]):
            out.append(rendered)
    return "\n".join(out).strip("\n")


# --- Shortening ----------------------------------------------------------------------------------

_TRAILING = " ,;:.-–—(\"'“‘"


def _shortenings(text: str) -> list[str]:
    """`text` cut after each word but the last, ending "…", longest first."""
    words = text.split(" ")
    options = []
    for count in range(len(words) - 1, 0, -1):
        head = " ".join(words[:count]).rstrip(_TRAILING)
        if head:
            options.append(head + ELLIPSIS)
    return options


def _longest(
    options: list[str], render: Callable[[str], str], fits: Callable[[str], bool]
) -> str | None:
    """The render of the longest option that fits, by bisection (options are longest first).

    A longer cut never weighs less than a shorter one: words add, and a URL or an emoji never
    spans the space between two words.
    """
    low, high = 0, len(options)  # every option before `low` is known not to fit
    while low < high:
        middle = (low + high) // 2
        if fits(render(options[middle])):
            high = middle
        else:
            low = middle + 1
    return render(options[low]) if low < len(options) else None
