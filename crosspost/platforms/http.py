"""The `requests` transport seam shared by the tweepy and facebook-sdk adapters.

Both SDKs build their own `requests.Session`, send no timeout, and hard-code the platform's
public host. `PlatformTransport` is mounted on that session and fixes all three at the one
place every request passes through:

* a default (connect, read) timeout on every request;
* the public origin (``https://api.twitter.com``, ``https://graph.facebook.com``) rewritten
  onto the channel's `api_base` (scheme, host, port and an optional path prefix), so a channel
  can talk to the sandbox or a gateway;
* failures sorted by whether the request can have reached the platform: `RequestNotSent`
  (DNS, refused, connect timeout, TLS handshake: safe to retry) versus `AnswerLost` (read
  timeout, connection dropped after sending: the platform may have acted on it).

It never retries by itself: a retried POST is how duplicates are made.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest, Response
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError


class TransportError(requests.ConnectionError):
    """A request that got no HTTP answer. Subclasses `requests.ConnectionError` so SDK code
    that expects requests' exceptions still sees one. The message names only the host."""


class RequestNotSent(TransportError):
    """The request never reached the server (no connection): nothing can have happened."""


class AnswerLost(TransportError):
    """The request was sent but no complete answer came back: it may have taken effect."""


@dataclass(frozen=True)
class LastResponse:
    """Status and headers of the last answer on this thread (facebook-sdk drops both)."""

    status: int
    headers: Mapping[str, str]


class PlatformTransport(HTTPAdapter):
    """An HTTPAdapter that adds default timeouts, redirects the public origin, sorts failures.

    `public_origins` are the scheme+host prefixes the SDK uses (``https://api.twitter.com``);
    requests to them are sent to `api_base` instead (None keeps the public host).
    `before_send` may adjust the prepared request after the redirect (e.g. move a token
    out of the URL).
    """

    def __init__(
        self,
        *,
        public_origins: Sequence[str],
        api_base: str | None,
        timeout: tuple[float, float],
        before_send: Callable[[PreparedRequest], None] | None = None,
    ) -> None:
        # max_retries=0: urllib3 must never resend a request on its own (see module docstring).
        super().__init__(max_retries=0)
        self.public_origins = tuple(origin.rstrip("/") for origin in public_origins)
        self.api_base = api_base.rstrip("/") if api_base else None
        self.default_timeout = timeout
        self.before_send = before_send
        self._local = threading.local()

    def rewrite_url(self, url: str) -> str:
        """`url` with a public origin replaced by `api_base`; other URLs are left alone."""
        if self.api_base is None:
            return url
        for origin in self.public_origins:
            if url.startswith(origin) and url[len(origin) : len(origin) + 1] in ("", "/", "?"):
                return self.api_base + url[len(origin) :]
        return url

    def last_response(self) -> LastResponse | None:
        """The last answer this thread received through this transport, if any."""
        last: LastResponse | None = getattr(self._local, "last", None)
        return last

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        """Send `request` to the rewritten URL with a timeout; sort failures (see module doc)."""
        if request.url:
            request.url = self.rewrite_url(request.url)
        if self.before_send is not None:
            self.before_send(request)
        if timeout is None:
            timeout = self.default_timeout
        self._local.last = None
        host = urlsplit(request.url or "").netloc
        try:
            response = super().send(
                request,
                stream=stream,
                timeout=timeout,
                verify=verify,
                cert=cert,
                proxies=dict(proxies) if proxies is not None else None,
            )
        except requests.ConnectTimeout as exc:
            raise RequestNotSent(f"connect timeout to {host}", request=request) from exc
        except (requests.exceptions.SSLError, requests.exceptions.ProxyError) as exc:
            raise RequestNotSent(f"no connection to {host} (TLS/proxy)", request=request) from exc
        except requests.ReadTimeout as exc:
            raise AnswerLost(f"no answer from {host} in time", request=request) from exc
        except requests.ConnectionError as exc:
            if _never_connected(exc):
                raise RequestNotSent(f"could not connect to {host}", request=request) from exc
            raise AnswerLost(f"connection to {host} dropped", request=request) from exc
        self._local.last = LastResponse(response.status_code, dict(response.headers))
        return response


def _never_connected(exc: requests.ConnectionError) -> bool:
    reason: object = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    # NewConnectionError covers refused connections and DNS failures (NameResolutionError).
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def mount_transport(
    session: requests.Session, transport: PlatformTransport, *, url: str | None = None
) -> None:
    """Route every request of `session` (http and https) through `transport`.

    The proxy and CA-bundle settings of the environment are read here, once, for the host the
    session talks to (`url`, else the transport's `api_base` or public origin), and requests is
    told not to read the environment again: it otherwise scans every environment variable on
    each call, and a worker for many channels carries hundreds (their credentials; 5 % of a
    worker's CPU in bench/dispatch.py).
    """
    session.mount("https://", transport)
    session.mount("http://", transport)
    target = url or transport.api_base or next(iter(transport.public_origins), None)
    if target:
        session.proxies.update(requests.utils.get_environ_proxies(target))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle and session.verify is True:
            session.verify = bundle
        session.trust_env = False
