"""Hostile feeds are served by the ingest tests' local feed server, and the CLI is run as the
end-to-end tests run it; their fixtures are shared."""

from __future__ import annotations

from tests.e2e.conftest import cli, workspace_dir  # noqa: F401 - fixtures, re-exported
from tests.integration.ingest.conftest import (  # noqa: F401 - fixtures, re-exported
    clock,
    feed_server,
    server,
    settings,
)
