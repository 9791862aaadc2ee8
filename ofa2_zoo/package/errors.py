"""Exception types of the packaging stage."""

from __future__ import annotations

from ..errors import Ofa2Error


class PackageError(Ofa2Error, RuntimeError):
    """Packaging cannot go on: bad input (front, supernet, data, output folder) or a failed check."""


class ParityError(PackageError):
    """An exported file does not compute what the PyTorch model computes."""
