"""What the CLI prints: tables keep names and ids whole at any width, `--json` on list/show
commands, progress displays off with --quiet or when the output is not a terminal."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from rich.console import Console

from ofa2_zoo.cli import _ui, main
from ofa2_zoo.profiles import list_profiles

NAMES = [f"ofa2_gpu-tensorrt-fp16_front_{k}" for k in range(3)]
ARCH = "r224-d4434-k3575757575757357575753-e3464646434646464634"


def _table(width: int) -> str:
    out = Console(width=width, file=io.StringIO(), color_system=None)
    _ui.print_table([_ui.Col("timm name", "key"), _ui.Col("arch"), _ui.Col("latency_ms (ms)", "num"),
                     _ui.Col("top1 (%)", "num"), _ui.Col("measured")],
                    [[n, ARCH, "12.345", "78.123", "top-1 78.22 %, 1.234 ms"] for n in NAMES], title="t", out=out)
    return out.file.getvalue()


@pytest.mark.parametrize("width", [200, 120, 80, 40])
def test_tables_never_cut_names_or_numbers(width):
    text = _table(width)
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), text
    for name in NAMES:
        assert sum(name in line for line in lines) == 1, text  # whole, on one line
    for value in ("12.345", "78.123"):
        assert sum(value in line for line in lines) == len(NAMES), text
    assert "…" not in text
    if width >= 120:  # a real table where it fits
        assert "┃" in text
    if width == 200:  # room for the arch on one line
        assert all(ARCH in line for line in lines if NAMES[0] in line)
    if width == 40:  # too narrow for a table: one block per row, headed by the name
        assert "┃" not in text and [line for line in lines if line.startswith("ofa2_")] == NAMES


def _cli(*args: str, columns: int = 80) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ofa2_zoo", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": str(columns)})


def test_profile_list_shows_full_ids_at_80_columns_and_as_json():
    ids = list_profiles()
    table = _cli("profile", "list")
    assert table.returncode == 0, table.stderr
    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    for pid in ids:
        assert pid in table.stdout, table.stdout
    rows = json.loads(_cli("profile", "list", "--json").stdout)
    assert [r["id"] for r in rows] == ids
    assert {"device", "supernet", "latency_source", "description"} <= set(rows[0])


def _main(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code in (0, None)


def test_front_show_table_and_json(tmp_path, capsys, monkeypatch):
    from ofa2_zoo.search import search

    front = search("digits-cpu", population=8, generations=2, seed=0)
    front.save(tmp_path)
    _main(["front", "show", str(tmp_path), "--json", "--select", "2"])
    data = json.loads(capsys.readouterr().out)
    assert data["hypervolume"] == front.hypervolume and data["seed"] == 0
    assert [m["arch"] for m in data["members"]] == [m.arch.to_string() for m in front.members]
    assert sum(m["packaged"] for m in data["members"]) == 2
    monkeypatch.setattr(_ui, "console", Console(width=80, file=io.StringIO(), color_system=None))
    _main(["front", "show", str(tmp_path)])
    text = _ui.console.file.getvalue()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    for m in front.members:
        assert f"{m.objectives['latency_ms']:.3f}" in text


def test_progress_is_off_when_quiet_or_not_a_terminal(monkeypatch):
    monkeypatch.setattr(_ui, "console", Console(file=io.StringIO(), force_terminal=False))
    assert _ui.progress().disable
    monkeypatch.setattr(_ui, "console", Console(file=io.StringIO(), force_terminal=True))
    assert not _ui.progress().disable
    assert _ui.progress(quiet=True).disable
    with _ui.progress(False, "info") as bar:
        task = bar.add_task("package: member 0: extract", total=5, info="x")
        bar.update(task, completed=2)
    assert "package: member 0: extract" in _ui.console.file.getvalue()


def test_one_line_keeps_a_message_of_exactly_the_limit_and_cuts_one_character_more():
    from ofa2_zoo.cli.guard import MAX_MESSAGE, one_line

    exact = "a" * (MAX_MESSAGE - 1) + "z"
    assert one_line(exact) == exact
    longer = "a" * MAX_MESSAGE + "z"
    cut = one_line(longer)
    assert len(cut) == MAX_MESSAGE and " ... " in cut and cut.endswith("z") and cut.startswith("a")
    assert one_line("first\n  second \n\n third") == "first second third"


@pytest.mark.parametrize("width", [200, 40])
def test_a_table_without_rows_prints_its_title_and_headers(width):
    """A filter that matches nothing (``ofa2 zoo list --source local`` before any package) once
    crashed here with an internal error: ``max()`` of no cells."""
    out = Console(width=width, file=io.StringIO(), color_system=None)
    _ui.print_table([_ui.Col("name", "key"), _ui.Col("arch"), _ui.Col("top1 (%)", "num")], [], title="0 rows",
                    out=out)
    text = out.file.getvalue()
    assert "0 rows" in text
    if width == 200:
        assert "name" in text and "top1 (%)" in text


@pytest.mark.parametrize(("diff", "agreement", "cell"), [(6e-06, 1.0, "6e-06, 100 %"), (2.5e-3, 0.95, "3e-03, 95 %"),
                                                         (0.0, 0.0, "0e+00, 0 %")])
def test_the_package_tables_parity_cell_shows_agreement_in_percent(diff, agreement, cell):
    from types import SimpleNamespace

    from ofa2_zoo.cli.package import _parity_cell

    assert _parity_cell(SimpleNamespace(max_abs_diff=diff, top1_agreement=agreement)) == cell
