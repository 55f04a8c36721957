"""Composing posts: templates from the workspace (or the bundled defaults), per-platform rules.

An officer overrides a template by putting `templates/<platform>.txt` next to crosspost.toml.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crosspost.db.models import Article, Channel, Source
from crosspost.domain.compose import (
    FACEBOOK_RULES,
    MASTODON_RULES,
    TELEGRAM_RULES,
    X_RULES,
    ZALO_RULES,
    ZALO_TITLE_LIMIT,
    ComposedPost,
    PlatformRules,
    PostInput,
    code_points,
    compose,
)
from crosspost.domain.text import clean_line, truncate_words
from crosspost.errors import CompositionError, NotFound
from crosspost.resources import bundled_file

RULES: dict[str, PlatformRules] = {
    "x": X_RULES,
    "facebook": FACEBOOK_RULES,
    "telegram": TELEGRAM_RULES,
    "mastodon": MASTODON_RULES,
    "zalo": ZALO_RULES,
}
"""Each platform's length rules (Zalo: the article's description)."""

LINK_FIELD = frozenset({"facebook", "zalo"})
"""Platforms whose API takes the link separately (Facebook's preview card; the Zalo article's
body ends with it)."""


@dataclass(frozen=True, slots=True)
class Field:
    """One more field of a platform's post besides its text, as the preview shows it."""

    name: str
    value: str
    length: int | None = None
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Preview:
    """A channel's post for an article: the composed text and the platform's other fields."""

    text: str
    length: int
    limit: int
    platform: str
    shortened: bool
    link: str | None
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True, slots=True)
class Templates:
    """Where templates are looked for: the workspace's folder first, then the bundled one."""

    folders: tuple[Path, ...]

    @classmethod
    def for_workspace(cls, workspace: Path) -> Templates:
        return cls((workspace / "templates", bundled_file("templates")))

    def text(self, platform: str) -> str:
        for folder in self.folders:
            path = folder / f"{platform}.txt"
            if path.is_file():
                return path.read_text(encoding="utf-8")
        raise CompositionError(f"no template for {platform} in {', '.join(map(str, self.folders))}")


def compose_text(
    templates: Templates,
    *,
    platform: str,
    title: str,
    summary: str,
    link: str,
    source_name: str,
    hashtags: Sequence[str],
    utm: Mapping[str, str],
) -> tuple[str, str | None]:
    """The exact text to send and the link to send beside it (None where the text carries it)."""
    post = compose_post(
        templates,
        platform=platform,
        title=title,
        summary=summary,
        link=link,
        source_name=source_name,
        hashtags=hashtags,
        utm=utm,
    )
    from crosspost.domain.compose import with_utm

    return post.text, with_utm(link, utm) if platform in LINK_FIELD else None


def compose_post(
    templates: Templates,
    *,
    platform: str,
    title: str,
    summary: str,
    link: str,
    source_name: str,
    hashtags: Sequence[str],
    utm: Mapping[str, str],
) -> ComposedPost:
    rules = RULES.get(platform)
    if rules is None:
        raise CompositionError(f"no composition rules for platform {platform!r}")
    return compose(
        PostInput(
            title=title, summary=summary, link=link, source_name=source_name, hashtags=hashtags
        ),
        templates.text(platform),
        rules,
        utm=utm,
    )


def preview(
    factory: sessionmaker[Session], article_id: int, channel: str, templates: Templates
) -> Preview:
    """Exactly what `channel` would post for the article, with its length and limit, and the
    platform's other fields (a Zalo article's title, cover and broadcast)."""
    with factory() as session:
        row = session.execute(
            select(Article, Source.name)
            .join(Source, Source.id == Article.source_id)
            .where(Article.id == article_id)
        ).first()
        if row is None:
            raise NotFound(f"no article with id {article_id}")
        found = session.scalar(select(Channel).where(Channel.name == channel))
        if found is None:
            raise NotFound(f"no channel named {channel!r}")
        article, source_name = row
        post = compose_post(
            templates,
            platform=found.platform,
            title=article.title,
            summary=article.summary,
            link=article.canonical_url,
            source_name=source_name,
            hashtags=found.hashtags,
            utm=found.utm,
        )
        from crosspost.domain.compose import with_utm

        link = with_utm(article.canonical_url, found.utm) if found.platform in LINK_FIELD else None
        fields: tuple[Field, ...] = ()
        if found.platform == "zalo":
            title = truncate_words(clean_line(article.title), ZALO_TITLE_LIMIT)
            options = found.options
            hours = options.get("broadcast_hours") or "06:00-22:00"
            fields = (
                Field("title", title, code_points(title), ZALO_TITLE_LIMIT),
                Field(
                    "cover",
                    article.image_url
                    or options.get("cover_url")
                    or "(none: the feed gave no picture and the channel has no --cover-url)",
                ),
                Field(
                    "broadcast",
                    f"to followers, {hours} Asia/Ho_Chi_Minh" if options.get("broadcast") else "no",
                ),
            )
        return Preview(
            post.text, post.length, post.limit, post.platform, post.shortened, link, fields
        )
