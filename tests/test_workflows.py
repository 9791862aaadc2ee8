"""The GitHub workflows keep the rules of the security audit (zizmor, run by .ci/run): actions
pinned to a commit sha with the version in a comment, no ``${{ }}`` expanded inside a shell
script, no persisted checkout credentials, no cache where fronts are published; and the tests
workflow runs the README's test command."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$")


def _steps(path: Path):
    wf = yaml.safe_load(path.read_text())
    for job in wf["jobs"].values():
        yield from job.get("steps", [])


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_a_commit_with_the_version_named(path):
    lines = [m for m in map(USES.match, path.read_text().splitlines()) if m]
    assert lines
    for m in lines:
        action, _, ref = m["ref"].partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{path.name}: {action} is not pinned to a commit sha"
        assert re.fullmatch(r"\s*# v\d+(\.\d+)*", m["comment"]), f"{path.name}: {action} lacks a '# vX.Y.Z' comment"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_expressions_in_scripts_no_credentials_no_cache(path):
    for step in _steps(path):
        assert "${{" not in step.get("run", ""), f"{path.name}: step {step.get('name')!r} expands an expression " \
                                                 "inside its script (pass it through env:)"
        uses = step.get("uses", "")
        if uses.startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, f"{path.name}: checkout keeps credentials"
        if uses.startswith("actions/setup-python@"):
            assert "cache" not in step.get("with", {}), f"{path.name}: a cache in a workflow of this repository"


def test_tests_workflow_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"pip install -e '\.\[dev\]' && (python -m pytest -q)", readme).group(1)
    runs = [s.get("run", "") for s in _steps(ROOT / ".github" / "workflows" / "tests.yml")]
    assert command in runs and "zizmor --offline .github/workflows" in runs


@pytest.mark.skipif(shutil.which("zizmor") is None, reason="zizmor is not installed (pip install -e '.[dev]')")
def test_zizmor_finds_nothing():
    proc = subprocess.run(["zizmor", "--offline", str(ROOT / ".github" / "workflows")], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "No findings to report" in proc.stdout + proc.stderr
