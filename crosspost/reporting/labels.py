"""Words and numbers of the report, in Vietnamese (the default) or English.

Vietnamese figures group thousands with "." and use "," for decimals (1.234,5), as officers
write them in documents; English uses 1,234.5.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["vi", "en"]

_TEXT: dict[str, tuple[str, str]] = {
    "title": ("Báo cáo hiệu quả truyền thông", "Dissemination performance report"),
    "period": ("Kỳ báo cáo", "Period"),
    "days": ("Từ ngày {first} đến ngày {last}", "From {first} to {last}"),
    "timezone": ("Múi giờ", "Time zone"),
    "generated": ("Lập lúc", "Generated"),
    "by": ("Nhóm theo", "Grouped by"),
    "by.source": ("Nguồn tin", "Source portal"),
    "by.channel": ("Kênh", "Channel"),
    "by.platform": ("Nền tảng", "Platform"),
    "by.article": ("Bài viết", "Article"),
    "total": ("Tổng cộng", "Total"),
    "charts": ("Biểu đồ", "Charts"),
    "minutes": ("phút", "minutes"),
    "volume": ("Khối lượng", "Volume"),
    "timeliness": ("Độ kịp thời (phút)", "Timeliness (minutes)"),
    "engagement_section": ("Tương tác", "Engagement"),
    "reliability": ("Độ tin cậy", "Reliability"),
    "top": ("10 bài viết có tương tác cao nhất", "Top 10 articles by engagement"),
    "ingested": ("Bài thu thập", "Ingested"),
    "approved": ("Đã duyệt", "Approved"),
    "posts": ("Số bài đã đăng", "Posts published"),
    "published_articles": ("Số bài viết được đăng", "Articles posted"),
    "coverage": ("Tỷ lệ bao phủ", "Coverage"),
    "portal_median_min": ("Từ cổng TTĐT: trung vị", "Portal to post: median"),
    "portal_p90_min": ("Từ cổng TTĐT: P90", "Portal to post: p90"),
    "approval_median_min": ("Từ khi duyệt: trung vị", "Approval to post: median"),
    "approval_p90_min": ("Từ khi duyệt: P90", "Approval to post: p90"),
    "likes": ("Lượt thích", "Likes"),
    "shares": ("Lượt chia sẻ", "Shares"),
    "comments": ("Bình luận", "Comments"),
    "engagement": ("Tổng tương tác", "Engagement"),
    "engagement_per_post": ("Tương tác mỗi bài", "Engagement per post"),
    "failed": ("Đăng thất bại", "Failed"),
    "unconfirmed": ("Chưa xác nhận", "Unconfirmed"),
    "retried": ("Phải thử lại", "Retried"),
    "rank": ("Hạng", "Rank"),
    "article_title": ("Tiêu đề", "Title"),
    "source": ("Nguồn tin", "Source"),
    "chart.daily": ("Số bài đăng mỗi ngày theo nền tảng", "Posts per day by platform"),
    "chart.channels": ("Tổng tương tác theo kênh", "Engagement by channel"),
    "chart.timeliness": ("Phân bố độ kịp thời (phút)", "Timeliness distribution (minutes)"),
    "series.portal": ("Từ cổng TTĐT đến bài đăng", "Portal to first post"),
    "series.approval": ("Từ khi duyệt đến bài đăng", "Approval to first post"),
    "no_data": ("Không có dữ liệu trong kỳ này.", "No data in this period."),
    "not_available": ("không có số liệu", "not available"),
    "notes": (
        'Tương tác: số liệu mới nhất của mỗi bài đăng trong kỳ; "không có số liệu" khi nền tảng'
        " không cung cấp (Telegram: không có; Zalo: không có lượt thích, bình luận). Độ kịp thời:"
        " đến bài đăng đầu tiên. Tỷ lệ bao phủ: số bài đã duyệt trong kỳ đã được đăng ÷ số bài"
        " đã duyệt.",
        "Engagement: each post's latest figures, for posts published in the period; \"not"
        ' available" where the platform gives none (Telegram: none; Zalo: no likes or'
        " comments). Timeliness: to the first post. Coverage: articles approved in the period"
        " that were posted ÷ articles approved.",
    ),
}


def text(key: str, lang: Lang, **values: object) -> str:
    """The label `key` in `lang`, with `{placeholders}` filled in."""
    vi, en = _TEXT[key]
    return (vi if lang == "vi" else en).format(**values)


def number(value: float | int | None, lang: Lang, *, decimals: int = 0) -> str:
    """A figure for people: "-" when absent, thousands grouped, the language's decimal mark."""
    if value is None:
        return "-"
    shown = f"{value:,.{decimals}f}"
    if lang == "vi":
        shown = shown.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return shown


def figure(value: float | int | None, lang: Lang, *, decimals: int = 0) -> str:
    """An engagement figure: "not available" when the platforms cannot give it (not "-", which
    reads as zero or as nothing to count)."""
    return text("not_available", lang) if value is None else number(value, lang, decimals=decimals)


def percent(value: float | None, lang: Lang) -> str:
    """A ratio as a percentage with one decimal: 0.8333 -> "83,3%" (vi) / "83.3%" (en)."""
    return "-" if value is None else number(value * 100, lang, decimals=1) + "%"
