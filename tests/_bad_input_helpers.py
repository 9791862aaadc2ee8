"""Helpers of the bad-input corpus (``test_bad_*.py``): run the ``ofa2`` command in this process
(``ofa2_zoo.cli.main``, the console script's own entry point) and check how it failed.

A refusal must be: the expected exit code (2 for bad input, 130 for Ctrl-C), exactly one line
on stderr that matches what the user must read, no traceback anywhere, and nothing written
where the command would write (the caller passes the folders to watch).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ofa2_zoo.cli import main


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folders`` with its (size, mtime_ns): to prove nothing was written."""
    out = {}
    for folder in folders:
        if folder.is_symlink() or folder.is_file():
            out[str(folder)] = (folder.lstat().st_size, folder.lstat().st_mtime_ns)
            continue
        for root, dirs, files in os.walk(folder):
            for name in dirs + files:
                p = Path(root) / name
                out[str(p)] = (p.lstat().st_size, p.lstat().st_mtime_ns)
    return out


def run_cli(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def refused(capsys, *args, match: str, code: int = 2, watch: tuple[Path, ...] = ()) -> str:
    """Run ``ofa2 ARGS``; assert the refusal contract; return the one stderr line."""
    before = snapshot(*watch)
    rc, out, err = run_cli(capsys, *args)
    lines = err.strip().splitlines()
    assert rc == code, f"exit {rc} (expected {code}) for {args}: stdout={out[-500:]!r} stderr={err[-500:]!r}"
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {err[-2000:]!r}"
    assert "Traceback" not in out + err
    assert re.search(match, lines[0]), f"{match!r} not in {lines[0]!r}"
    assert len(lines[0]) <= 1100, f"unbounded error line ({len(lines[0])} characters)"
    assert snapshot(*watch) == before, "a refused command wrote or changed files"
    return lines[0]
