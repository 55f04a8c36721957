"""The environment's proxy settings are honoured, read once when an adapter is built.

requests would otherwise rescan every environment variable on each call (a worker for many
channels has hundreds: their credentials). Each test sets real environment variables and talks
to the sandbox over HTTP.
"""

from __future__ import annotations

import pytest

from crosspost.errors import RetryLater
from crosspost.sandbox import Sandbox

from .conftest import Kit
from .test_contract import POST


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_a_proxy_from_the_environment_is_used(
    kit: Kit, sandbox: Sandbox, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")

    with pytest.raises(RetryLater):  # the proxy refuses: nothing reached the platform
        kit.publisher(sandbox).publish(POST)
    assert sandbox.requests(kit.name) == []


def test_no_proxy_exempts_the_platform_host(
    kit: Kit, sandbox: Sandbox, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    kit.publisher(sandbox).publish(POST)

    assert len(sandbox.posts(kit.name)) == 1


def test_the_environment_is_read_when_the_adapter_is_built_not_on_each_call(
    kit: Kit, sandbox: Sandbox, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    publisher = kit.publisher(sandbox)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")

    publisher.publish(POST)

    assert len(sandbox.posts(kit.name)) == 1
