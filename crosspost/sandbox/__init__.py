"""A local stand-in for the X v2 and Graph APIs, for tests, demos and dry runs.

It answers exactly the calls the platform adapters make, with the platforms' own bodies and
headers, remembers what was posted, and misbehaves on request (faults). Nothing here talks
to a real platform.
"""

from crosspost.sandbox.api import Sandbox, serve
from crosspost.sandbox.faults import Fault
from crosspost.sandbox.state import DEMO_PAGE, DEMO_X_ACCOUNT, GraphPage, SandboxState, XAccount

__all__ = [
    "DEMO_PAGE",
    "DEMO_X_ACCOUNT",
    "Fault",
    "GraphPage",
    "Sandbox",
    "SandboxState",
    "XAccount",
    "serve",
]
