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
import subprocess
import sys
import tempfile
from types import SimpleNamespace

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

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Under pytest-xdist (``-n auto``, the README's test command) each worker computes on one
    # torch thread: two workers with torch's default (a thread per core) fight over the cores and
    # the run is slower than serial.
    # Code that sets its own thread count (packaging, measuring, training) still does so.
    import torch

    torch.set_num_threads(1)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: without xdist it is simply unused
def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (the README's test command): one worker per core, at most 4. Each worker
    imports torch and builds the session's shared fixtures (``digits_run``, the cached packages)
    once, so more workers than that cost more than they save."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, cores))


@pytest.fixture(scope="session")
def official_assets():
    """The folder with the official OFA files; skips the test (one message) when there is none."""
    from _assets import require_assets

    return require_assets()


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """``ofa2 run`` (embedded digits default, small budget, 2 members) once per test process, in a
    new process that records its package in a user zoo index of its own (``index``), offline.
    ``out`` holds ``front/`` and ``package/``; ``stdout`` is what the command printed. Its users
    (``test_run.py``, ``test_card_snippets.py``) only read it."""
    root = tmp_path_factory.mktemp("digits-run")
    index = root / "user_index.json"
    env = {**os.environ, "OFA2_USER_INDEX": str(index), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "ofa2_zoo", "run", "--out", str(root / "out"), "--population", "12",
                           "--generations", "4", "--members", "2"], capture_output=True, text=True, env=env,
                          cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return SimpleNamespace(root=root, out=root / "out", index=index, stdout=proc.stdout)
