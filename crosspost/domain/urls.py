"""Article links: made absolute against the feed, and reduced to one canonical form for dedupe.

The hub republishes ministries' articles, and feeds decorate links with campaign parameters, so
"the same article" means "the same canonical URL": scheme and host lowercased, default port,
fragment and tracking parameters dropped, every other parameter kept in its order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import fnmatchcase
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

from crosspost.domain.text import nfc

_DEFAULT_PORTS = {"http": 80, "https": 443}
# `http:moc.gov.vn/x` and `http:/moc.gov.vn/x` (slashes lost by a portal's CMS): the first path
# segment contains a dot, so it is a host, not a path.
_MISSING_SLASHES = re.compile(r"^(https?):/?(?!/)([^/?#\s]+\.[^/?#\s]+)", re.IGNORECASE)
# Whitespace anywhere in a link is an editing accident (leading spaces on vpcp, line breaks from
# tidy); a real space in a path is always sent as %20.
_WHITESPACE = re.compile(r"\s+")
# Characters left as they are when re-quoting a path or query: the reserved set plus "%", so that
# existing escapes survive and only raw non-ASCII or spaces get encoded.
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"


def absolute_url(href: str | None, base: str) -> str | None:
    """`href` made absolute against `base` (the feed's URL); None if it is not an http(s) link."""
    if not href:
        return None
    link = _WHITESPACE.sub("", href)
    if not link:
        return None
    link = _MISSING_SLASHES.sub(r"\1://\2", link)
    link = urljoin(base, link)
    try:
        parts = urlsplit(link)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return link


def canonical_url(url: str, tracking_params: Sequence[str]) -> str:
    """The form of `url` used to recognise the same article across feeds.

    `tracking_params` are names or shell-style patterns (`utm_*`), matched case-insensitively.
    Raises ValueError for a URL that cannot be split (callers pass `absolute_url` results).
    """
    parts = urlsplit(nfc(url))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    # Built from hostname and port only: user:password@ never belongs in an article link.
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = quote(parts.path or "/", safe=_SAFE_PATH)
    query = _strip_tracking(parts.query, [p.lower() for p in tracking_params])
    return urlunsplit((scheme, netloc, path, query, ""))


def _strip_tracking(query: str, patterns: Sequence[str]) -> str:
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = unquote_plus(pair.split("=", 1)[0]).lower()
        if any(fnmatchcase(name, pattern) for pattern in patterns):
            continue
        kept.append(quote(pair, safe=_SAFE_QUERY))
    return "&".join(kept)
