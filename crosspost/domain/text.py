"""Text normalisation shared by ingestion, approval notes and composition."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")


def nfc(text: str) -> str:
    """Unicode NFC: Vietnamese feeds arrive NFD or with combining tone marks from windows-1258."""
    return unicodedata.normalize("NFC", text)


def clean_line(text: str) -> str:
    """NFC, control and bidi-override characters removed, whitespace collapsed to single spaces."""
    return _SPACES.sub(" ", _CONTROL.sub("", nfc(text))).strip()
