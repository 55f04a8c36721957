"""Text normalisation shared by ingestion, approval notes and composition."""

from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser

# C0/C1 controls (NUL included: PostgreSQL refuses it in text), direction marks and overrides
# (an RLO makes "gov.vn" read backwards), invisible zero-width characters (they defeat duplicate
# detection and fool a reader comparing two titles) and lone surrogates (not encodable). ZWJ and
# ZWNJ (U+200C/D) are kept: emoji sequences and some scripts need them.
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]"
)
_SPACES = re.compile(r"\s+")
# A terminal escape sequence (ESC [ … final byte, or ESC with one character): removed whole, so
# no "[31m" is left behind once the ESC itself goes. Also the one-byte CSI (U+009B).
_ESCAPE = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def nfc(text: str) -> str:
    """Unicode NFC: Vietnamese feeds arrive NFD or with combining tone marks from windows-1258."""
    return unicodedata.normalize("NFC", text)


def clean_line(text: str) -> str:
    """NFC, control and bidi-override characters removed, whitespace collapsed to single spaces."""
    return _SPACES.sub(" ", _CONTROL.sub("", _ESCAPE.sub("", nfc(text)))).strip()


# Elements whose content is never text a reader sees.
_HIDDEN_TAGS = frozenset({"script", "style", "noscript", "template", "head", "title", "iframe"})
# Elements that separate words: without a space "<p>Hà Nội</p><p>Huế</p>" would read "Hà NộiHuế".
_BREAKING_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "img", "li",
        "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
# A numeric character reference left in text after one round of decoding: the feed encoded it twice
# (`c&amp;#225;c`). Named ones are left alone: "&amp;lt;" may be meant literally.
_LEFTOVER_CHARREF = re.compile(r"&#(?:[xX][0-9a-fA-F]{1,6}|[0-9]{1,7});")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth += 1
        elif tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


_CHUNK_CHARS = 16_384


def html_to_text(fragment: str, *, enough: int | None = None) -> str:
    """Plain text of an HTML fragment: tags removed, entities decoded, scripts and styles dropped.

    The result is one clean line (see `clean_line`). Text that merely contains "<" is kept.
    With `enough`, reading stops once well over that many characters of text are collected (the
    caller truncates to it): a hostile feed's megabytes of markup are not all parsed for a
    summary of a thousand characters.
    """
    parser = _TextExtractor()
    collected = 0
    for start in range(0, len(fragment), _CHUNK_CHARS):
        parser.feed(fragment[start : start + _CHUNK_CHARS])
        if enough is not None:
            collected = sum(len(part) for part in parser.parts)
            # Twice the need, plus a chunk: collapsing whitespace can only shrink the text.
            if collected > 2 * enough + _CHUNK_CHARS:
                break
    parser.close()
    text = "".join(parser.parts)
    text = _LEFTOVER_CHARREF.sub(lambda m: html.unescape(m.group(0)), text)
    return clean_line(text)


def truncate_words(text: str, max_chars: int, *, ellipsis: str = "…") -> str:
    """`text` cut to at most `max_chars` characters at a word boundary, ending in `ellipsis`.

    A single word longer than the limit is cut inside the word rather than dropped.
    """
    if len(text) <= max_chars:
        return text
    room = max(0, max_chars - len(ellipsis))
    cut = text[: room + 1]
    # The character just past the room tells whether the cut falls between words.
    boundary = cut.rfind(" ")
    head = cut[:boundary] if boundary > 0 else cut[:room]
    return head.rstrip(" ,;:-–—") + ellipsis
