"""Every command of the Typer app, and for each of its parameters what a bad value looks like.

Commands are enumerated from the app itself, so a new command is fuzzed without being listed.
A parameter is classified by its name (and, where one name means two things, by command): the
classification says which values are certainly wrong for it ("hostile") and what a plausible
value is, so that an invocation can be built with exactly one wrong value among right ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import typer.main
from hypothesis import strategies as st

from crosspost.cli.main import app

NOT_RUN: dict[str, str] = {
    "demo": "runs the whole product with a sandbox server and a worker (minutes, tested in e2e)",
    "sandbox serve": "serves HTTP until stopped; a valid --port would block the test",
    "worker": "runs an RQ worker until stopped; a valid --name would block the test",
}
"""Commands whose parameter values are not fuzzed (their unknown options still are), and why."""

READ_ONLY = frozenset(
    {
        "sources list", "articles list", "articles show", "audit list", "audit verify",
        "channels list", "deliveries list", "preview", "report", "status", "db current",
    }
)  # fmt: skip
"""Commands that may succeed on a fuzzed value (a filter that matches nothing is not an error)."""


@dataclass(frozen=True)
class Param:
    name: str
    opt: str | None  # "--status"; None for an argument
    flag: bool
    required: bool
    multiple: bool
    kind: str


@dataclass(frozen=True)
class Command:
    path: str
    params: tuple[Param, ...]


def commands() -> list[Command]:
    """Every leaf command of the app, by its path ("articles approve")."""
    found: list[Command] = []

    def walk(cmd: Any, path: str) -> None:
        children = getattr(cmd, "commands", None)
        if children is None:
            params = tuple(_param(path, p) for p in cmd.params if p.name != "help")
            found.append(Command(path, params))
            return
        for name, child in children.items():
            walk(child, f"{path} {name}".strip())

    walk(typer.main.get_command(app), "")
    return found


def _param(path: str, p: Any) -> Param:
    opt = None if p.param_type_name == "argument" else p.opts[0]
    return Param(
        name=p.name,
        opt=opt,
        flag=bool(getattr(p, "is_flag", False)),
        required=bool(p.required),
        multiple=bool(p.multiple or p.nargs == -1),
        kind=KIND_BY_COMMAND.get((path, p.name)) or KIND.get(p.name, "free"),
    )


KIND = {
    "article_id": "id", "ids": "id", "delivery": "id", "article": "id", "target": "id",
    "name": "name", "source": "name", "channel": "name", "channels": "names", "url": "url",
    "platform": "platform", "timezone": "zone", "at": "date", "period": "period",
    "first": "date", "last": "date", "status": "status", "limit": "count", "offset": "count",
    "interval": "count", "timeout": "seconds", "max_bytes": "count", "verify_timeout": "seconds",
    "refresh_days": "count", "slots": "slots", "min_gap": "gap", "fmt": "choice",
    "lang": "choice", "output": "path", "auto_schedule": "names", "broadcast_hours": "slots",
}  # fmt: skip
KIND_BY_COMMAND = {
    ("report", "by"): "choice",
    # Sources named here need not exist yet (they may be added later): any name is right.
    ("channels add", "auto_schedule"): "free",
    ("sources add", "name"): "new-name",
    ("channels add", "name"): "new-name",
}
"""Everything else (--by as a person, --note, --reason, --hashtag, …) is free text: any value is
acceptable, so it is filled with arbitrary text but never counted as the wrong value."""

PLAUSIBLE = {
    "id": "1", "name": "hub", "names": "gov-x", "url": "https://portal.gov.vn/rss/new.rss",
    "new-name": "fresh", "platform": "x", "zone": "Asia/Ho_Chi_Minh", "date": "2026-12-01 09:30",
    "period": "2026-11",
    "status": "pending", "count": "5", "seconds": "10", "slots": "07:30,19:00", "gap": "20m",
    "choice": "channel", "path": "out.csv",
}  # fmt: skip
PLAUSIBLE_BY_COMMAND = {
    ("schedule", "target"): "2",  # approved, not yet scheduled anywhere
    ("schedule", "channels"): "gov-fb",
    ("channels check", "name"): "gov-x",
    ("preview", "channel"): "gov-x",
    ("deliveries list", "channel"): "gov-x",
    ("metrics collect", "channel"): "gov-x",
    ("report", "fmt"): "csv",
    ("report", "lang"): "en",
}

# "§" is valid in no id, name, date, zone, period, platform, status, number or slot: a value
# carrying it is wrong whatever else hypothesis put around it.
_MARKED = st.text(max_size=20).map(lambda t: t + "§")
_NUMBERS = ["-1", "abc", "1.5", "1e3", "NaN", "inf", "-inf", "99999999999999999999999", ""]
_COMMON = ["", " ", "\x00", "\u202e", "'; DROP TABLE articles;--", "%s%n", "{0}", "x" * 5000]
HOSTILE: dict[str, list[str]] = {
    "id": ["0", "-1", "999999", "abc", "1.0", "1e3", "99999999999999999999999", "0x1"],
    "name": ["NOPE", "no such", "ghost", "../hub", "hub\x00", "h" * 300],
    # A name to create: only ones that break the naming rule, or one that is taken.
    "new-name": ["NOPE", "no such", "../hub", "hub\x00", "h" * 300, "-x", "hub", "gov-x"],
    "names": ["ghost", ",,,", "gov-x,ghost", "all,ghost", " , "],
    "url": ["ftp://portal.gov.vn/rss", "file:///etc/passwd", "http://", "portal.gov.vn/rss",
            "javascript:alert(1)", "http://[::1/x", "http://a b.vn/x", "//portal.gov.vn/rss"],
    "platform": ["myspace", "X ", "twitter", "zalo ", "FACEBOOK!"],
    "zone": ["Mars/Olympus", "UTC+25", "../../etc/localtime", "Asia/Ho Chi Minh", "/etc/passwd",
             "Asia", "America/", "z" * 300],
    "date": ["2026-02-30 09:30", "2026-13-01", "24:61", "tomorrow", "2026-12-01 25:00",
             "99999-01-01", "0000-00-00", "2026-12-01T09:30+99:00", "1e10"],
    "period": ["2026-13", "2026-Q5", "2026-W54", "Q4", "20260", "2026-11-31", "-2026", "0"],
    "status": ["nope", "PENDING!", "sent"],
    "count": _NUMBERS,
    "seconds": ["-1", "0", "abc", "NaN", "inf", "1e400", "601"],
    "slots": ["25:00", "7h", "07:30,,", "07:60", "-1:00", "07:30-19:00"],
    "gap": ["-5m", "forever", "5x", "1e999h", "m"],
    "choice": ["ministry", "pdf", "vi-VN!", "xx"],
    "path": ["/nonexistent-dir/x.csv", "/", ".", "", "/proc/version/x.csv"],
}  # fmt: skip


def hostile(kind: str) -> st.SearchStrategy[str]:
    """A value certainly wrong for a parameter of `kind`."""
    if kind == "path":
        return st.sampled_from(HOSTILE[kind])  # most strings are legal file names
    curated = st.sampled_from(HOSTILE[kind] + _COMMON)
    if kind == "url":
        return curated  # "§" can be a legal character in a URL
    return st.one_of(curated, _MARKED)


def plausible(path: str, param: Param) -> str:
    return PLAUSIBLE_BY_COMMAND.get((path, param.name)) or PLAUSIBLE.get(param.kind, "fuzz")


FREE_TEXT = st.text(max_size=40)
