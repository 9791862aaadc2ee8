"""Exception types of the packaging stage (defined in :mod:`ofa2_zoo.errors`, re-exported here)."""

from __future__ import annotations

from ..errors import ContainmentError, PackageError, ParityError, RuntimeUnavailable

__all__ = ["PackageError", "ParityError", "ContainmentError", "RuntimeUnavailable"]
