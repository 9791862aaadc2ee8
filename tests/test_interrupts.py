"""Ctrl-C (issue 23): while `ofa2 run` packages, the line says which files of the finished search
were kept and where; in a real process the first Ctrl-C is final, so the exit status is 130
whatever a second Ctrl-C or the interpreter's shutdown does. Interrupts are raised at chosen
points (no race with a timer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ofa2_zoo.package
from _bad_input_helpers import refused
from ofa2_zoo.cli.guard import INTERRUPTED, _interrupted
from ofa2_zoo.errors import Interrupted
from ofa2_zoo.run import run_pipeline

RUN = ["run", "--population", "8", "--generations", "2"]
ROOT = Path(__file__).resolve().parents[1]


def _note(out: Path) -> str:
    return (f"while packaging; the finished search was kept in {out / 'front'} (front.json, timing.json); no package was written "
            f"to {out / 'package'} (package the kept front with `ofa2 package {out / 'front'} --out "
            f"{out / 'package'}`)")


def _interrupt_packaging(*args, **kwargs):
    raise KeyboardInterrupt


def test_ctrl_c_while_packaging_says_what_was_kept(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ofa2_zoo.package, "package_front", _interrupt_packaging)
    out = tmp_path / "out"
    line = refused(capsys, *RUN, "--out", out, code=130, match=r"^error: interrupted \(Ctrl-C\) while packaging")
    assert line == f"error: {INTERRUPTED} {_note(out)}"
    kept = json.loads((out / "front" / "front.json").read_text())
    assert kept["profile"]["id"] == "digits-cpu" and kept["members"]
    assert sorted(p.name for p in out.iterdir()) == ["front"]
    assert sorted(p.name for p in (out / "front").iterdir()) == ["front.json", "timing.json"]


def test_the_python_api_raises_interrupted_with_the_same_note(tmp_path, monkeypatch):
    monkeypatch.setattr(ofa2_zoo.package, "package_front", _interrupt_packaging)
    with pytest.raises(Interrupted) as exc:
        run_pipeline(tmp_path / "o", population=8, generations=2)
    assert str(exc.value) == _note(tmp_path / "o") and isinstance(exc.value, KeyboardInterrupt)


def test_the_line_takes_the_note_from_the_chain():
    try:
        try:
            raise Interrupted("while packaging; kept x")
        except KeyboardInterrupt as first:
            raise RuntimeError("click's Abort") from first
    except RuntimeError as wrapped:
        assert _interrupted(wrapped) == f"{INTERRUPTED} while packaging; kept x"
    Interrupted.last_note = None
    assert _interrupted(KeyboardInterrupt()) == INTERRUPTED
    assert _interrupted(Interrupted()) == INTERRUPTED  # no note: the plain line
    Interrupted("while packaging; kept y")
    assert _interrupted(None) == f"{INTERRUPTED} while packaging; kept y"  # typer kept only the exit code
    Interrupted.last_note = None


# ---------------------------------------------------------------------------- the real process
def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests"),
                                                        os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)


def test_interrupt_once_ignores_every_later_ctrl_c(tmp_path):
    proc = _python("""
        import os, signal, time
        from ofa2_zoo.cli.guard import interrupt_once
        interrupt_once()
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(60)
        except KeyboardInterrupt:
            print("first raised")
        print("then ignored:", signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        print("still running")
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["first raised", "then ignored: True", "still running"]


PACKAGING_CTRL_C = """
    import os, signal, sys, time
    import ofa2_zoo.package

    def interrupted(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while packaging
            time.sleep(60)
        finally:
            if {twice}:
                os.kill(os.getpid(), signal.SIGINT)  # and again while the first one unwinds
                time.sleep(0.2)

    ofa2_zoo.package.package_front = interrupted
    sys.argv = ["ofa2", "run", "--population", "8", "--generations", "2", "--out", "out"]
    from ofa2_zoo.cli import main
    main()
"""


@pytest.mark.parametrize("twice", [False, True])
def test_a_real_process_exits_130_with_one_line(tmp_path, twice):
    proc = _python(PACKAGING_CTRL_C.format(twice=twice), tmp_path)
    assert proc.returncode == 130, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"error: {INTERRUPTED} {_note(Path('out'))}"], proc.stderr[-2000:]
    assert (tmp_path / "out/front/front.json").is_file() and not (tmp_path / "out/package").exists()


@pytest.mark.parametrize("error, line", [
    (PermissionError(13, "Permission denied", "/srv/out/front.json"), "error: /srv/out/front.json: Permission denied"),
    (OSError(28, "No space left on device"), "error: No space left on device"),
    (FileNotFoundError(2, "No such file or directory", "/a", None, "/b"), "error: /a -> /b: No such file or directory"),
])
def test_an_os_error_in_a_command_is_bad_input_exit_2_in_one_line(error, line, capsys):
    """A file or folder the user must fix (permissions, a full disk): exit 2 and one line naming
    the path, never an internal error."""
    import typer

    from ofa2_zoo.cli.guard import EXIT_BAD_INPUT, run

    def build_app():
        app = typer.Typer()

        @app.command()
        def write() -> None:
            raise error

        @app.command()
        def other() -> None:  # two commands: typer keeps the command name on the command line
            pass

        return app

    assert EXIT_BAD_INPUT == 2
    assert run(build_app, ["write"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [line]
