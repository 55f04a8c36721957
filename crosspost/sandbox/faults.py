"""Faults a test or a demo injects into the sandbox: the next N matching calls misbehave.

Actions:

``respond``     answer `status` with `body` (JSON value or text) and `headers`, do nothing else
``html_502``    answer 502 with an HTML page, as a load balancer does
``rate_limit``  the platform's throttling answer (X 429, with the reset header unless
                `reset_header` is false; Graph code `code`, default 4)
``delay``       do the work, then wait `delay` seconds before answering (read timeouts)
``drop``        do the work, then close the connection without answering

`probability` below 1 makes a fault hit only that share of the matching calls, at random (e.g.
accept-then-drop on 10% of creates); `count` then counts the calls it hit.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

ACTIONS = ("respond", "html_502", "rate_limit", "delay", "drop")
"""The fault actions the sandbox knows."""

_ids = itertools.count(1)


@dataclass
class Fault:
    """One injected misbehaviour; `remaining` counts down as matching calls arrive."""

    action: str
    count: int = 1
    platform: str | None = None
    method: str | None = None
    path: str | None = None
    status: int = 500
    body: Any = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset_header: bool = True
    reset_in: int = 60
    code: int = 4
    probability: float = 1.0
    id: int = field(default_factory=lambda: next(_ids))
    remaining: int = -1

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r} (known: {', '.join(ACTIONS)})")
        if self.count < 1:
            raise ValueError("count must be at least 1")
        if not 0.0 < self.probability <= 1.0:
            raise ValueError("probability must be above 0 and at most 1")
        if self.remaining < 0:
            self.remaining = self.count

    def matches(self, platform: str, method: str, path: str) -> bool:
        """Whether a call on `platform` with `method` to `path` (no prefix, no query) is hit.

        `path` matches as a substring, so ``"/feed"`` or ``"/2/tweets"`` are enough.
        """
        return (
            self.remaining > 0
            and (self.platform is None or self.platform == platform)
            and (self.method is None or self.method.upper() == method.upper())
            and (self.path is None or self.path in path)
            and (self.probability >= 1.0 or random.random() < self.probability)
        )

    def as_dict(self) -> dict[str, Any]:
        """The fault as JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """A fault from the control API's JSON; unknown keys are an error (typos hide faults)."""
        allowed = set(cls.__dataclass_fields__) - {"id", "remaining"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**dict(data))
