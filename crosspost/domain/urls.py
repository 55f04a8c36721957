"""Article links: made absolute against the feed, and reduced to one canonical form for dedupe.

The hub republishes ministries' articles, and feeds decorate links with campaign parameters, so
"the same article" means "the same canonical URL": scheme and host lowercased, default port,
fragment and tracking parameters dropped, every other parameter kept in its order.
"""

from __future__ import annotations

import ipaddress
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
# Control, direction and zero-width characters: never part of a real link, and a direction
# override in a published link would make it read as another address.
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\ud800-\udfff]"
)
# Characters left as they are when re-quoting a path or query: the reserved set plus "%", so that
# existing escapes survive and only raw non-ASCII or spaces get encoded.
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"


def absolute_url(href: str | None, base: str) -> str | None:
    """`href` made absolute against `base` (the feed's URL); None if it is not an http(s) link."""
    if not href:
        return None
    link = _INVISIBLE.sub("", _WHITESPACE.sub("", href))
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
    if "@" in parts.netloc:
        # user:password@ never belongs in a link that will be published.
        netloc = parts.netloc.rpartition("@")[2]
        link = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
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


def is_public_address(address: str) -> bool:
    """Whether an IP address (text, optionally with an IPv6 `%scope`) is on the public internet.

    Refused: private, loopback, link-local (169.254.0.0/16 holds cloud metadata services),
    unspecified (0.0.0.0, ::), multicast, reserved and shared (100.64.0.0/10) ranges, IPv6 unique
    local (fc00::/7) and site-local, and any IPv6 form that embeds an IPv4 address (mapped
    ::ffff:a.b.c.d, 6to4, Teredo, NAT64's 64:ff9b::/96) whose IPv4 part is not public.
    Text that is not an IP address is not public.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(str(embedded))
        if ip.is_site_local:
            return False
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
    )


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
