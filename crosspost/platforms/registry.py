"""Every platform crosspost can publish to, in one table.

Adding a platform is one adapter module plus one `PlatformInfo` entry here; nothing else in
the package names platforms. The adapter modules (and their SDKs) are imported only when an
adapter is built, so listing channels or showing help does not pay for tweepy and facebook-sdk.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from crosspost.errors import NotFound
from crosspost.platforms.base import ChannelConnection, Publisher


@dataclass(frozen=True)
class PlatformInfo:
    """Facts about one platform and where its adapter factory lives."""

    name: str
    display_name: str
    default_api_base: str
    credential_names: tuple[str, ...]
    option_names: tuple[str, ...]
    adapter: str
    """`module:function` building the adapter from a ChannelConnection."""
    rotating_tokens: bool = False
    """The platform issues single-use refresh tokens: its channels need a `TokenStore`."""
    engagement: frozenset[str] = frozenset({"likes", "shares", "comments"})
    """Which of likes, shares and comments the platform can tell about a post; reports say
    "not available" (not zero) for the others."""

    def build(self, connection: ChannelConnection) -> Publisher:
        module_name, _, function = self.adapter.partition(":")
        factory = getattr(importlib.import_module(module_name), function)
        publisher: Publisher = factory(connection)
        return publisher


PLATFORMS: dict[str, PlatformInfo] = {
    info.name: info
    for info in (
        PlatformInfo(
            name="x",
            display_name="X (Twitter)",
            default_api_base="https://api.x.com",
            credential_names=(
                "consumer_key",
                "consumer_secret",
                "access_token",
                "access_token_secret",
            ),
            option_names=(),
            adapter="crosspost.platforms.x:build_x_publisher",
        ),
        PlatformInfo(
            name="facebook",
            display_name="Facebook Page",
            default_api_base="https://graph.facebook.com",
            credential_names=("page_access_token",),
            option_names=("page_id", "graph_version"),
            adapter="crosspost.platforms.facebook:build_facebook_publisher",
        ),
        PlatformInfo(
            name="telegram",
            display_name="Telegram channel",
            default_api_base="https://api.telegram.org",
            credential_names=("bot_token",),
            option_names=("chat",),
            adapter="crosspost.platforms.telegram:build_telegram_publisher",
            # Bots read neither views nor reactions of a channel's messages.
            engagement=frozenset(),
        ),
        PlatformInfo(
            name="mastodon",
            display_name="Mastodon",
            # Every instance is its own host: a channel must name it with api_base.
            default_api_base="",
            credential_names=("access_token",),
            option_names=("language",),
            adapter="crosspost.platforms.mastodon:build_mastodon_publisher",
        ),
        PlatformInfo(
            name="zalo",
            display_name="Zalo Official Account",
            default_api_base="https://openapi.zalo.me",
            credential_names=("app_secret", "refresh_token"),
            option_names=(
                "oa_id",
                "app_id",
                "cover_url",
                "broadcast",
                "broadcast_hours",
                "verify_timeout",
                "refresh_days",
            ),
            adapter="crosspost.platforms.zalo:build_zalo_publisher",
            rotating_tokens=True,
            # An OA article has views and shares; Zalo gives no likes or comments for it.
            engagement=frozenset({"shares"}),
        ),
    )
}
"""Platform name → facts and adapter factory."""


def platform_info(name: str) -> PlatformInfo:
    """The facts for `name`; NotFound lists the platforms that exist."""
    try:
        return PLATFORMS[name]
    except KeyError:
        known = ", ".join(sorted(PLATFORMS))
        raise NotFound(f"unknown platform {name!r} (known: {known})") from None


ENGAGEMENT_METRICS = ("likes", "shares", "comments")
"""The figures whose sum is a post's engagement."""


def gives_engagement(platform: str, metric: str | None = None) -> bool:
    """Whether `platform` can tell `metric` of a post (any engagement figure when None). A
    figure it cannot give is "not available", never 0; an unknown platform is assumed to."""
    info = PLATFORMS.get(platform)
    given = info.engagement if info is not None else frozenset(ENGAGEMENT_METRICS)
    return bool(given) if metric is None else metric in given


def build_publisher(connection: ChannelConnection) -> Publisher:
    """The adapter for `connection.platform`, built from the connection."""
    return platform_info(connection.platform).build(connection)
