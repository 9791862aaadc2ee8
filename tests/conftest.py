"""Shared fixtures: the official OFA files (see ``_assets.py``)."""

from __future__ import annotations

import pytest

from _assets import require_assets


@pytest.fixture(scope="session")
def official_assets():
    """The folder with the official OFA files; skips the test (one message) when there is none."""
    return require_assets()
