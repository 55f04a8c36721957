"""The report as CSV and JSON (stable schemas, see `crosspost.services.report`), and as cells.

`SECTIONS` and `cell()` are shared by the terminal table and the HTML page, so both show the
same columns, formatted the same way.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import datetime
from typing import Any

from crosspost.reporting.labels import Lang, figure, number, percent
from crosspost.services.report import CSV_COLUMNS, GroupRow, Report

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("volume", ("ingested", "approved", "posts", "published_articles", "coverage")),
    (
        "timeliness",
        ("portal_median_min", "portal_p90_min", "approval_median_min", "approval_p90_min"),
    ),
    ("engagement_section", ("likes", "shares", "comments", "engagement", "engagement_per_post")),
    ("reliability", ("failed", "unconfirmed", "retried")),
)
"""The table sections (a label key) and the GroupRow fields each shows."""

ENGAGEMENT_FIELDS = frozenset(SECTIONS[2][1])


def cell(row: GroupRow, name: str, lang: Lang) -> str:
    """One figure of a row, formatted for people."""
    value = getattr(row, name)
    # Null with posts: no platform of the group gives it ("not available", never 0).
    unavailable = value is None and (name != "engagement_per_post" or row.engagement is None)
    if name in ENGAGEMENT_FIELDS and row.posts and unavailable:
        return figure(None, lang)
    if name == "coverage":
        return percent(value, lang)
    if name.endswith("_min") or name == "engagement_per_post":
        return number(value, lang, decimals=1)
    return number(value, lang)


def to_csv(report: Report) -> str:
    """One line per group, then the total; columns as CSV_COLUMNS, raw values, empty for null."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    rows = [("group", g) for g in report.groups] + [("total", report.total)]
    for scope, row in rows:
        values = dataclasses.asdict(row)
        writer.writerow([scope, *("" if values[c] is None else values[c] for c in CSV_COLUMNS[1:])])
    return out.getvalue()


def to_json(report: Report) -> str:
    """The JSON document, UTF-8 unescaped so Vietnamese stays readable."""
    return json.dumps(dataclasses.asdict(report), ensure_ascii=False, indent=2, default=_iso) + "\n"


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
