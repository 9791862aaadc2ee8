"""Exception types of ofa2-zoo.

Every error a user can cause by giving bad input derives from :class:`Ofa2Error`; the CLI
turns those into a one-line message and exit code 2 instead of a traceback. Each class also
derives from the builtin exception a Python caller would expect (``ValueError`` for bad
values, ``FileNotFoundError`` for missing files) so ordinary ``except`` clauses keep working.
"""

from __future__ import annotations


class Ofa2Error(Exception):
    """Base class for errors caused by the caller's input, not by a bug."""


class ArchError(Ofa2Error, ValueError):
    """An architecture spec is malformed or lies outside its search space."""


class SpaceError(Ofa2Error, ValueError):
    """A search-space definition is inconsistent or unknown."""


class CheckpointError(Ofa2Error, ValueError):
    """A weights file cannot be read safely or does not fit the network."""


class DatasetError(Ofa2Error, ValueError):
    """A dataset is missing, empty, corrupt or does not fit the search space."""


class AssetError(Ofa2Error, OSError):
    """An asset (checkpoint, predictor, lookup table) is missing or fails its checksum."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C with a note for the user (what was kept, how to go on); the ``ofa2`` command
    prints the note after "interrupted (Ctrl-C)" and exits 130 as for any Ctrl-C."""

    #: The note of the newest one raised (typer keeps only the exit code of an interrupt).
    last_note: str | None = None

    def __init__(self, note: str = ""):
        super().__init__(note)
        Interrupted.last_note = note or None


# Longest piece of user input quoted in an error message; longer input is cut with "...".
QUOTE_LIMIT = 80


def shorten(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to about ``limit`` characters, computed without building the full repr.

    Error messages quote what the user gave; a 400 KB file or an exponentially aliased YAML
    value must not be formatted whole (that is how a bad input turns into a ``MemoryError``).
    :mod:`reprlib` bounds the work as well as the output.
    """
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxdict, r.maxlist, r.maxtuple, r.maxset = 3, 4, 6, 6, 6
    r.maxstring = r.maxother = r.maxlong = limit
    text = r.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def clip(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` itself (no quotes added), cut to ``limit`` characters with "..."."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."
