"""``ofa2 data``: where a dataset is read from, and downloading it (Fashion-MNIST)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from ..errors import DatasetError
from ._ui import QUIET, console

app = typer.Typer(help="Datasets read from outside the package (Fashion-MNIST): where they are, fetch them.",
                  no_args_is_help=True)
DATA = typer.Option(None, "--data", help="Folder with the dataset's files (default: $OFA2_DATA, Debian's folder, "
                                         "the ofa2 cache).")
NAME = typer.Argument("fashion-mnist", help="Dataset name (fashion-mnist).")


def _check_name(name: str) -> None:
    from ..catalog import DATASETS

    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")


@app.command("path")
def path_cmd(name: str = NAME, data: Optional[Path] = DATA) -> None:
    """Print the folder the dataset is read from (first of --data, $OFA2_DATA, Debian's, the cache)."""
    from ..training.fashion_mnist import data_folder

    _check_name(name)
    print(data_folder(data))


@app.command("fetch")
def fetch_cmd(name: str = NAME, data: Optional[Path] = DATA, quiet: bool = QUIET) -> None:
    """Download the dataset's files (pinned sha256, resumable) into --data or the ofa2 cache."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    from ..training.fashion_mnist import fetch

    _check_name(name)
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=console, disable=quiet or not console.is_terminal) as bar:
        tasks: dict[str, int] = {}

        def progress(stem: str, done: int, total: int | None) -> None:
            if stem not in tasks:
                tasks[stem] = bar.add_task(stem, total=total)
            bar.update(tasks[stem], completed=done, total=total)

        folder = fetch(data, progress=progress)
    console.print(f"{name}: all files verified in {escape(str(folder))}", soft_wrap=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="data")
