"""Every platform crosspost can publish to, in one table.

Adding a platform is one adapter module plus one `PlatformInfo` entry here; nothing else in
the package names platforms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crosspost.errors import NotFound
from crosspost.platforms import facebook, x
from crosspost.platforms.base import ChannelConnection, Publisher


@dataclass(frozen=True)
class PlatformInfo:
    """Facts about one platform and how to build its adapter."""

    name: str
    display_name: str
    default_api_base: str
    credential_names: tuple[str, ...]
    option_names: tuple[str, ...]
    factory: Callable[[ChannelConnection], Publisher]


PLATFORMS: dict[str, PlatformInfo] = {
    info.name: info
    for info in (
        PlatformInfo(
            name=x.PLATFORM,
            display_name="X (Twitter)",
            default_api_base=x.DEFAULT_API_BASE,
            credential_names=x.CREDENTIAL_NAMES,
            option_names=(),
            factory=x.build_x_publisher,
        ),
        PlatformInfo(
            name=facebook.PLATFORM,
            display_name="Facebook Page",
            default_api_base=facebook.DEFAULT_API_BASE,
            credential_names=facebook.CREDENTIAL_NAMES,
            option_names=("page_id", "graph_version"),
            factory=facebook.build_facebook_publisher,
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


def build_publisher(connection: ChannelConnection) -> Publisher:
    """The adapter for `connection.platform`, built from the connection."""
    return platform_info(connection.platform).factory(connection)
