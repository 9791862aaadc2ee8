"""The suite's own rule for missing test prerequisites: locally a skip with one message, in CI
(``CI=true``) a failure, so that CI can never pass with the oracle comparisons silently skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from _ci import CI_NOTE, in_ci
from _oracle import ORACLE_MISSING, require_oracle


@pytest.mark.parametrize("value, expected", [("true", True), ("TRUE", True), ("1", True), ("", False),
                                             ("false", False), ("0", False)])
def test_ci_is_read_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("CI", value)
    assert in_ci() is expected
    monkeypatch.delenv("CI")
    assert in_ci() is False


def test_missing_oracle_is_a_skip_locally_and_a_failure_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_oracle("ofa.no_such_module")
    assert str(skipped.value) == ORACLE_MISSING
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        require_oracle("ofa.no_such_module")
    assert str(failed.value) == f"{ORACLE_MISSING} ({CI_NOTE})"


def test_present_oracle_is_returned(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert require_oracle("ofa.utils").make_divisible(33, 8) == 32


def test_missing_assets_are_a_skip_locally_and_a_failure_in_ci(monkeypatch, tmp_path):
    from _assets import MESSAGE, find_assets, require_assets

    monkeypatch.setenv("OFA2_ASSETS", str(tmp_path / "nowhere"))
    assert find_assets() is None
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_assets()
    assert str(skipped.value) == MESSAGE
    assert "ofa2 assets fetch" in MESSAGE and "OFA2_ASSETS" in MESSAGE
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        require_assets()
    assert str(failed.value) == f"{MESSAGE} ({CI_NOTE})"


def test_a_missing_prerequisite_fails_a_ci_run_of_pytest(tmp_path):
    """End to end: a test module needing the oracle and a test needing the assets, run by pytest
    with the assets pointed nowhere and a module the oracle lacks: skipped locally, failed in CI."""
    import os
    import subprocess
    import sys

    tests = Path(__file__).resolve().parent
    (tmp_path / "test_needs.py").write_text(
        "from _assets import needs_assets\n\n\n@needs_assets\ndef test_assets():\n    pass\n\n\n"
        "def test_oracle():\n    from _oracle import require_oracle\n\n    require_oracle('ofa.no_such_module')\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"OFA2_ASSETS": str(tmp_path / "nowhere"),
                                                                 "PYTHONPATH": str(tests)}
    import re

    # the fixture's failure is an error; warnings from other installed plugins may add to the summary
    for ci, expected in ((None, {"skipped": 2}), ("true", {"failed": 1, "error": 1})):
        run_env = env | ({"CI": ci} if ci else {})
        # the suite's conftest (its official_assets fixture) loaded as a plugin
        out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest", "-rs",
                              str(tmp_path)], cwd=tmp_path, env=run_env, capture_output=True, text=True)
        summary = out.stdout.strip().splitlines()[-1]
        counts = {kind.rstrip("s"): int(n) for n, kind in re.findall(r"(\d+) (passed|failed|errors?|skipped)", summary)}
        assert counts == expected, out.stdout[-2000:]
        assert out.returncode == (0 if ci is None else 1)


def test_a_missing_runtime_is_a_skip_unless_the_runtimes_environment_requires_it(monkeypatch):
    """The README's run (CI=true, no runtime extras) skips; `.ci/run`'s second environment, with
    the extras and OFA2_REQUIRE_RUNTIMES=1, fails instead."""
    import dataclasses

    from _ci import RUNTIMES_ENV, RUNTIMES_NOTE, missing_runtime
    from ofa2_zoo.package.runtimes import RUNTIMES

    monkeypatch.setitem(RUNTIMES, "litert", dataclasses.replace(RUNTIMES["litert"], requires=("ofa2_no_such_module",)))
    message = "runtime litert is not installed (no module ofa2_no_such_module; pip install 'ofa2-zoo[litert]')"
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv(RUNTIMES_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        missing_runtime("litert")
    assert str(skipped.value) == message
    monkeypatch.setenv(RUNTIMES_ENV, "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        missing_runtime("litert")
    assert str(failed.value) == f"{message} ({RUNTIMES_NOTE})"
    monkeypatch.setitem(RUNTIMES, "litert", dataclasses.replace(RUNTIMES["litert"], requires=("json",)))
    assert missing_runtime("litert") is None  # installed: nothing happens
