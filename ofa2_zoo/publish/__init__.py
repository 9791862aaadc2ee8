"""The publish stage: packaged fronts → versioned Hugging Face Hub repos, and pulling them back.

``publish(package_dir, namespace)`` (also ``ofa2 publish``) puts a package on the Hub as one
immutable, tagged version (see :mod:`ofa2_zoo.publish.publish`); ``pull(name)`` (also
``ofa2 pull``) downloads exactly one published version of a member. The Hub endpoint comes from
``HF_ENDPOINT`` and the token from ``HF_TOKEN`` or the saved Hugging Face login.
"""

from __future__ import annotations

from .errors import PublishError, PublishFailed, PullError, TagConflict
from .hub import RetryPolicy
from .publish import PublishResult, RepoOutcome, publish
from .pull import PullResult, pull, resolve_target

__all__ = ["publish", "pull", "resolve_target", "PublishResult", "RepoOutcome", "PullResult", "RetryPolicy",
           "PublishError", "PublishFailed", "PullError", "TagConflict"]
