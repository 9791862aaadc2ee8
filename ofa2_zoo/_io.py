"""Atomic file output: a crash or an exception never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from .errors import FileTooLarge, JsonTooDeep, OutputFileError, OutputPathError


def check_out_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Refuse, before any work, an output folder that is a file or lies under a file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{what} {path} is a file, not a folder (fix: give a folder; it is created when "
                              "missing)")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise OutputPathError(f"{what} {path} lies under {parent}, which is a file (fix: give a folder)")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    if path.is_dir():
        raise OutputFileError(f"{path} is a folder; give the path of a file to write")
    check_out_dir(path.parent, "output folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600 files; use the usual mode
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def dumps_stable(obj: Any) -> str:
    """``obj`` as the project's stable JSON text: indented by 2, sorted keys, a trailing newline, so
    equal data gives equal bytes (stable diffs and checksums); NaN or infinity raise ``ValueError``
    instead of writing text no JSON reader accepts. Every JSON file ofa2-zoo writes uses it."""
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"


def canonical_json(obj: Any, **options: Any) -> str:
    """``obj`` as JSON text with sorted keys, for what is compared or hashed rather than written as
    a file (a cache key, a fingerprint, a version id, a space in a checkpoint's metadata): equal
    data gives equal text. ``options`` go to ``json.dumps`` (compact separators, ``default``)."""
    return json.dumps(obj, sort_keys=True, **options)


def digest(obj: Any, length: int | None = None) -> str:
    """sha256 (hex) of :func:`canonical_json` text, cut to ``length`` hex digits when given."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` atomically as :func:`dumps_stable` text."""
    write_text_atomic(path, dumps_stable(obj))


def sha256_file(path: str | os.PathLike, *, memo: bool = True) -> str:
    """The sha256 (hex) of a file's bytes.

    ``memo=True`` remembers the digest of the last few hundred files, keyed by the resolved path,
    size and modification time in nanoseconds, so an asset checked again in the same process is
    not read again; a rewritten file changes its key. Pass ``memo=False`` where the bytes must be
    read every time (verifying a package: a tampered file may keep its size and mtime).
    """
    if not memo:
        return _sha256(path)
    st = os.stat(path)
    return _sha256_memo(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def _sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=256)
def _sha256_memo(path: str, size: int, mtime_ns: int) -> str:
    return _sha256(path)


def json_loads(data: str | bytes) -> Any:
    """``json.loads`` for input a user gave: nesting deeper than Python's recursion limit (an
    array of a million ``[``) raises :class:`json.JSONDecodeError` like any other malformed JSON,
    so each reader's own one-line message covers it instead of a ``RecursionError``."""
    try:
        return json.loads(data)
    except RecursionError:
        doc = data if isinstance(data, str) else ""
        raise JsonTooDeep("nested too deeply (more levels than Python's recursion limit)", doc, 0) from None


def read_json_capped(path: str | os.PathLike, max_bytes: int) -> Any:
    """The JSON in the file ``path``, read only when it has at most ``max_bytes`` bytes (checked
    before reading and again while reading, so a file that grows meanwhile is still refused) and
    parsed with :func:`json_loads`.

    Raises :class:`~ofa2_zoo.errors.FileTooLarge`, :class:`json.JSONDecodeError`,
    :class:`UnicodeDecodeError` or :class:`OSError`; each reader words its own one-line error.
    """
    size = os.stat(path).st_size
    if size > max_bytes:
        raise FileTooLarge(size, max_bytes)
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileTooLarge(len(data), max_bytes)
    return json_loads(data)
