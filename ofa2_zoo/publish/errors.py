"""Exception types of the publish stage."""

from __future__ import annotations

from ..errors import Ofa2Error


class PublishError(Ofa2Error, RuntimeError):
    """Publishing was refused before anything was written (bad package, name, token, tag)."""


class TagConflict(PublishError):
    """A version tag already exists with different content: versions are immutable."""


class PublishFailed(PublishError):
    """The Hub failed part-way (after retries). ``result``, a
    :class:`~ofa2_zoo.publish.publish.PublishResult`, says what was and wasn't published."""

    def __init__(self, message: str, result: object):
        super().__init__(message)
        self.result = result


class PullError(Ofa2Error, RuntimeError):
    """A model cannot be pulled: unknown name or version, not cached while offline, mismatch."""
