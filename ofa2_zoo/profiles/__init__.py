"""Hardware profiles: what a device optimises and where its latency numbers come from.

``load_profile("note10", assets=...)`` reads ``hardware_profiles/note10.yaml`` (or any YAML
path), validates it, and returns a :class:`HardwareProfile` whose ``latency(archs)`` /
``latency_genes(genes)`` give milliseconds for whole populations at once.

Modules: :mod:`.schema` (the YAML format), :mod:`.loader` (finding and binding profiles),
:mod:`.lut` (lookup tables), :mod:`.measure` (measurement backends), :mod:`.build`
(``build-lut``, ``ensure_lut``), :mod:`.validate` (table vs measurement), :mod:`.machine`
(this machine, its canary and stored calibrations), :mod:`.calibration` (checking a table
against this machine, ``ofa2 profile calibrate``).
"""

from __future__ import annotations

from ..progress import ProgressFn
from .loader import (DEFAULT_PROFILE, HardwareProfile, HubNaming, PackagePlan, ProfileError, Readiness, find_profile,
                     list_profiles, load_profile, profile_dirs)
from .lut import LatencyTable, LookupTableError

__all__ = ["DEFAULT_PROFILE", "HardwareProfile", "HubNaming", "LatencyTable", "LookupTableError", "PackagePlan",
           "ProfileError", "Readiness", "ensure_lut", "find_profile", "list_profiles", "load_profile", "profile_dirs"]


def ensure_lut(profile, progress: ProgressFn | None = None, calibration_archs: int = 30):
    """Build the profile's lookup table if it is missing (see :func:`.build.ensure_lut`)."""
    from .build import ensure_lut as _ensure

    return _ensure(profile, progress=progress, calibration_archs=calibration_archs)
