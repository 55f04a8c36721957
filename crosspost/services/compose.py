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
    ComposedPost,
    PlatformRules,
    PostInput,
    compose,
)
from crosspost.errors import CompositionError, NotFound
from crosspost.resources import bundled_file

RULES: dict[str, PlatformRules] = {
    "x": X_RULES,
    "facebook": FACEBOOK_RULES,
    "telegram": TELEGRAM_RULES,
    "mastodon": MASTODON_RULES,
}
"""Each platform's length rules."""

LINK_FIELD = frozenset({"facebook"})
"""Platforms whose API takes the link separately (it becomes the preview card)."""


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
) -> ComposedPost:
    """Exactly what `channel` would post for the article, with its length and limit."""
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
        return compose_post(
            templates,
            platform=found.platform,
            title=article.title,
            summary=article.summary,
            link=article.canonical_url,
            source_name=source_name,
            hashtags=found.hashtags,
            utm=found.utm,
        )
