"""What the command modules print: progress displays, tables that fit any terminal, JSON.

- :func:`progress`: one display for every step longer than a couple of seconds. It is off
  with ``--quiet`` (:data:`QUIET`) and whenever stdout is not a terminal, so logs and pipes
  get the final summary only.
- :func:`print_table`: names and ids are never cut. Columns are declared as ``key`` (names,
  ids: always whole, on one line), ``num`` (short values: always whole) or ``text`` (folded
  over lines when space runs out). When even that does not fit the terminal, each row is
  printed as a block of ``header: value`` lines instead of a table.
- :data:`AS_JSON` / :func:`print_json`: ``--json`` on list/show commands, for scripts.

Like every command module, this one imports only typer and rich at module level.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Sequence

import typer
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Column, Table
from rich.text import Text

console = Console()

QUIET = typer.Option(False, "--quiet", "-q", help="No progress display (it is also off when the output is not "
                                                  "a terminal).")
AS_JSON = typer.Option(False, "--json", help="Print JSON instead of a table (for scripts).")

#: Narrowest width a folded ``text`` column gets before rows are printed as blocks instead.
MIN_TEXT_WIDTH = 10


def progress(quiet: bool = False, *fields: str) -> Progress:
    """A progress display: description, bar, done/total, elapsed and remaining time, then the
    task field ``f`` for each of ``fields`` (``bar.add_task(..., hv="")``)."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn(), *(TextColumn(f"{{task.fields[{f}]}}") for f in fields)]
    return Progress(*columns, console=console, disable=quiet or not console.is_terminal)


@dataclass(frozen=True)
class Col:
    """A table column: ``key`` (names, ids), ``num`` (short values) or ``text`` (may fold)."""

    header: str
    kind: Literal["key", "num", "text"] = "text"


def _width(cell: str) -> int:
    return Text.from_markup(cell).cell_len


def print_table(columns: Sequence[Col], rows: Iterable[Sequence[Any]], title: str | None = None,
                out: Console | None = None) -> None:
    """Print ``rows`` (cells may use rich markup) so that no name, id or number is cut."""
    out = out or console
    rows = [[str(cell) for cell in row] for row in rows]
    widths = []
    for i, col in enumerate(columns):
        longest = max((_width(row[i]) for row in rows), default=0)
        word = max((len(w) for w in col.header.split()), default=0)
        widths.append(max(longest, word) if col.kind != "text" else min(max(longest, word), MIN_TEXT_WIDTH))
    if sum(widths) + 3 * len(columns) + 1 <= out.width:
        table = Table(*[Column(c.header, min_width=w, overflow="fold", no_wrap=c.kind == "key",
                               justify="right" if c.kind == "num" else "left")
                        for c, w in zip(columns, widths)], title=title)
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    if title:
        out.print(f"[italic]{title}[/]")
    for row in rows:  # too narrow for a table: one block per row
        head = [i for i, c in enumerate(columns) if c.kind == "key"][:1] or [0]
        out.print(f"[bold]{row[head[0]]}[/]", overflow="fold")
        for i, (col, cell) in enumerate(zip(columns, row)):
            if i != head[0]:
                out.print(f"  {col.header}: {cell}", overflow="fold")


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (no colours, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
