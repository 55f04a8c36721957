"""The Python face of the sandbox, for tests and the demo.

::

    with Sandbox.start() as sb:                  # 127.0.0.1, a free port, background thread
        connection = ChannelConnection("x", api_base=sb.x_api_base, ...)
        sb.inject("drop", platform="x", method="POST", path="/2/tweets")
        ...
        assert sb.posts("x")[0].text == "..."
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import Any

from crosspost.sandbox import server
from crosspost.sandbox.faults import Fault
from crosspost.sandbox.state import (
    GraphPage,
    MastodonAccount,
    Post,
    RequestRecord,
    SandboxState,
    TelegramBot,
    XAccount,
    ZaloOA,
)


class Sandbox:
    """A running sandbox: fake X, Graph, Telegram, Mastodon and Zalo at their `*_api_base`."""

    def __init__(self, thread: server.ServerThread, state: SandboxState) -> None:
        self._thread = thread
        self.state = state
        self.url = thread.url

    @classmethod
    def start(
        cls, host: str = "127.0.0.1", port: int = 0, *, state: SandboxState | None = None
    ) -> Sandbox:
        """Start on a background thread; port 0 picks a free port (see `url`)."""
        state = state if state is not None else SandboxState()
        thread = server.ServerThread(host, port, state)
        thread.start()
        return cls(thread, state)

    @property
    def x_api_base(self) -> str:
        """The `api_base` for an X channel talking to this sandbox."""
        return self.url + "/x"

    @property
    def graph_api_base(self) -> str:
        """The `api_base` for a Facebook channel talking to this sandbox."""
        return self.url + "/graph"

    @property
    def telegram_api_base(self) -> str:
        """The `api_base` for a Telegram channel talking to this sandbox."""
        return self.url + "/telegram"

    @property
    def mastodon_api_base(self) -> str:
        """The `api_base` (the instance) for a Mastodon channel talking to this sandbox."""
        return self.url + "/mastodon"

    @property
    def zalo_api_base(self) -> str:
        """The `api_base` for a Zalo OA channel (OA API and OAuth token endpoint)."""
        return self.url + "/zalo"

    def stop(self) -> None:
        """Stop the server and release the port."""
        self._thread.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def posts(self, platform: str | None = None, *, include_deleted: bool = True) -> list[Post]:
        """Every post accepted, oldest first (deleted ones flagged, not dropped)."""
        with self.state.lock():
            return [
                replace(p)  # a snapshot: the server threads keep changing the originals
                for p in self.state.posts
                if platform in (None, p.platform) and (include_deleted or not p.deleted)
            ]

    def requests(
        self, platform: str | None = None, *, method: str | None = None, path: str | None = None
    ) -> list[RequestRecord]:
        """Platform calls seen, oldest first; `path` matches as a substring."""
        with self.state.lock():
            return [
                r
                for r in self.state.requests
                if platform in (None, r.platform)
                and method in (None, r.method)
                and (path is None or path in r.path)
            ]

    def inject(self, action: str, **fields: Any) -> Fault:
        """Make the next matching calls misbehave (see `crosspost.sandbox.faults`)."""
        fault = Fault.from_dict({"action": action, **fields})
        with self.state.lock():
            self.state.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every pending fault."""
        with self.state.lock():
            self.state.faults.clear()

    def revoke(self, platform: str, account: str) -> None:
        """Expire the token of an account (X user id or username, or a Page id)."""
        server.revoke(self.state, platform, account)

    def restore(self, platform: str, account: str) -> None:
        """Make a revoked token work again (the officer renewed it)."""
        server.revoke(self.state, platform, account, revoked=False)

    def advance(self, seconds: float) -> None:
        """Move sandbox time forward: engagement grows, rate windows pass."""
        self.state.advance(seconds)

    def set_limit(self, key: str, limit: int, window_seconds: float) -> None:
        """Per-account limit, e.g. ``set_limit("x:create", 2, 900)``; keys in DEFAULT_LIMITS."""
        with self.state.lock():
            self.state.limits[key] = (limit, window_seconds)

    def add_x_account(self, account: XAccount) -> None:
        """Teach the sandbox another X account."""
        with self.state.lock():
            self.state.x_accounts.append(account)

    def add_page(self, page: GraphPage) -> None:
        """Teach the sandbox another Facebook Page."""
        with self.state.lock():
            self.state.pages.append(page)

    def add_telegram_bot(self, bot: TelegramBot) -> None:
        """Teach the sandbox another Telegram bot (with its channel)."""
        with self.state.lock():
            self.state.telegram_bots.append(bot)

    def add_mastodon_account(self, account: MastodonAccount) -> None:
        """Teach the sandbox another Mastodon account."""
        with self.state.lock():
            self.state.mastodon_accounts.append(account)

    def add_zalo_oa(self, oa: ZaloOA) -> None:
        """Teach the sandbox another Zalo OA (with its app and first refresh token)."""
        with self.state.lock():
            self.state.zalo_oas.append(oa)

    def set_zalo_processing(self, polls: int) -> None:
        """How many `article/verify` calls answer "being processed" before the article id."""
        with self.state.lock():
            self.state.zalo_processing_polls = polls

    def reset(self) -> None:
        """Forget posts, requests, faults, limits, clock and revocations."""
        self.state.reset()


def serve(
    host: str = "127.0.0.1", port: int = 8700, *, ready: Callable[[str], None] | None = None
) -> None:
    """Run the sandbox on the calling thread until Ctrl-C; `ready` gets the URL once bound."""
    thread = server.ServerThread(host, port, SandboxState())
    if ready is not None:
        ready(thread.url)
    thread.serve_forever()
