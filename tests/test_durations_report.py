"""The suite's time report (tests/_durations.py): its ranking, limit and reasons."""

from __future__ import annotations

import os
from pathlib import Path

from _durations import SHOW_SLOWEST, SLOW_LIMIT_S, slow_report

pytest_plugins = ["pytester"]
HERE = str(Path(__file__).parent)


def test_ranks_the_slowest_first_and_cuts_at_show():
    durations = [(float(i), f"t{i}", None) for i in range(12)]
    lines = slow_report(durations, limit=100, show=10)
    assert len(lines) == 10
    assert lines[0] == "   11.0 s  t11" and lines[-1] == "    2.0 s  t2"


def test_lists_tests_over_the_limit_without_a_reason_only():
    lines = slow_report([(30.5, "late", None), (31.0, "explained", "trains"), (30.0, "at-limit", None)],
                        limit=30.0, show=0)
    assert lines == ["over 30 s without a reason (add @pytest.mark.slow(\"why\")):", "   30.5 s  late"]


def test_shows_the_reason_beside_a_slow_test():
    assert slow_report([(40.0, "t", "trains 3 epochs")], limit=30, show=1) == ["   40.0 s  t  (trains 3 epochs)"]


def test_the_limit_is_thirty_seconds_and_ten_are_shown():
    assert (SLOW_LIMIT_S, SHOW_SLOWEST) == (30.0, 10)


def _project(pytester, monkeypatch, conftest_extra=""):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (HERE, os.environ.get("PYTHONPATH")) if p))
    pytester.makeconftest('pytest_plugins = ["_durations"]\n' + conftest_extra)


def test_a_slow_mark_without_a_reason_is_a_usage_error(pytester, monkeypatch):
    _project(pytester, monkeypatch)
    pytester.makepyfile("import pytest\n@pytest.mark.slow\ndef test_x():\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["*test_x: @pytest.mark.slow needs a reason*"])
    assert result.ret != 0


def test_the_summary_names_only_the_unexplained_slow_test(pytester, monkeypatch):
    _project(pytester, monkeypatch, "import _durations\n_durations.SLOW_LIMIT_S = -1.0\n")  # every test is "slow"
    pytester.makepyfile('import pytest\n@pytest.mark.slow("waits")\ndef test_ok():\n    pass\n'
                        "def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess()
    out = result.stdout.str()
    assert result.ret == 0
    assert "slowest 2 tests" in out and "(waits)" in out
    unexplained = out.split("without a reason")[1]
    assert "test_plain" in unexplained and "test_ok" not in unexplained
