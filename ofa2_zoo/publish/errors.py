"""Exception types of the publish stage (defined in :mod:`ofa2_zoo.errors`, re-exported here)."""

from __future__ import annotations

from ..errors import HubUnavailable, MalformedReply, PublishError, PublishFailed, PullError, TagConflict

__all__ = ["PublishError", "TagConflict", "PublishFailed", "PullError", "HubUnavailable", "MalformedReply"]
