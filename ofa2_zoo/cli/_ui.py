"""What the command modules print: progress displays, tables that fit any terminal, JSON.

- :func:`progress`: one display for every step longer than a couple of seconds. It is off
  with ``--quiet`` (:data:`QUIET`) and whenever stdout is not a terminal, so logs and pipes
  get the final summary only.
- :func:`print_table`: names and ids are never cut. Columns are declared as ``key`` (names,
  ids: always whole, on one line), ``num`` (short values: always whole) or ``text`` (folded
  over lines when space runs out). When even that does not fit the terminal, each row is
  printed as a block of ``header: value`` lines instead of a table.
- :data:`AS_JSON` / :func:`print_json`: ``--json`` on list/show commands, for scripts.
- :func:`make_console`: the one place a rich ``Console`` is made; :data:`console` (stdout,
  tables and summaries) and :data:`err_console` (stderr, one plain line per message) are the
  two every command shares.

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



def make_console(*, stderr: bool = False, plain: bool = False) -> Console:
    """A rich console on stdout (or ``stderr``). ``plain``: lines as they are, for messages and
    paths that are copied from the terminal: no re-wrapping at the terminal width and no
    colouring of numbers and paths."""
    return Console(stderr=stderr, highlight=not plain, soft_wrap=plain)


console = make_console()
err_console = make_console(stderr=True, plain=True)

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


def _longest_word(text: str) -> int:
    return max((_width(w) for w in text.split()), default=0)


def _column_widths(columns: Sequence[Col], rows: list[list[str]], room: int) -> list[int] | None:
    """Widths that keep every ``key``/``num`` cell whole and fit ``room``; None if impossible.

    Computed here rather than by rich: rich shrinks the widest wrappable columns first, which
    can fold a number or overflow the line when minimum widths are set."""
    natural, least = [], []
    for i, col in enumerate(columns):
        cells = [_width(row[i]) for row in rows]
        widest = max(cells + [_width(col.header)])
        natural.append(widest)
        if col.kind == "text":  # wraps at spaces, folds longer words
            least.append(min(max([_longest_word(row[i]) for row in rows] + [_longest_word(col.header)]),
                             MIN_TEXT_WIDTH))
        else:  # whole cells (a header may wrap or fold: it is not a value)
            least.append(max(cells, default=0))  # no rows: the headers alone
    if sum(least) > room:
        return None
    if sum(natural) <= room:
        return natural
    widths, extra = list(least), room - sum(least)
    for i, col in enumerate(columns):  # first: headers of names and numbers wrap at spaces, not mid-word
        if col.kind != "text":
            grow = min(max(0, _longest_word(col.header) - widths[i]), extra)
            widths[i] += grow
            extra -= grow
    wishes = sorted((n - w, i) for i, (n, w) in enumerate(zip(natural, widths)) if n > w)
    for left, (want, i) in zip(range(len(wishes), 0, -1), wishes):  # small wishes in full, the rest share
        share = min(want, extra // left)
        widths[i] += share
        extra -= share
    return widths


def print_table(columns: Sequence[Col], rows: Iterable[Sequence[Any]], title: str | None = None,
                out: Console | None = None) -> None:
    """Print ``rows`` (cells may use rich markup) so that no name, id or number is cut."""
    out = out or console
    rows = [[str(cell) for cell in row] for row in rows]
    widths = _column_widths(columns, rows, out.width - 3 * len(columns) - 1)
    if widths is not None:
        table = Table(*[Column(c.header, width=w, overflow="fold", justify="right" if c.kind == "num" else "left")
                        for c, w in zip(columns, widths)], title=title)
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    if title:
        out.print(f"[italic]{title}[/]")
    head = next((i for i, c in enumerate(columns) if c.kind == "key"), 0)
    for row in rows:  # too narrow for a table: one block per row, the first key column as its heading
        out.print(f"[bold]{row[head]}[/]", overflow="fold", highlight=False)
        for i, (col, cell) in enumerate(zip(columns, row)):
            if i != head:
                out.print(f"  {col.header}: {cell}", overflow="fold", highlight=False)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (no colours, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fold_help() -> None:
    """Make ``--help`` fold what does not fit the terminal instead of cutting it with "…".

    typer lays help out in rich tables whose cells end a too-long word (a path, a long option
    name at 80 columns) with an ellipsis; rich's ``overflow="fold"`` breaks it over lines
    instead. Applied to typer's help tables and help texts (``tests/test_cli_output.py``
    checks every command at 80 columns). typer imports ``typer.rich_utils`` only to draw help or
    an error, so the change is made when it does (:func:`.._hooks.when_imported`): a command that
    runs normally never loads it."""
    from .._hooks import when_imported

    when_imported("typer.rich_utils", _fold)


def _fold(rich_utils: Any) -> None:
    if getattr(rich_utils, "_ofa2_folds", False):
        return

    class FoldingTable(Table):
        def add_row(self, *renderables: Any, **kwargs: Any) -> None:
            while len(self.columns) < len(renderables):  # the columns rich would add, folding
                self.columns.append(Column(_index=len(self.columns), highlight=self.highlight, overflow="fold"))
            super().add_row(*renderables, **kwargs)

    def folded(make):
        def wrapper(*args: Any, **kwargs: Any):
            out = make(*args, **kwargs)
            for item in getattr(out, "renderables", [out]):  # a Text, or typer's Columns of Texts
                if isinstance(item, Text):
                    item.overflow = "fold"
            return out
        return wrapper

    rich_utils.Table = FoldingTable
    rich_utils._make_rich_text = folded(rich_utils._make_rich_text)
    rich_utils._get_parameter_help = folded(rich_utils._get_parameter_help)
    rich_utils._ofa2_folds = True
