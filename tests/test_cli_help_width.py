"""``--help`` at 80 columns: every command's help fits and nothing is cut off with "…"
(typer's rich tables would cut long words and option names; ``_ui.fold_help`` folds them)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from ofa2_zoo.cli import build_app


def _paths(group, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if hasattr(cmd, "commands"):
            yield from _paths(cmd, (*prefix, name))


APP = build_app()
PATHS = [(), *_paths(typer.main.get_command(APP))]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "ofa2")
def test_help_at_80_columns_is_whole(path):
    result = CliRunner().invoke(APP, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line for line in lines if "…" in line] == []
    assert [line for line in lines if len(line) > 80] == []

