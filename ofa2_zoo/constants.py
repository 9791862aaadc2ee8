"""Every environment variable ofa2-zoo reads, each parsed in this one module.

Like huggingface_hub's ``constants``, the rest of the package never touches ``os.environ`` to
read a setting: it asks here, so each variable has one name, one parsing rule and one default.
Unlike there, the values are functions read on each call, not frozen at import: they change
within one process (``ofa2 train --data`` sets ``$OFA2_DATA`` for itself and its workers, and
tests point the caches and indexes elsewhere while the package is loaded).

Rules:

- an empty variable counts as unset;
- paths have ``~`` expanded;
- a switch leaves its default only for an explicit word: a switch that is off by default is
  on for ``1``/``on``/``yes``/``true``, one that is on by default is off for
  ``0``/``off``/``no``/``false`` (any case, spaces around ignored); other words keep the default.

Writing the environment (the thread settings ``ofa2 train`` gives its workers) is not reading
it and stays where it happens.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import AssetError, shorten

TRUE_WORDS = frozenset({"1", "on", "yes", "true"})
FALSE_WORDS = frozenset({"0", "off", "no", "false"})

#: Seconds without a single byte before a download is abandoned (``$OFA2_DOWNLOAD_STALL``).
STALL_SECONDS = 60.0
#: Seconds one command's downloads may take in all (``$OFA2_DOWNLOAD_DEADLINE``).
DEADLINE_SECONDS = 3600.0


def _text(name: str) -> str | None:
    return os.environ.get(name) or None


def _path(name: str) -> Path | None:
    value = _text(name)
    return Path(value).expanduser() if value is not None else None


def _switch(name: str, default: bool) -> bool:
    value = (_text(name) or "").strip().lower()
    return (value not in FALSE_WORDS) if default else (value in TRUE_WORDS)


def _seconds(name: str, default: float) -> float:
    raw = _text(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (value > 0 and math.isfinite(value)):
        raise AssetError(f"{name}={shorten(raw)} is not a number of seconds > 0 (fix: e.g. {name}={default:g}, or "
                         "unset it)")
    return value


# ---------------------------------------------------------------------------- folders and files
def cache_dir() -> Path:
    """ofa2-zoo's download cache: ``$OFA2_CACHE``, else ``~/.cache/ofa2_zoo``."""
    return _path("OFA2_CACHE") or Path.home() / ".cache" / "ofa2_zoo"


def assets_dir() -> Path | None:
    """``$OFA2_ASSETS``: a folder holding the official OFA files (None: the download cache)."""
    return _path("OFA2_ASSETS")


def assets_url() -> str | None:
    """``$OFA2_ASSETS_URL``: the base URL of a mirror of the official files (checked by the caller)."""
    return _text("OFA2_ASSETS_URL")


def data_dir() -> Path | None:
    """``$OFA2_DATA``: a folder with a dataset's files (``--data`` wins over it)."""
    return _path("OFA2_DATA")


def profiles_dir() -> Path | None:
    """``$OFA2_PROFILES``: a folder of the user's own hardware profiles, looked up first."""
    return _path("OFA2_PROFILES")


def machine_dir() -> Path | None:
    """``$OFA2_MACHINE_DIR``: where per-machine data lives (None: ``<cache>/machine``)."""
    return _path("OFA2_MACHINE_DIR")


def zoo_index() -> Path | None:
    """``$OFA2_ZOO_INDEX``: a Hub zoo index used instead of the shipped one (CI, private zoos)."""
    return _path("OFA2_ZOO_INDEX")


def user_index() -> Path | None:
    """``$OFA2_USER_INDEX``: the user's zoo index file (None: ``<cache>/zoo_index.json``)."""
    return _path("OFA2_USER_INDEX")


# ---------------------------------------------------------------------------- switches and limits
def offline() -> bool:
    """No downloads: ``$OFA2_OFFLINE`` or ``$HF_HUB_OFFLINE`` is on, or huggingface_hub is in its
    offline mode (which it decides once, when it is imported: ``HF_HUB_OFFLINE``,
    ``TRANSFORMERS_OFFLINE``). Every download of ofa2-zoo, official files and Hub pulls alike,
    asks this one function."""
    if _switch("OFA2_OFFLINE", False) or _switch("HF_HUB_OFFLINE", False):
        return True
    from huggingface_hub import constants as hf_constants

    return bool(hf_constants.is_offline_mode())


def machine_check() -> bool:
    """Whether a profile's canary is timed to check the machine (``$OFA2_MACHINE_CHECK``, on by default)."""
    return _switch("OFA2_MACHINE_CHECK", True)


def debug() -> bool:
    """``$OFA2_DEBUG``: the CLI shows an internal error's traceback instead of one line."""
    return _switch("OFA2_DEBUG", False)


def download_stall_seconds() -> float:
    """``$OFA2_DOWNLOAD_STALL``, else :data:`STALL_SECONDS`; not a number > 0: :class:`AssetError`."""
    return _seconds("OFA2_DOWNLOAD_STALL", STALL_SECONDS)


def download_deadline_seconds() -> float:
    """``$OFA2_DOWNLOAD_DEADLINE``, else :data:`DEADLINE_SECONDS`; not a number > 0: :class:`AssetError`."""
    return _seconds("OFA2_DOWNLOAD_DEADLINE", DEADLINE_SECONDS)


# ---------------------------------------------------------------------------- libraries set by their environment
@contextmanager
def environment_set(name: str, value: str) -> Iterator[None]:
    """``$name`` is ``value`` inside the block and as before after it (for libraries that read a
    setting only from their environment, such as litert-torch's progress lines)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
