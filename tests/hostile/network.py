"""The two network seams the fetcher offers, as the SSRF tests drive them.

`Dns` is a scripted resolver; `Router` is httpcore's own socket backend, except that the public
address PUBLIC leads to a local server, as the internet would lead it to a portal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import httpcore

from tests.integration.ingest.conftest import FEEDS

PUBLIC = "93.184.216.34"
PORTAL = "portal.gov.test"
HUB = (FEEDS / "hub.rss").read_bytes()


class Dns:
    """A scripted resolver: each name answers from its list of answers, one per question."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.questions: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.questions.append(host)
        script = self.answers.get(host)
        if not script:
            raise OSError(f"no such host {host}")
        return script.pop(0) if len(script) > 1 else script[0]


class Router(httpcore.SyncBackend):
    """Connects as asked, except that the public address leads to the local feed server."""

    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.dialled: list[tuple[str, int]] = []

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self.dialled.append((host, port))
        if host == PUBLIC:
            host, port = "127.0.0.1", self.server_port
        return super().connect_tcp(host, port, timeout, local_address, socket_options)
