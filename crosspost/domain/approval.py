"""Approval of articles: the states, the allowed moves between them, and who decided.

::

    (new) ──ingested──> pending ──approve──> approved ──withdraw──> pending
                           │                    │
                           └──reject──> rejected └── (published: no longer withdrawable)

A trusted source's new article is approved at once by the rule `trusted-source:<name>`; that is
recorded like an officer's decision.
"""

from __future__ import annotations

from enum import StrEnum

from crosspost.errors import InvalidTransition


class ArticleStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"


_MOVES: dict[tuple[ArticleStatus, Decision], ArticleStatus] = {
    (ArticleStatus.PENDING, Decision.APPROVE): ArticleStatus.APPROVED,
    (ArticleStatus.PENDING, Decision.REJECT): ArticleStatus.REJECTED,
    (ArticleStatus.APPROVED, Decision.WITHDRAW): ArticleStatus.PENDING,
}

ACTION_FOR = {
    Decision.APPROVE: "approved",
    Decision.REJECT: "rejected",
    Decision.WITHDRAW: "withdrawn",
}
"""The audit log's action word for each decision."""


def decide(
    article_id: int, current: ArticleStatus, decision: Decision, *, published: bool = False
) -> ArticleStatus:
    """The state after `decision`, or InvalidTransition with a message an officer understands."""
    if decision is Decision.WITHDRAW and published:
        raise InvalidTransition(
            f"article {article_id} is already published; it can no longer be withdrawn"
        )
    target = _MOVES.get((current, decision))
    if target is None:
        raise InvalidTransition(_refusal(article_id, current, decision))
    return target


def _refusal(article_id: int, current: ArticleStatus, decision: Decision) -> str:
    if decision is Decision.WITHDRAW:
        return f"article {article_id} is {current}; only an approved article can be withdrawn"
    if current is ArticleStatus.REJECTED:
        action = ACTION_FOR[decision]
        return f"article {article_id} was rejected; a rejected article cannot be {action}"
    return f"article {article_id} is already {current}"


def trusted_rule_actor(source_name: str) -> str:
    """The 'who' recorded when a trusted source's article is approved automatically."""
    return f"rule:trusted-source:{source_name}"
