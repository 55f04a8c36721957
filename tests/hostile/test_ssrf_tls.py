"""Pinning the address keeps TLS on the name: the certificate is checked for the host name.

A local HTTPS server holds a certificate for portal.gov.test only (no IP address in it), signed
by a throw-away CA made with the openssl command. The router sends the public address to it.
If the fetcher verified against the address it connected to, the first test would fail; if it
did not verify at all, the second would pass.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crosspost.errors import FeedError
from crosspost.feeds import FeedFetcher
from crosspost.settings import IngestSettings
from tests.hostile.network import HUB, PORTAL, PUBLIC, Dns, Router

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def _openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(folder, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=crosspost test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign")  # fmt: skip
    _openssl(folder, "req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj",
             f"/CN={PORTAL}")  # fmt: skip
    (folder / "ext.cnf").write_text(f"subjectAltName=DNS:{PORTAL}\n")
    _openssl(folder, "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "leaf.pem", "-days", "2",
             "-extfile", "ext.cnf")  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def https_port(certificates: Path) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(HUB)))
            self.end_headers()
            self.wfile.write(HUB)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "leaf.pem", certificates / "leaf.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _fetch(certificates: Path, port: int, url: str) -> Any:
    trust = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    dns = Dns({PORTAL: [[PUBLIC]], "other.gov.test": [[PUBLIC]]})
    router = Router(port)
    with FeedFetcher(IngestSettings(), resolver=dns, network=router, ssl_context=trust) as fetcher:
        result = fetcher.fetch(url, etag=None, last_modified=None, timeout=5, max_bytes=10**6)
    assert router.dialled == [(PUBLIC, 443)]
    return result


def test_https_verifies_the_certificate_for_the_host_name(
    certificates: Path, https_port: int
) -> None:
    result = _fetch(certificates, https_port, f"https://{PORTAL}/feed.rss")
    assert result.feed is not None
    assert len(result.feed.entries) > 0


def test_a_certificate_for_another_name_is_refused(certificates: Path, https_port: int) -> None:
    with pytest.raises(FeedError, match=r"^cannot connect: .*certificate"):
        _fetch(certificates, https_port, "https://other.gov.test/feed.rss")
