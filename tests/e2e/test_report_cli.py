"""`crosspost report` as a user runs it: formats, stable CSV/JSON schemas, one-line errors.

The figures themselves are checked in tests/integration/test_report.py; here the same fixture is
written into the workspace's SQLite database and only the shapes and a few totals are checked.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from crosspost.bootstrap import open_workspace
from tests.e2e.conftest import Cli
from tests.integration.test_report import seed

CSV_HEADER = (
    "scope,key,label,ingested,approved,posts,published_articles,coverage,portal_median_min,"
    "portal_p90_min,approval_median_min,approval_p90_min,likes,shares,comments,engagement,"
    "engagement_per_post,failed,unconfirmed,retried"
)
ROW_KEYS = [*CSV_HEADER.split(",")[1:], "metrics"]


def seeded_workspace(cli: Cli) -> Cli:
    """A fresh workspace holding the integration tests' November 2026 fixture."""
    assert cli("init").code == 0
    workspace = open_workspace(None)
    seed(workspace.factory)
    workspace.close()
    return cli


@pytest.fixture
def officer(cli: Cli) -> Cli:
    return seeded_workspace(cli)


def test_csv_header_and_rows_are_stable(officer: Cli) -> None:
    result = officer("report", "--period", "2026-Q4", "--by", "channel", "--format", "csv")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == CSV_HEADER
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert [(r["scope"], r["key"]) for r in rows] == [
        ("group", "gov-fb"),
        ("group", "gov-x"),
        ("group", "gov-x2"),
        ("total", ""),
    ]
    assert rows[1]["ingested"] == ""  # not attributable to a channel
    assert (rows[-1]["posts"], rows[-1]["approved"], rows[-1]["coverage"]) == ("8", "8", "0.875")


def test_csv_to_a_file(officer: Cli, workspace_dir: Path) -> None:
    result = officer("report", "--period", "2026-11", "--format", "csv", "--output", "nov.csv")
    assert result.code == 0, result.err
    assert "nov.csv" in result.out
    text = (workspace_dir / "nov.csv").read_text(encoding="utf-8")
    assert text.startswith(CSV_HEADER + "\n")
    assert text.splitlines()[-1].startswith("total,,,8,6,7,6,0.8333,80.0,108.0,45.0,80.0,")


def test_json_schema_is_stable(officer: Cli) -> None:
    result = officer("report", "--period", "2026-11", "--by", "article", "--format", "json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert list(doc) == [
        "schema", "generated_at", "period", "by", "total", "groups", "top_articles",
        "posts_per_day", "engagement_by_channel", "timeliness_histogram",
    ]  # fmt: skip
    assert doc["schema"] == "crosspost.report/2"
    assert doc["period"] == {
        "label": "2026-11",
        "first_day": "2026-11-01",
        "last_day": "2026-11-30",
        "timezone": "Asia/Ho_Chi_Minh",
        "start": "2026-10-31T17:00:00+00:00",
        "end": "2026-11-30T17:00:00+00:00",
    }
    assert doc["by"] == "article"
    for row in [doc["total"], *doc["groups"]]:
        assert list(row) == ROW_KEYS
    assert doc["groups"][0]["label"] == "Bài 1"
    assert list(doc["top_articles"][0]) == [
        "rank", "article_id", "title", "source", "posts", "engagement",
    ]  # fmt: skip
    assert list(doc["posts_per_day"][0]) == ["day", "platform", "posts"]
    assert list(doc["engagement_by_channel"][0]) == ["channel", "engagement"]
    assert list(doc["timeliness_histogram"][0]) == [
        "from_minutes", "to_minutes", "portal", "approval",
    ]  # fmt: skip


def test_table_in_vietnamese_by_default_and_english_on_request(officer: Cli) -> None:
    vi = officer("report", "--period", "2026-11")
    assert vi.code == 0, vi.err
    for label in ("Báo cáo hiệu quả truyền thông", "Số bài đã đăng", "Độ kịp thời (phút)"):
        assert label in vi.out
    assert "83,3%" in vi.out  # Vietnamese decimal comma
    en = officer("report", "--from", "2026-11-01", "--to", "2026-11-30", "--lang", "en")
    assert en.code == 0, en.err
    assert "Posts published" in en.out
    assert "83.3%" in en.out


def test_html_goes_to_stdout_without_output(officer: Cli) -> None:
    result = officer("report", "--period", "2026-11-30", "--format", "html", "--lang", "en")
    assert result.code == 0, result.err
    assert result.out.startswith("<!DOCTYPE html>")
    assert result.out.count('<svg class="chart"') == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--period", "2026-13"), "period '2026-13' does not exist"),
        (("--period", "tháng 11"), "not understood"),
        (("--period", "2025-W53"), "does not exist"),
        (("--from", "2026-11-30", "--to", "2026-11-01"), "--to 2026-11-01 is before --from"),
        (("--period", "2026-11", "--from", "2026-11-01"), "either --period or --from/--to"),
        ((), "give --period"),
        (("--period", "2026", "--timezone", "Mars/Olympus"), "unknown time zone"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    officer: Cli, args: tuple[str, ...], message: str
) -> None:
    result = officer("report", *args)
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("error: ")
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_an_unknown_grouping_is_a_usage_error(officer: Cli) -> None:
    assert officer("report", "--period", "2026", "--by", "ministry").code == 2
