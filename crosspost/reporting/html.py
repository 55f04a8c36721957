"""The report as one self-contained HTML page: inline CSS and SVG charts, no script, no fetches.

Readable offline, and printable on A4 (government offices print reports): print CSS sets the
page size and margins, keeps charts and table rows whole, and prints the bar colours.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from html import escape
from zoneinfo import ZoneInfo

from crosspost.reporting import svg
from crosspost.reporting.formats import SECTIONS, cell
from crosspost.reporting.labels import Lang, figure, number, percent, text
from crosspost.services.report import GroupRow, Report

_CSS = """
:root { color: #1d2733; font-family: "Segoe UI", "Noto Sans", Roboto, Arial, sans-serif; }
body { margin: 0; background: #fff; font-size: 15px; line-height: 1.45; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 40px; }
h1 { font-size: 26px; margin: 0 0 4px; color: #12355b; }
h2 { font-size: 18px; margin: 28px 0 8px; color: #12355b; border-bottom: 2px solid #12355b;
     padding-bottom: 3px; }
.meta { margin: 0; color: #4a5663; }
.cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px; margin-top: 18px; }
.card { border: 1px solid #c9d3de; border-left: 5px solid #1f5fa8; padding: 8px 12px; }
.card b { display: block; font-size: 24px; color: #12355b; }
.card span { color: #4a5663; font-size: 13px; }
figure { margin: 14px 0; border: 1px solid #dde3ea; padding: 8px 10px 4px; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { display: block; font-family: inherit; fill: #1d2733; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 14px; }
th, td { border: 1px solid #c9d3de; padding: 4px 7px; text-align: right; vertical-align: top; }
th { background: #eaf0f6; font-weight: 600; }
th:first-child, td:first-child { text-align: left; }
td.text { text-align: left; }
tbody tr:nth-child(even) { background: #f6f8fa; }
tr.total td { font-weight: 700; background: #eaf0f6; }
.notes { margin-top: 26px; color: #4a5663; font-size: 13px; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  figure, .cards, tr { break-inside: avoid; }
  thead { display: table-header-group; }
  table { font-size: 9pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def render_html(report: Report, lang: Lang) -> str:
    """The whole page."""
    zone = ZoneInfo(report.period.timezone)
    first, last = (date.fromisoformat(d) for d in (report.period.first_day, report.period.last_day))
    title = text("title", lang)
    meta = " · ".join(
        [
            f"{text('period', lang)}: {escape(report.period.label)}",
            text("days", lang, first=_day(first, lang), last=_day(last, lang)),
            f"{text('by', lang)}: {text('by.' + report.by, lang)}",
            f"{text('timezone', lang)}: {escape(report.period.timezone)}",
            f"{text('generated', lang)}: "
            + report.generated_at.astimezone(zone).strftime("%d/%m/%Y %H:%M"),
        ]
    )
    body = [
        f'<header><h1>{escape(title)}</h1><p class="meta">{meta}</p></header>',
        _cards(report.total, lang),
        f"<h2>{escape(text('charts', lang))}</h2>",
        _figure(text("chart.daily", lang), _daily_chart(report, first, last, lang)),
        _figure(text("chart.channels", lang), _channel_chart(report, lang)),
        _figure(text("chart.timeliness", lang), _timeliness_chart(report, lang)),
    ]
    for section, names in SECTIONS:
        body.append(f"<h2>{escape(text(section, lang))}</h2>")
        body.append(_group_table(report, names, lang))
    body.append(f"<h2>{escape(text('top', lang))}</h2>")
    body.append(_top_table(report, lang))
    body.append(f'<p class="notes">{escape(text("notes", lang))}</p>')
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} – {escape(report.period.label)}</title>"
        f"<style>{_CSS}</style></head>\n<body><main>\n"
        + "\n".join(body)
        + "\n</main></body></html>\n"
    )


def _day(value: date, lang: Lang) -> str:
    return value.strftime("%d/%m/%Y") if lang == "vi" else value.isoformat()


def _cards(total: GroupRow, lang: Lang) -> str:
    cards = [
        (number(total.posts, lang), text("posts", lang)),
        (number(total.published_articles, lang), text("published_articles", lang)),
        (percent(total.coverage, lang), text("coverage", lang)),
        (
            number(total.portal_median_min, lang, decimals=1),
            f"{text('portal_median_min', lang)} ({text('minutes', lang)})",
        ),
        (cell(total, "engagement", lang), text("engagement", lang)),
        (cell(total, "engagement_per_post", lang), text("engagement_per_post", lang)),
    ]
    inner = "".join(f'<div class="card"><b>{v}</b><span>{escape(k)}</span></div>' for v, k in cards)
    return f'<section class="cards">{inner}</section>'


def _figure(caption: str, chart: str) -> str:
    return f"<figure><figcaption>{escape(caption)}</figcaption>{chart}</figure>"


def _daily_chart(report: Report, first: date, last: date, lang: Lang) -> str:
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    index = {d.isoformat(): i for i, d in enumerate(days)}
    platforms = sorted({p.platform for p in report.posts_per_day})
    counts = {p: [0] * len(days) for p in platforms}
    for point in report.posts_per_day:
        counts[point.platform][index[point.day]] += point.posts
    every = math.ceil(len(days) / 12)
    # Over two months, label the first of each month: evenly spaced ticks land on odd dates.
    marked = [d.day == 1 if len(days) > 62 else i % every == 0 for i, d in enumerate(days)]
    ticks = [
        (d.strftime("%d/%m") if lang == "vi" else d.strftime("%m-%d")) if mark else ""
        for d, mark in zip(days, marked, strict=True)
    ]
    return svg.stacked_columns(
        [_day(d, lang) for d in days],
        ticks,
        [(p, counts[p]) for p in platforms],
        title=text("chart.daily", lang),
        empty=text("no_data", lang),
    )


def _channel_chart(report: Report, lang: Lang) -> str:
    items = [
        (c.channel, c.engagement or 0, figure(c.engagement, lang))
        for c in report.engagement_by_channel
    ]
    return svg.horizontal_bars(
        items, title=text("chart.channels", lang), empty=text("no_data", lang)
    )


def _timeliness_chart(report: Report, lang: Lang) -> str:
    bins = report.timeliness_histogram
    names = [
        f"< {b.to_minutes}" if b.from_minutes == 0 else
        f"≥ {b.from_minutes}" if b.to_minutes is None else f"{b.from_minutes}–{b.to_minutes}"
        for b in bins
    ]  # fmt: skip
    return svg.grouped_columns(
        names,
        [
            (text("series.portal", lang), [b.portal for b in bins]),
            (text("series.approval", lang), [b.approval for b in bins]),
        ],
        title=text("chart.timeliness", lang),
        empty=text("no_data", lang),
    )


def _group_table(report: Report, names: tuple[str, ...], lang: Lang) -> str:
    head = "".join(f"<th>{escape(text(n, lang))}</th>" for n in names)
    rows = [(g, "") for g in report.groups] + [(report.total, ' class="total"')]
    body = "".join(
        f"<tr{css}><td>{escape(row.label if css == '' else text('total', lang))}</td>"
        + "".join(f"<td>{cell(row, n, lang)}</td>" for n in names)
        + "</tr>"
        for row, css in rows
    )
    by = escape(text("by." + report.by, lang))
    return f"<table><thead><tr><th>{by}</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def _top_table(report: Report, lang: Lang) -> str:
    if not report.top_articles:
        return f"<p>{escape(text('no_data', lang))}</p>"
    head = "".join(
        f"<th>{escape(text(k, lang))}</th>"
        for k in ("rank", "article_title", "source", "posts", "engagement")
    )
    body = "".join(
        f'<tr><td>{t.rank}</td><td class="text">{escape(t.title)}</td>'
        f'<td class="text">{escape(t.source)}</td><td>{number(t.posts, lang)}</td>'
        f"<td>{number(t.engagement, lang)}</td></tr>"
        for t in report.top_articles
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
