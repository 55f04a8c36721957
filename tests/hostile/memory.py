"""Peak memory of a block of code, as the operating system sees it (resident set size).

tracemalloc slows a parser down tenfold on megabyte documents; the kernel's high-water mark
costs nothing. On Linux, writing 5 to /proc/self/clear_refs resets it to the current size, so
the peak after the block minus the size before is what the block added at its worst.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

_STATUS = Path("/proc/self/status")


def _kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    assert match is not None, f"no {field} in {_STATUS}"
    return int(match.group(1))


def _trim() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc; elsewhere the reading is only looser


class Peak:
    megabytes: float = 0.0


@contextmanager
def peak_rss() -> Iterator[Peak]:
    """`with peak_rss() as peak: ...` then `peak.megabytes` is the growth at the worst moment."""
    if not sys.platform.startswith("linux"):
        pytest.skip("peak memory is read from Linux's /proc/self/status")
    gc.collect()
    _trim()  # memory freed by earlier tests, kept by malloc, would hide this block's growth
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError as exc:
        pytest.skip(f"cannot reset the peak RSS (/proc/self/clear_refs): {exc}")
    before = _kib("VmRSS")
    peak = Peak()
    yield peak
    peak.megabytes = (_kib("VmHWM") - before) / 1024
