"""`crosspost report`: what was published in a period, how fast, where, and with what response."""

from __future__ import annotations

import contextlib
import io
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crosspost.cli.common import console, workspace
from crosspost.errors import InvalidInput

if TYPE_CHECKING:
    from rich.console import Console

    from crosspost.reporting.labels import Lang
    from crosspost.services.report import Report


class By(StrEnum):
    # Mirrors services.report.GroupBy, which --help must not import (it pulls in SQLAlchemy).
    SOURCE = "source"
    CHANNEL = "channel"
    PLATFORM = "platform"
    ARTICLE = "article"


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    HTML = "html"


class Language(StrEnum):
    VI = "vi"
    EN = "en"


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    ctx: typer.Context,
    period: Annotated[
        str | None,
        typer.Option(
            "--period", help="2026-11-28, 2026-W48, 2026-11, 2026-Q4 or 2026 (local days)."
        ),
    ] = None,
    first: Annotated[
        str | None, typer.Option("--from", help="First day (with --to), e.g. 2026-09-01.")
    ] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
    by: Annotated[By, typer.Option("--by", help="Group the figures by.")] = By.SOURCE,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file instead of stdout.", dir_okay=False
        ),
    ] = None,
    lang: Annotated[
        Language, typer.Option("--lang", help="Labels: Vietnamese or English.")
    ] = Language.VI,
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="Zone of the days (default: the display zone)."),
    ] = None,
) -> None:
    """Report volume, timeliness, engagement and reliability for a period, grouped.

    Figures are computed by the database; JSON and CSV have stable schemas (see
    crosspost.services.report). HTML is one self-contained, printable file with charts.

    Example: crosspost report --period 2026-Q4 --by channel --format csv --output q4.csv
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from crosspost.bootstrap import utcnow
    from crosspost.domain.periods import parse_period, period_between
    from crosspost.services.report import GroupBy, build_report

    if period is not None and (first or last):
        raise InvalidInput("give either --period or --from/--to, not both")
    if period is None and not (first and last):
        raise InvalidInput("give --period (e.g. 2026-11) or both --from and --to")
    ws = workspace(ctx)
    try:
        zone = ZoneInfo(timezone) if timezone else ws.settings.zone
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a folder: OSError
        raise InvalidInput(f"unknown time zone {timezone!r} (use an IANA name)") from None
    if period is not None:
        chosen = parse_period(period, zone)
    else:
        assert first is not None
        assert last is not None
        chosen = period_between(first, last, zone)
    result = build_report(ws.factory, chosen, by=GroupBy(by.value), now=utcnow())
    _emit(result, fmt, lang.value, output)


def _emit(result: Report, fmt: Format, lang: Lang, output: Path | None) -> None:
    from crosspost.reporting.formats import to_csv, to_json
    from crosspost.reporting.html import render_html

    if fmt is Format.TABLE:
        if output is None:
            _print_tables(result, lang, console)
            return
        from rich.console import Console

        buffer = io.StringIO()
        _print_tables(result, lang, Console(file=buffer, width=160, highlight=False))
        document = buffer.getvalue()
    else:
        render = {Format.CSV: to_csv, Format.JSON: to_json}.get(fmt)
        document = render(result) if render else render_html(result, lang)
        if output is None:
            typer.echo(document, nl=False)
            return
    _write_whole(output, document)
    console.print(f"Report written to {output}.")


def _write_whole(output: Path, document: str) -> None:
    """Write `document` to `output` entirely or not at all (a failure leaves no partial file)."""
    if not output.name or output.is_dir():
        raise InvalidInput(f"cannot write {output}: it is a folder")
    part = output.with_name(f".{output.name}.{os.getpid()}.part")
    try:
        part.write_text(document, encoding="utf-8")
        part.replace(output)
    except OSError as exc:
        with contextlib.suppress(OSError):
            part.unlink()
        raise InvalidInput(f"cannot write {output}: {exc.strerror or exc}") from None


def _print_tables(result: Report, lang: Lang, out: Console) -> None:
    from crosspost.cli.common import table
    from crosspost.reporting.formats import SECTIONS, cell
    from crosspost.reporting.labels import number, text

    period = result.period
    out.print(
        f"{text('title', lang)} · {text('period', lang)} {period.label} "
        f"({period.first_day} – {period.last_day}, {period.timezone})"
    )
    group = text("by." + result.by, lang)
    labelled = [(g.label, g) for g in result.groups] + [(text("total", lang), result.total)]
    for section, names in SECTIONS:
        cells = [(label, *(cell(row, n, lang) for n in names)) for label, row in labelled]
        columns = (group, *(text(n, lang) for n in names))
        out.print(table(columns, cells, title=text(section, lang)))
    if result.top_articles:
        out.print(
            table(
                [text(k, lang) for k in ("rank", "article_title", "source", "posts", "engagement")],
                [
                    (t.rank, t.title, t.source, number(t.posts, lang), number(t.engagement, lang))
                    for t in result.top_articles
                ],
                title=text("top", lang),
            )
        )
