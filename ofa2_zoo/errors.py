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


class AssetError(Ofa2Error, OSError):
    """An asset (checkpoint, predictor, lookup table) is missing or fails its checksum."""
