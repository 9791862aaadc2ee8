"""The official OFA files for tests: where they are, and the one way a test says they are missing.

Looked up in this order: ``$OFA2_ASSETS``; ``../shared/ofa-assets`` beside the checkout (the
development machines); the download cache ``ofa2 assets fetch`` fills. A folder counts only if
it holds every pinned official file (the supernet checkpoints are never pinned, never needed).
Tests use the ``official_assets`` fixture (conftest.py) or the ``needs_assets`` mark; both end
in :func:`missing_assets`, the single place that decides what a missing folder does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _ci import missing
from ofa2_zoo.assets import OFFICIAL_FILES, cache_dir

MESSAGE = ("the official OFA files are missing: fetch them with `ofa2 assets fetch` "
           "or set OFA2_ASSETS to a folder that holds them")


def _complete(folder: Path) -> bool:
    return all((folder / f.name).is_file() for f in OFFICIAL_FILES.values() if f.pinned)


def find_assets() -> Path | None:
    """The first complete assets folder, or None."""
    env = os.environ.get("OFA2_ASSETS")
    if env:
        candidates = [Path(env).expanduser()]
    else:
        candidates = [Path(__file__).resolve().parents[2] / "shared" / "ofa-assets", cache_dir() / "assets"]
    return next((c for c in candidates if _complete(c)), None)


#: The folder tests pass as ``assets=`` (only valid where :func:`find_assets` found one).
ASSETS = find_assets() or Path(os.environ.get("OFA2_ASSETS") or cache_dir() / "assets")


def missing_assets() -> None:
    """What a test does when the files are missing: skip with the one message, or fail with it
    in CI (``CI=true``, see ``_ci.py``)."""
    missing(MESSAGE)


def require_assets() -> Path:
    """The assets folder, or :func:`missing_assets`."""
    folder = find_assets()
    if folder is None:
        missing_assets()
    return folder


#: Mark a test (or a module, as ``pytestmark``) as needing the official files.
needs_assets = pytest.mark.usefixtures("official_assets")
