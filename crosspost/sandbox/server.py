"""The sandbox HTTP server: fake X under ``/x``, fake Graph under ``/graph``, fake Telegram
Bot API under ``/telegram``, a fake Mastodon instance under ``/mastodon``, the fake Zalo OA
API (and its OAuth endpoint) under ``/zalo``, control under ``/_sandbox``.

Control API (JSON):

``GET  /_sandbox/posts[?platform=x]``     every post accepted (platform, account, text, link, …)
``GET  /_sandbox/requests[?platform=x]``  every platform call seen, oldest first
``POST /_sandbox/faults``                 inject a fault (fields of `Fault`); ``DELETE`` clears
``POST /_sandbox/revoke``                 ``{"platform": "x", "account": "<user, page, bot id>"}``
``POST /_sandbox/limits``                 ``{"x:create": [limit, window_seconds], …}``
``POST /_sandbox/clock``                  ``{"advance": seconds}``
``POST /_sandbox/zalo``                   ``{"processing_polls": n}`` (verify's -214 answers)
``POST /_sandbox/reset``                  forget everything but the accounts
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from crosspost.sandbox import graph_api, mastodon_api, telegram_api, x_api, zalo_api
from crosspost.sandbox.faults import Fault
from crosspost.sandbox.state import RequestRecord, SandboxState
from crosspost.sandbox.wire import Call, Reply, html_502, json_reply

PREFIXES: dict[str, tuple[str, Callable[[SandboxState, Call], Reply]]] = {
    "/x": (x_api.PLATFORM, x_api.handle),
    "/graph": (graph_api.PLATFORM, graph_api.handle),
    "/telegram": (telegram_api.PLATFORM, telegram_api.handle),
    "/mastodon": (mastodon_api.PLATFORM, mastodon_api.handle),
    "/zalo": (zalo_api.PLATFORM, zalo_api.handle),
}
"""Path prefix → (platform, handler). A channel's api_base is the sandbox URL plus the prefix."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Do not wait for handlers sleeping in a `delay` fault when the sandbox stops.
    block_on_close = False

    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        super().__init__(address, _Handler)
        self.state = state


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "crosspost-sandbox"
    sys_version = ""
    # Headers and body go out in two writes; with Nagle's algorithm on, every answer waited
    # ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    _methods: ClassVar[tuple[str, ...]] = ("GET", "POST", "DELETE")

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines may carry tokens in queries; the request log is the record."""

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        state = self.server.state
        if parts.path.startswith("/_sandbox/"):
            self._send(_control(state, self.command, parts.path, parts.query, body))
            return
        prefix = "/" + parts.path.split("/", 2)[1]
        if prefix not in PREFIXES:
            self._send(json_reply(404, {"error": f"no fake platform at {parts.path}"}))
            return
        platform, handler = PREFIXES[prefix]
        path = parts.path[len(prefix) :] or "/"
        headers = {k.lower(): v for k, v in self.headers.items()}
        call = Call(self.command, path, parts.query, headers, body)
        query = {k: v for k, v in parse_qsl(parts.query) if k != "access_token"}
        logged = telegram_api.redact_path(path) if platform == telegram_api.PLATFORM else path
        recorded = _loggable_body(body, headers.get("content-type", ""))
        state.log_request(
            RequestRecord(platform, self.command, logged, query, state.now(), recorded)
        )
        fault = state.take_fault(platform, self.command, path)
        if fault is not None and fault.action not in ("delay", "drop"):
            self._send(_fault_reply(state, platform, fault))
            return
        reply = handler(state, call)
        if fault is not None and fault.action == "drop":
            self.close_connection = True  # the work is done; the answer never leaves
            return
        if fault is not None and fault.action == "delay":
            time.sleep(fault.delay)
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout); nothing to do


_CREDENTIAL_FIELDS = frozenset({"access_token", "refresh_token", "client_secret", "secret_key"})
"""Form fields that are the credential itself (Graph's access_token, an OAuth refresh)."""


def _loggable_body(body: bytes, content_type: str) -> str:
    """The body for the request log: text, without the form fields that carry credentials."""
    text = body.decode("utf-8", errors="replace")
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields = parse_qsl(text, keep_blank_values=True)
        return urlencode([(k, v) for k, v in fields if k not in _CREDENTIAL_FIELDS])
    return text


def _fault_reply(state: SandboxState, platform: str, fault: Fault) -> Reply:
    if fault.action == "html_502":
        return html_502()
    if fault.action == "rate_limit":
        if platform == x_api.PLATFORM:
            return x_api.rate_limited(
                state, reset_header=fault.reset_header, reset_in=fault.reset_in
            )
        if platform == telegram_api.PLATFORM:
            return telegram_api.rate_limited(fault.reset_in)
        if platform == mastodon_api.PLATFORM:
            return mastodon_api.rate_limited(state, fault.reset_in)
        if platform == zalo_api.PLATFORM:
            return zalo_api.rate_limited()
        with state.lock():
            page_id = state.pages[0].page_id if state.pages else "0"
        return graph_api.throttled(page_id, fault.code, minutes=max(1, fault.reset_in // 60))
    body = fault.body
    if isinstance(body, str):
        headers = {"Content-Type": fault.content_type or "text/plain; charset=utf-8"}
        reply = Reply(fault.status, body.encode("utf-8"), headers)
    else:
        reply = json_reply(fault.status, body if body is not None else {})
        if fault.content_type:
            reply.headers["Content-Type"] = fault.content_type
    reply.headers.update(fault.headers)
    return reply


def _control(state: SandboxState, method: str, path: str, query: str, body: bytes) -> Reply:
    try:
        data = json.loads(body) if body else {}
        args = dict(parse_qsl(query))
        return _control_action(state, method, path.removeprefix("/_sandbox"), args, data)
    except (ValueError, TypeError, KeyError) as exc:
        return json_reply(400, {"error": str(exc)})


def _control_action(
    state: SandboxState, method: str, path: str, args: dict[str, str], data: Any
) -> Reply:
    platform = args.get("platform")
    if (method, path) == ("GET", "/posts"):
        with state.lock():
            posts = [p.as_dict() for p in state.posts if platform in (None, p.platform)]
        return json_reply(200, {"posts": posts})
    if (method, path) == ("GET", "/requests"):
        with state.lock():
            seen = [r.as_dict() for r in state.requests if platform in (None, r.platform)]
        return json_reply(200, {"requests": seen})
    if (method, path) == ("POST", "/faults"):
        fault = Fault.from_dict(data)
        with state.lock():
            state.faults.append(fault)
        return json_reply(201, fault.as_dict())
    if (method, path) == ("DELETE", "/faults"):
        with state.lock():
            state.faults.clear()
        return json_reply(200, {"faults": []})
    if (method, path) == ("POST", "/revoke"):
        revoke(state, str(data["platform"]), str(data["account"]))
        return json_reply(200, {"revoked": data["account"]})
    if (method, path) == ("POST", "/limits"):
        with state.lock():
            for key, (limit, window) in data.items():
                state.limits[str(key)] = (int(limit), float(window))
        return json_reply(200, {"limits": state.limits})
    if (method, path) == ("POST", "/clock"):
        state.advance(float(data["advance"]))
        return json_reply(200, {"now": state.now()})
    if (method, path) == ("POST", "/zalo"):
        with state.lock():
            state.zalo_processing_polls = int(data["processing_polls"])
        return json_reply(200, {"processing_polls": state.zalo_processing_polls})
    if (method, path) == ("POST", "/reset"):
        state.reset()
        return json_reply(200, {"reset": True})
    return json_reply(404, {"error": f"no control endpoint {method} {path}"})


def revoke(state: SandboxState, platform: str, account: str, *, revoked: bool = True) -> None:
    """Expire an account's token: X, Telegram and Mastodon answer 401, Graph code 190 (463),
    Zalo -216 (and its refresh token is refused).

    With revoked=False the token works again, as after the officer renewed it.
    """
    with state.lock():
        if platform == x_api.PLATFORM:
            hits: list[Any] = [a for a in state.x_accounts if account in (a.user_id, a.username)]
        elif platform == telegram_api.PLATFORM:
            hits = [b for b in state.telegram_bots if account in (b.bot_id, b.username)]
        elif platform == mastodon_api.PLATFORM:
            hits = [a for a in state.mastodon_accounts if account in (a.account_id, a.username)]
        elif platform == zalo_api.PLATFORM:
            hits = [o for o in state.zalo_oas if account in (o.oa_id, o.app_id)]
        else:
            hits = [p for p in state.pages if p.page_id == account]
        if not hits:
            raise KeyError(f"no {platform} account {account!r}")
        for hit in hits:
            hit.revoked = revoked


class ServerThread:
    """The server on a background thread; `url` is where it listens."""

    def __init__(self, host: str, port: int, state: SandboxState) -> None:
        from crosspost.domain.xtext import warm

        warm()  # X's length check compiles its expressions once, not in the first answer
        self._server = _Server((host, port), state)
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> None:
        """Start answering."""
        self._thread.start()

    def stop(self) -> None:
        """Stop answering and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Answer on the calling thread until interrupted."""
        with contextlib.suppress(KeyboardInterrupt):
            self._server.serve_forever()
        self._server.server_close()
