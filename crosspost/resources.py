"""Where the bundled configuration lives, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_config_dir() -> Path:
    """The shipped `config/` folder: default crosspost.toml, templates and the demo feed.

    A wheel carries it as `crosspost/_bundled_config`; an editable install or a checkout reads the
    repository's own `config/` beside the package.
    """
    in_wheel = _PACKAGE_DIR / "_bundled_config"
    if in_wheel.is_dir():
        return in_wheel
    return _PACKAGE_DIR.parent / "config"


def bundled_file(*parts: str) -> Path:
    """A file inside the bundled config folder, e.g. bundled_file("templates", "x.txt")."""
    return bundled_config_dir().joinpath(*parts)
