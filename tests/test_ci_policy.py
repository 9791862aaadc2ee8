"""The suite's own rule for missing test prerequisites: locally a skip with one message, in CI
(``CI=true``) a failure, so that CI can never pass with the oracle comparisons silently skipped."""

from __future__ import annotations

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
