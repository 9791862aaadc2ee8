"""Watch the suite's time: the slowest tests, and those over the limit without a written reason.

A test that needs more than ``SLOW_LIMIT_S`` seconds carries ``@pytest.mark.slow("why")``.
After the run the terminal summary lists the slowest tests and every test over the limit
that has no reason. This is a report, never a failure: wall time depends on the machine's
load, so it cannot decide whether a test passes.
"""

from __future__ import annotations

import pytest

SLOW_LIMIT_S = 30.0
SHOW_SLOWEST = 10


def slow_report(durations, limit, show):
    """The summary lines: the ``show`` slowest tests, then those over ``limit`` without a reason.

    ``durations`` holds ``(seconds, nodeid, reason or None)`` for each test's call phase.
    """
    ranked = sorted(durations, key=lambda d: -d[0])
    lines = [f"{d:7.1f} s  {nodeid}" + (f"  ({why})" if why else "") for d, nodeid, why in ranked[:show]]
    unexplained = [(d, nodeid) for d, nodeid, why in ranked if d > limit and not why]
    if unexplained:
        lines.append(f"over {limit:g} s without a reason (add @pytest.mark.slow(\"why\")):")
        lines += [f"{d:7.1f} s  {nodeid}" for d, nodeid in unexplained]
    return lines


class _Watch:
    def __init__(self):
        self.durations: list[tuple[float, str, str | None]] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        mark = item.get_closest_marker("slow")
        if mark is not None:
            reason = mark.args[0] if mark.args else mark.kwargs.get("reason")
            if not isinstance(reason, str) or not reason.strip():
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.slow needs a reason, "
                                        "e.g. @pytest.mark.slow(\"trains 3 epochs\")")
            item.user_properties.append(("slow_reason", reason))

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            self.durations.append((report.duration, report.nodeid,
                                   dict(report.user_properties).get("slow_reason")))

    def pytest_terminal_summary(self, terminalreporter):
        if self.durations:
            terminalreporter.write_sep("=", f"slowest {min(SHOW_SLOWEST, len(self.durations))} tests")
            for line in slow_report(self.durations, SLOW_LIMIT_S, SHOW_SLOWEST):
                terminalreporter.write_line(line)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow(reason): the test needs more than 30 s, and why")
    config.pluginmanager.register(_Watch(), "ofa2-durations")
