"""Every error crosspost raises on purpose, in one tree.

::

    CrosspostError                 the root: the CLI prints str(exc) on one line and exits 1
    ├── ConfigError                a bad configuration file or environment variable
    ├── NotFound                   an unknown id or name
    ├── InvalidInput               a value the user gave that cannot be used (bad URL, bad date)
    ├── InvalidTransition          an approval/delivery state change that is not allowed
    ├── FeedError                  a source's feed could not be fetched or parsed (one line reason)
    ├── CompositionError           no form of the post fits the platform's limit
    └── PublishError               a platform call failed; the engine acts on the subclass:
        ├── RetryLater             nothing was posted; try again later (retry_after if known)
        │   └── RateLimited        the platform said 429 / throttled; not counted as an attempt
        ├── Rejected               the platform refused the post; do not retry (reason, code)
        │   ├── Duplicate          the platform says the same content was already posted
        │   ├── TooLong            the text is over the platform's limit
        │   ├── PermissionDenied   the account may not do this
        │   └── CredentialsInvalid expired or revoked credentials: pause the channel
        └── OutcomeUnknown         the request may have been posted (timeout after send, dropped
                                   connection, 5xx on a create): reconcile before any retry

Messages never contain secrets: adapters build them from status codes and the platforms' error
texts, never from request headers or URLs with tokens.
"""

from __future__ import annotations


class CrosspostError(Exception):
    """Root of every error crosspost raises on purpose."""


class ConfigError(CrosspostError):
    """The configuration file or an environment override is invalid."""


class NotFound(CrosspostError):
    """An id or name that does not exist."""


class InvalidInput(CrosspostError):
    """A value the user gave that crosspost cannot use."""


class InvalidTransition(CrosspostError):
    """A state change that the state machine does not allow."""


class FeedError(CrosspostError):
    """A source's feed could not be fetched or parsed; the message is one line."""


class CompositionError(CrosspostError):
    """Even the shortest form of a post does not fit the platform's limit."""


class PublishError(CrosspostError):
    """A platform call failed. Catch the subclasses, not this."""

    def __init__(self, message: str, *, platform: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.platform = platform
        self.code = code


class RetryLater(PublishError):
    """Nothing was posted; the same request may be sent again later."""

    def __init__(
        self,
        message: str,
        *,
        platform: str = "",
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, platform=platform, code=code)
        self.retry_after = retry_after


class RateLimited(RetryLater):
    """The platform throttled us; wait until retry_after (seconds) if given."""


class Rejected(PublishError):
    """The platform refused the request; sending it again will not help."""


class Duplicate(Rejected):
    """The platform says this content was already posted on the account."""


class TooLong(Rejected):
    """The text is over the platform's limit."""


class PermissionDenied(Rejected):
    """The account lacks a permission for this call."""


class CredentialsInvalid(Rejected):
    """The credentials are expired or revoked; the channel must be paused."""


class OutcomeUnknown(PublishError):
    """The request may or may not have taken effect; reconcile before retrying."""
