"""Shared test set-up.

Every test process gets its own empty user zoo index (``$OFA2_USER_INDEX``) and machine folder
(``$OFA2_MACHINE_DIR``, with the machine check off: ``$OFA2_MACHINE_CHECK=0``), set before any
test imports ``ofa2_zoo``: tests never read or write the developer's ``~/.cache`` zoo, and
what ``import ofa2_zoo`` registers does not depend on packages made outside the tests.

The official OFA files: the ``official_assets`` fixture (and the ``needs_assets`` mark of
``_assets.py``, which uses it) gives their folder or skips with one message (see ``_assets.py``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

pytest_plugins = ["_durations",  # the slowest tests and those over 30 s without a reason
                  "_hf_cache"]  # the offline_cache fixture: a Hugging Face cache of the test's own

_USER_ZOO = tempfile.mkdtemp(prefix="ofa2-test-zoo-")
atexit.register(shutil.rmtree, _USER_ZOO, ignore_errors=True)
os.environ["OFA2_USER_INDEX"] = os.path.join(_USER_ZOO, "zoo_index.json")
# per-machine data (canary timings, this machine's calibrations) stays inside the tests too, and
# the machine check (which times a canary) is off unless a test turns it on
os.environ["OFA2_MACHINE_DIR"] = os.path.join(_USER_ZOO, "machine")
os.environ["OFA2_MACHINE_CHECK"] = "0"


@pytest.fixture(scope="session")
def official_assets():
    """The folder with the official OFA files; skips the test (one message) when there is none."""
    from _assets import require_assets

    return require_assets()
