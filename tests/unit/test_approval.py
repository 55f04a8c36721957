"""The approval state machine: allowed moves and the refusals officers see."""

import pytest

from crosspost.domain.approval import ArticleStatus, Decision, decide, trusted_rule_actor
from crosspost.errors import InvalidTransition

P, A, R = ArticleStatus.PENDING, ArticleStatus.APPROVED, ArticleStatus.REJECTED


@pytest.mark.parametrize(
    ("current", "decision", "expected"),
    [(P, Decision.APPROVE, A), (P, Decision.REJECT, R), (A, Decision.WITHDRAW, P)],
)
def test_allowed_moves(current: ArticleStatus, decision: Decision, expected: ArticleStatus) -> None:
    assert decide(7, current, decision) is expected


@pytest.mark.parametrize(
    ("current", "decision", "words"),
    [
        (R, Decision.APPROVE, "was rejected"),
        (R, Decision.WITHDRAW, "only an approved article"),
        (A, Decision.APPROVE, "already approved"),
        (A, Decision.REJECT, "already approved"),
        (P, Decision.WITHDRAW, "only an approved article"),
        (R, Decision.REJECT, "was rejected"),
    ],
)
def test_illegal_moves_are_refused_with_the_article_named(
    current: ArticleStatus, decision: Decision, words: str
) -> None:
    with pytest.raises(InvalidTransition, match=words) as caught:
        decide(42, current, decision)
    assert "article 42" in str(caught.value)


def test_a_published_article_cannot_be_withdrawn() -> None:
    with pytest.raises(InvalidTransition, match="already published"):
        decide(3, A, Decision.WITHDRAW, published=True)


def test_trusted_rule_names_the_source() -> None:
    assert trusted_rule_actor("chinhphu") == "rule:trusted-source:chinhphu"
