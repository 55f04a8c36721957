"""Delivery jobs: each takes a delivery id, asks this process's engine, and returns a word."""

from __future__ import annotations


def deliver(delivery_id: int) -> str:
    """Publish one delivery if it is due and still ours to send."""
    from crosspost.engine import current

    return current().deliver(delivery_id)


def reconcile(delivery_id: int) -> str:
    """Settle one unconfirmed delivery against the account's recent posts."""
    from crosspost.engine import current

    return current().reconcile(delivery_id)
