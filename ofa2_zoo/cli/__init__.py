"""The ``ofa2`` command line: a thin typer layer over the Python API.

Each pipeline stage has its own command module exposing ``register(app)``, listed in
:data:`COMMAND_MODULES`. User errors (:class:`~ofa2_zoo.errors.Ofa2Error`) end with a one-line
reason and exit code 2, never a traceback.

Start-up rule: every command module is imported for ``ofa2 --help``, so at module level a
command module imports only the standard library, typer and rich (and ``..errors``); torch,
timm, onnx, matplotlib, numpy and the pipeline stages are imported inside the command
functions. ``ofa2 --help``, ``ofa2 <group> --help`` and the ``list`` commands then start in a
fraction of a second; ``tests/test_cli_startup.py`` checks it for every command.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from ..errors import Ofa2Error

# One module per command group, in pipeline order.
COMMAND_MODULES = ("arch", "assets", "profile", "train", "search", "front", "package", "publish", "run", "zoo")

err_console = Console(stderr=True)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="ofa2",
        help="Search Once-for-All supernets for Pareto fronts per hardware profile, and package "
             "and publish them as timm models.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``ofa2`` console script."""
    app = build_app()
    try:
        # Standalone mode: click/typer handle --help, usage errors (exit 2) and Ctrl-C.
        app(args=argv, prog_name="ofa2")
    except Ofa2Error as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
