"""The HTML report in a real headless Chromium: it renders, without console errors, with charts.

Needs Debian's `chromium` (`apt-get install chromium`; .ci/run installs it). Without it the test
is skipped, saying so. The screenshot is kept in the test's tmp folder (its path is printed) so a
person can look at it.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli
from tests.e2e.test_report_cli import seeded_workspace

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (apt-get install chromium; .ci/run does)"
)
WIDTH, HEIGHT = 1280, 2000


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            # Console messages (and uncaught exceptions) go to stderr as INFO:CONSOLE lines.
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _png_rows(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, filtered scanlines) of an 8-bit RGB/RGBA PNG, checked as it is read."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    assert colour in (2, 6)
    stride = 1 + width * (3 if colour == 2 else 4)
    pixels = zlib.decompress(idat)
    assert len(pixels) == height * stride
    return width, height, [pixels[i : i + stride] for i in range(0, len(pixels), stride)]


def _no_console_messages(stderr: str) -> None:
    messages = [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert messages == []


def test_html_report_renders_with_charts_and_no_console_errors(cli: Cli, tmp_path: Path) -> None:
    seeded_workspace(cli)
    page = tmp_path / "bao-cao-2026-11.html"
    result = cli("report", "--period", "2026-11", "--format", "html", "--output", str(page))
    assert result.code == 0, result.err
    html = page.read_text(encoding="utf-8")
    # Self-contained: nothing to fetch (the only URL is the SVG namespace).
    assert (
        re.findall(r"\b(?:src|href)\s*=|url\(|@import|https?://(?!www\.w3\.org/2000/svg)", html)
        == []
    )

    dom = _chromium(tmp_path / "profile-dom", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    _no_console_messages(dom.stderr)
    assert dom.stdout.count('<svg class="chart"') == 3
    assert dom.stdout.count("<rect") > 20  # bars and legend keys, not "no data" frames
    assert "Báo cáo hiệu quả truyền thông" in dom.stdout

    shot = tmp_path / "report.png"
    rendered = _chromium(
        tmp_path / "profile-shot",
        f"--screenshot={shot}",
        f"--window-size={WIDTH},{HEIGHT}",
        page.as_uri(),
    )
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    _no_console_messages(rendered.stderr)
    print(f"screenshot: {shot}")
    width, height, rows = _png_rows(shot.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    # A blank page filters to a handful of identical scanlines; text, tables and bars do not.
    assert len(set(rows)) > HEIGHT // 4
    assert len(set(b"".join(rows[::50]))) > 64


def test_the_console_check_does_catch_errors(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<script>undefinedFunction()</script>", encoding="utf-8")
    result = _chromium(tmp_path / "profile", "--dump-dom", page.as_uri())
    with pytest.raises(AssertionError):
        _no_console_messages(result.stderr)
