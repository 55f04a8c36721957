"""A corpus of broken, tricky and hostile feeds, built at test time (the big ones are megabytes).

Each `Case` says what a run of a source serving it must end in: "ok" (stored, cleaned), "fail"
(a one-line reason containing `reason`), or "either" (a lenient parser may recover something:
either outcome is acceptable, as long as what is stored is clean and nothing is half-written).
"""

from __future__ import annotations

import gzip
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tests.integration.ingest.conftest import Route

SECRET = "CANARY-7f3a9c-do-not-store"
"""Written to a local file that hostile feeds point external entities at."""


@dataclass(frozen=True)
class Ctx:
    secret_file: Path
    dtd_url: str  # a URL on the local server that no fetch must ever reach


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Ctx], Route]
    expect: Literal["ok", "fail", "either"]
    reason: str = ""
    source: dict[str, Any] = field(default_factory=dict)  # the source's own settings
    big: bool = False  # megabytes: measured for memory, run on one database only
    memory_mb: float = 40.0  # bound on the run's traced peak allocation


def item(title: str, link: str, desc: str = "", guid: str | None = None) -> str:
    guid_xml = f"<guid>{guid}</guid>" if guid is not None else ""
    return (
        f"<item><title>{title}</title><link>{link}</link>"
        f"<description>{desc}</description>{guid_xml}"
        "<pubDate>Sat, 28 Nov 2026 09:21:00 +0700</pubDate></item>"
    )


def rss(*items: str, prolog: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return (
        f'{prolog}<rss version="2.0"><channel><title>Cổng TTĐT</title>'
        f"<link>https://portal.gov.vn/</link>{''.join(items)}</channel></rss>"
    )


def _ok(text: str, content_type: str = "application/rss+xml; charset=utf-8") -> Route:
    return Route(body=text.encode("utf-8"), content_type=content_type)


def _bytes(body: bytes, content_type: str = "application/rss+xml") -> Route:
    return Route(body=body, content_type=content_type)


LINK = "https://portal.gov.vn/tin/{}.html"
BOMB = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)
PADDING = "<!--" + "p" * 70_000 + "-->"  # pushes a DOCTYPE past the prolog scan


def _xxe(ctx: Ctx) -> str:
    return f'<!DOCTYPE rss [<!ENTITY s SYSTEM "{ctx.secret_file.as_uri()}">]>'


def _vn_1258() -> bytes:
    # windows-1258 writes most tones as combining marks: decompose first, as its encoders do.
    text = rss(item("Bộ Tài chính họp báo", LINK.format(1), "Thông tin mới nhất"))
    return unicodedata.normalize("NFD", text).encode("cp1258", errors="replace")


def _deep_xml(depth: int) -> str:
    return rss(item("Sâu", LINK.format(1), "<x>" * depth + "đáy" + "</x>" * depth))


def _deep_html(depth: int) -> str:
    html = "<div>" * depth + "Nội dung" + "</div>" * depth
    return rss(item("Lồng nhau", LINK.format(1), f"<![CDATA[{html}]]>"))


def _gzip_bomb() -> Route:
    # 200 MB of zeros in ~200 kB: the size cap counts decompressed bytes.
    body = gzip.compress(b"\0" * 200_000_000, compresslevel=1)
    return Route(body=body, headers={"Content-Encoding": "gzip"})


HOSTILE_MARKUP = (
    "<script>alert(1)</script><img src=x onerror=alert(2)><iframe src='javascript:alert(3)'>"
    "</iframe><style>body{}</style><a href='javascript:alert(4)'>Tin</a> <b>chính</b>"
)


def _html_everywhere() -> str:
    esc = HOSTILE_MARKUP.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return rss(
        item(esc, LINK.format(1), f"<![CDATA[{HOSTILE_MARKUP}]]>", guid=esc),
        item("Liên kết độc", "javascript:alert(5)", "x"),
        item("Liên kết dữ liệu", "data:text/html,<script>alert(6)</script>".replace("<", "&lt;")),
        item(f"<![CDATA[{HOSTILE_MARKUP}]]>", LINK.format(2), esc),
    )


CASES: list[Case] = [
    Case("empty-body", lambda c: _bytes(b""), "fail", "empty response"),
    Case("whitespace-only", lambda c: _bytes(b" \n\t" * 1000), "fail", "empty response"),
    Case(
        "binary-noise",
        lambda c: _bytes(random.Random(6).randbytes(200_000)),
        "fail",
    ),
    Case("garbage-markup", lambda c: _ok("<rss><channel><<<>>>&&&</&>"), "fail"),
    Case(
        "truncated",
        lambda c: _ok(rss(item("Một", LINK.format(1)), item("Hai", LINK.format(2)))[:-60]),
        "either",
    ),
    Case(
        "html-instead-of-feed",
        lambda c: _ok("<!DOCTYPE html><html><body>Bảo trì</body></html>", "text/xml"),
        "fail",
        "HTML page",
    ),
    Case(
        "utf8-declared-cp1258-sent",
        lambda c: _bytes(_vn_1258(), "application/rss+xml; charset=utf-8"),
        "either",
    ),
    Case(
        "header-says-utf16-body-utf8",
        lambda c: _bytes(rss(item("Tiêu đề", LINK.format(1))).encode(), "text/xml; charset=utf-16"),
        "either",
    ),
    Case(
        "unknown-charset",
        lambda c: _bytes(
            rss(
                item("Tiêu đề", LINK.format(1)), prolog='<?xml version="1.0" encoding="x-nope"?>'
            ).encode()
        ),
        "either",
    ),
    Case(
        "utf16-bom-with-xxe",
        lambda c: _bytes(
            rss(
                item("&s;", LINK.format(1)),
                prolog='<?xml version="1.0" encoding="utf-16"?>' + _xxe(c),
            ).encode("utf-16")
        ),
        "fail",
        "entity expansion",
    ),
    Case(
        "utf7-hidden-xxe",
        lambda c: _bytes(
            rss(
                item("&s;", LINK.format(1), "&s;"),
                prolog='<?xml version="1.0" encoding="utf-7"?>' + _xxe(c),
            ).encode("utf-7")
        ),
        "either",
    ),
    Case(
        "utf7-encoded-xxe",
        # Python's encoder leaves "<" as is; a hostile one spells the DOCTYPE in base64 runs.
        lambda c: _bytes(
            (
                '<?xml version="1.0" encoding="utf-7"?>+ADw-!DOCTYPE rss +AFsAPA-!ENTITY s SYSTEM '
                f"+ACI-{c.secret_file.as_uri()}+ACIAPgBd-+AD4-"
                + rss(item("&s;", LINK.format(1), "&s;"), prolog="")
            ).encode()
        ),
        "fail",
        "entity expansion",
    ),
    Case(
        "ebcdic-xxe",
        lambda c: _bytes(
            (
                '<?xml version="1.0" encoding="cp037"?>'
                + _xxe(c)
                + rss(item("&s;", LINK.format(1), "&s;"), prolog="")
            ).encode("cp037", errors="replace")
        ),
        "fail",
        "entity expansion",
    ),
    Case(
        "billion-laughs",
        lambda c: _ok(rss(item("&lol9;", LINK.format(1)), prolog=BOMB)),
        "fail",
        "entity expansion",
    ),
    Case(
        "billion-laughs-after-padding",
        lambda c: _ok(rss(item("&lol9;", LINK.format(1)), prolog=PADDING + BOMB)),
        "either",
    ),
    Case(
        "xxe-local-file",
        lambda c: _ok(rss(item("&s;", LINK.format(1), "&s;"), prolog=_xxe(c))),
        "fail",
        "entity expansion",
    ),
    Case(
        "xxe-after-padding",
        lambda c: _ok(rss(item("&s;", LINK.format(1), "&s;"), prolog=PADDING + _xxe(c))),
        "either",
    ),
    Case(
        "external-dtd",
        lambda c: _ok(
            rss(item("&s;", LINK.format(1)), prolog=f'<!DOCTYPE rss SYSTEM "{c.dtd_url}">')
        ),
        "either",
    ),
    Case(
        "parameter-entity-to-dtd",
        lambda c: _ok(
            rss(
                item("x", LINK.format(1)),
                prolog=PADDING + f'<!DOCTYPE rss [<!ENTITY % d SYSTEM "{c.dtd_url}"> %d;]>',
            )
        ),
        "either",
    ),
    Case("html-in-every-field", lambda c: _ok(_html_everywhere()), "ok"),
    Case(
        "control-characters",
        lambda c: _bytes(
            rss(
                item("Tin\x01\x02\x07\x1b[31m đỏ\x7f", LINK.format(1), "Tóm\x0b\x0ctắt\x85")
            ).encode()
        ),
        "either",
    ),
    Case(
        "nul-bytes",
        lambda c: _bytes(
            rss(
                item(
                    "Tin\x00 nul",
                    "https://portal.gov.vn/a\x00b.html",
                    "Tóm\x00tắt",
                    guid="g\x00uid",
                )
            ).encode()
        ),
        "either",
    ),
    Case(
        "bidi-and-zero-width",
        lambda c: _ok(
            rss(
                item(
                    "\u202eBộ Tài\u200b chính\u2066\u200f\ufeff\u2060 họp\u061c báo\u202c",
                    LINK.format(1),
                    "\u200eTóm\u200b tắt\u2067\u202a",
                    guid="\u202eguid\u200b-1",
                )
            )
        ),
        "ok",
    ),
    Case(
        "surrogate-charrefs",
        lambda c: _ok(rss(item("Tin &#xD800; lẻ &#xDFFF;", LINK.format(1), "a&#xFFFE;b&#0;c"))),
        "either",
    ),
    Case(
        "unusable-links",
        lambda c: _ok(
            rss(
                item("Dài", "https://portal.gov.vn/" + "a" * 100_000, "x"),
                item("Cổng", "https://[::1/x", "x"),
                item("Tương đối", "../../../etc/passwd", "x"),
                item("Chủ", "http://user:pass@portal.gov.vn/tin/9.html", "x"),
                item("Ký tự", "https://portal.gov.vn/tin/\u202e\u200b10.html", "x"),
            )
        ),
        "ok",
    ),
    Case("huge-guid", lambda c: _ok(rss(item("G", LINK.format(1), guid="g" * 1_000_000))), "ok"),
    Case(
        "title-10mb-over-cap",
        lambda c: _ok(rss(item("Tiêu đề " * 1_300_000, LINK.format(1)))),
        "fail",
        "larger than",
        big=True,
    ),
    Case(
        "title-10mb",
        lambda c: _ok(rss(item("Tiêu đề " * 1_300_000, LINK.format(1)))),
        "ok",
        source={"max_bytes": 40_000_000},
        big=True,
        memory_mb=250,
    ),
    Case(
        "summary-8mb-of-html",
        lambda c: _ok(
            rss(
                item(
                    "Tóm tắt lớn",
                    LINK.format(1),
                    "<![CDATA[" + "<p><b>Nội</b> dung</p>" * 400_000 + "]]>",
                )
            )
        ),
        "ok",
        big=True,
        memory_mb=200,
    ),
    Case("deep-xml-nesting", lambda c: _ok(_deep_xml(50_000)), "either", big=True, memory_mb=100),
    Case("deep-html-nesting", lambda c: _ok(_deep_html(100_000)), "ok", big=True, memory_mb=100),
    Case("gzip-bomb", lambda c: _gzip_bomb(), "fail", "larger than", big=True, memory_mb=100),
]
