"""The ``ofa2`` command line: a thin typer layer over the Python API.

Each pipeline stage has its own command module exposing ``register(app)``, listed in
:data:`COMMAND_MODULES`. How a command ends (exit codes, the one-line error, Ctrl-C) is
:mod:`.guard`'s job; :func:`main` installs it before anything heavy is imported, so no input and
no interrupt ever shows a traceback.

Start-up rule: every command module is imported for ``ofa2 --help``, so at module level a
command module imports only the standard library, typer and rich (and ``..errors``); torch,
timm, onnx, matplotlib, numpy and the pipeline stages are imported inside the command
functions. ``ofa2 --help``, ``ofa2 <group> --help`` and the ``list`` commands then start in a
fraction of a second; ``tests/test_cli_startup.py`` checks it for every command.
"""

from __future__ import annotations

import importlib
import sys

# One module per command group, in pipeline order.
COMMAND_MODULES = ("arch", "assets", "data", "profile", "train", "search", "front", "package", "publish", "export",
                   "run", "zoo")


_early_plot = None  # `ofa2 search`'s plot process, started by main() before the app is built


def _start_plot_early(args: list[str]):
    """``ofa2 search`` (unless ``--no-plot`` or help) draws ``front.png`` in a second process that
    imports matplotlib while the search runs (:class:`ofa2_zoo._plot.BackgroundPlot`): start it
    before typer and the command modules are imported, about 0.15 s sooner. The search command
    takes it (:func:`take_early_plot`)."""
    if not args or args[0] != "search" or any(a in ("--no-plot", "-h", "--help") for a in args[1:]):
        return None
    from .._plot import BackgroundPlot

    return BackgroundPlot()


def take_early_plot():
    """The plot process :func:`main` started for this ``ofa2 search``, or ``None``; taken once."""
    global _early_plot
    plotter, _early_plot = _early_plot, None
    return plotter


def build_app():
    import typer

    from ._ui import fold_help

    fold_help()
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
    """Entry point of the ``ofa2`` console script: always ends with ``SystemExit`` (0 success,
    2 bad input with one line, 130 Ctrl-C; see :mod:`.guard`).

    Without ``argv`` (the console script, ``python -m ofa2_zoo``) this is the whole process: the
    first Ctrl-C is final and an interrupted run ends with exit status 130 whatever happens
    after it (:func:`.guard.interrupt_once`, :func:`.guard.exit_now`). With ``argv`` (a caller in
    Python, the tests) nothing process-wide is changed."""
    try:
        from .guard import EXIT_INTERRUPTED, exit_now, interrupt_once, run
    except KeyboardInterrupt:
        sys.exit(130)
    whole_process = argv is None
    if whole_process:
        try:
            interrupt_once()
        except (ValueError, OSError):  # not the main thread: keep Python's handler
            whole_process = False
    global _early_plot
    _early_plot = _start_plot_early(sys.argv[1:] if argv is None else argv)
    try:
        code = run(build_app, argv)
    finally:
        plotter, _early_plot = _early_plot, None
        if plotter is not None:  # not taken: the command failed before it searched
            plotter.close()
    if whole_process and code == EXIT_INTERRUPTED:
        exit_now(code)
    sys.exit(code)
