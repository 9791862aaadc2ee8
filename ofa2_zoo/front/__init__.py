"""Pareto fronts as versioned artifacts: ``front.json``, member selection, plots and diffs.

Modules: :mod:`.schema` (the ``front.json`` format and the valid objective values),
:mod:`.artifact` (:class:`Front`: reading, writing, version ids), :mod:`.diff` (what changed
between two versions), :mod:`.plot` (the PNG) and :mod:`.reference` (OFA's published nets
placed in a front).
"""

from __future__ import annotations

from .artifact import Front, FrontMember, check_front_values
from .diff import FrontDiff, check_comparable, diff_fronts
from .plot import plot_front
from .reference import ReferencePoint, SpecializedNet, load_specialized, reference_points
from ..errors import FrontError
from .schema import (FILENAME, FIX_FRONT, FORMAT, MAX_FRONT_BYTES, TIMING_FILENAME, FrontModel, MemberModel, ObjectiveMeta,
                     objective_range_error)

__all__ = ["FILENAME", "FIX_FRONT", "FORMAT", "MAX_FRONT_BYTES", "TIMING_FILENAME", "Front", "FrontDiff", "FrontError",
           "FrontMember", "FrontModel", "MemberModel", "ObjectiveMeta", "ReferencePoint", "SpecializedNet",
           "check_comparable", "check_front_values", "diff_fronts", "load_specialized", "objective_range_error",
           "plot_front", "reference_points"]
