"""How the ``ofa2`` command ends: exit codes and the one line a user sees when it fails.

Installed by :func:`ofa2_zoo.cli.main` before the command modules (and torch, timm, ...) are
imported, so an interrupt or a bad input at any moment ends the same way:

- success: exit 0;
- bad input (:class:`~ofa2_zoo.errors.Ofa2Error`, a usage error of an option or argument, a
  file that cannot be read or written): exit 2 and exactly one line on stderr;
- Ctrl-C (also during start-up): exit 130 and one line (with what was kept when the command
  says so, :class:`~ofa2_zoo.errors.Interrupted`). In the real process (:func:`main` without
  ``argv``) the first Ctrl-C is final: :func:`interrupt_once` makes later ones ignored, and
  the process ends with ``os._exit(130)`` after flushing its output, so neither a second
  Ctrl-C nor the interpreter's shutdown can turn the exit into a death by SIGINT (status -2);
- anything else is a bug: one line naming the exception type and exit 1. ``OFA2_DEBUG=1``
  re-raises it with its traceback for a developer.

The line is plain text: rich markup in a message (``[a-z0-9]`` in a pattern) is escaped,
newlines are folded, and a message longer than :data:`MAX_MESSAGE` characters is cut, so no
input can make the message itself unbounded.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from .. import constants
from ..errors import Interrupted, Ofa2Error

MAX_MESSAGE = 1000
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
INTERRUPTED = "interrupted (Ctrl-C)"


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` on one line, at most ``limit`` characters (the middle is cut)."""
    text = " ".join(part.strip() for part in str(text).splitlines() if part.strip())
    if len(text) > limit:
        keep = limit - 5
        text = text[: keep * 3 // 4] + " ... " + text[-(keep - keep * 3 // 4):]
    return text


def say_error(message: str, prefix: str = "error: ") -> None:
    """Print one plain line on stderr (rich markup escaped; red prefix on a terminal)."""
    try:
        from rich.markup import escape

        from ._ui import err_console
    except KeyboardInterrupt:
        print(prefix + one_line(message), file=sys.stderr)
        return
    err_console.print(f"[bold red]{escape(prefix)}[/]{escape(one_line(message))}")


def run(build_app: Callable[[], Any], argv: list[str] | None) -> int:
    """Build the typer app and run it on ``argv``; return the exit code (never raises, except with
    ``OFA2_DEBUG=1`` for bugs)."""
    Interrupted.last_note = None
    try:
        click = _click_exceptions()
        app = build_app()
        try:
            code = app(args=argv, prog_name="ofa2", standalone_mode=False)
        except click.NoArgsIsHelpError as exc:  # the help is already printed (stdout)
            return exc.exit_code
        except click.UsageError as exc:
            ctx = exc.ctx
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            say_error(exc.format_message() + where)
            return EXIT_BAD_INPUT
        except _abort_types() as exc:  # click turns KeyboardInterrupt into Abort (``from`` the interrupt)
            say_error(_interrupted(exc))
            return EXIT_INTERRUPTED
        except click.ClickException as exc:
            say_error(exc.format_message())
            return exc.exit_code
        if code == EXIT_INTERRUPTED:  # typer turns KeyboardInterrupt into Exit(130) without a word
            say_error(_interrupted(None))
        return code if isinstance(code, int) else 0
    except KeyboardInterrupt as exc:
        say_error(_interrupted(exc))
        return EXIT_INTERRUPTED
    except Ofa2Error as exc:
        say_error(str(exc))
        return EXIT_BAD_INPUT
    except MemoryError:
        say_error("out of memory; use a smaller budget (population, generations, batch sizes) or a larger machine")
        return EXIT_BAD_INPUT
    except OSError as exc:  # a file or folder that cannot be read or written: the user's to fix
        say_error(_os_error(exc))
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback only on request
        if constants.debug():
            raise
        say_error(f"internal error {type(exc).__name__}: {exc} (a bug in ofa2-zoo; rerun with OFA2_DEBUG=1 for the "
                  "traceback and report it)")
        return 1


def _interrupted(exc: BaseException | None) -> str:
    """The Ctrl-C line: ``INTERRUPTED``, plus the note of an :class:`Interrupted` in the chain
    (or, where typer kept only the exit code, of the one this command raised)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, Interrupted) and str(exc):
            return f"{INTERRUPTED} {exc}"
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return f"{INTERRUPTED} {Interrupted.last_note}" if Interrupted.last_note else INTERRUPTED


def interrupt_once() -> None:
    """Make the first Ctrl-C raise ``KeyboardInterrupt`` and every later one do nothing (the
    process is already on its way out; a second interrupt would only cut the cleanup or the
    error line short). For the real process only: it changes the process-wide SIGINT handler."""
    import signal

    def first(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, first)


def exit_now(code: int) -> None:
    """End the real process with ``code`` after flushing stdout and stderr, skipping the
    interpreter's shutdown (used after a Ctrl-C, whose cleanup already ran while unwinding)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _click_exceptions():
    """The click exception classes typer raises (typer >= 0.20 vendors click as ``typer._click``)."""
    try:
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return exceptions


def _abort_types() -> tuple[type, ...]:
    import typer

    types: list[type] = [typer.Abort]
    try:
        import click

        types.append(click.Abort)
    except ImportError:
        pass
    return tuple(types)


def _os_error(exc: OSError) -> str:
    what = exc.strerror or str(exc) or type(exc).__name__
    where = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    return f"{where}: {what}" if where else what
