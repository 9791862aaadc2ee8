"""What a test does when something it needs is missing: locally a skip, in CI a failure.

CI sets ``CI=true`` (GitHub Actions and most CI services do; ``.ci/run`` sets it too). There a
missing official-assets folder or a missing ``ofa`` oracle would silently turn every check that
needs it into a skip, so a green run would prove little: it fails instead.
"""

from __future__ import annotations

import os

import pytest

CI_NOTE = "CI=true makes this a failure"


def in_ci() -> bool:
    """Whether the tests run in CI (``CI=true`` or ``CI=1``)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def missing(message: str) -> None:
    """Skip with ``message`` (also at module level), or fail with it when :func:`in_ci`."""
    if in_ci():
        pytest.fail(f"{message} ({CI_NOTE})", pytrace=False)
    pytest.skip(message, allow_module_level=True)
