"""A Pareto front as a versioned artifact: :class:`Front`, its members, reading and writing ``front.json``.

``front.json`` is deterministic for fixed inputs and seed: everything but the ``timing``
field is byte-identical between runs (sorted keys, canonical archs, members sorted by
latency). A front's *version id* is the sha256 of what defines it (space, profile id,
canonical member archs and their objective values), so two searches that found the same
front have the same id however long they took.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
from pydantic import ValidationError

from .._version import __version__
from .._io import digest, read_json_capped, write_json_atomic
from .._schema import field_error
from ..errors import FileTooLarge, FrontError, Ofa2Error, clip, shorten
from ..space import ArchSpec, SearchSpace
from .schema import (FILENAME, FIX_FRONT, FORMAT, MAX_FRONT_BYTES, TIMING_FILENAME, FrontModel,
                     objective_range_error)


def check_front_values(members: list["FrontMember"], objective_meta: dict[str, dict], searched: list[str],
                       where: str) -> None:
    """Members are what a search can produce: every objective present and in range, no arch
    twice, and no member dominated by another on the searched objectives."""
    for i, m in enumerate(members):
        missing = [o for o in objective_meta if o not in m.objectives]
        if missing:
            raise FrontError(f"{where}: field 'members.{i}.objectives': lacks objective(s) {missing} ({FIX_FRONT})")
        for name, value in m.objectives.items():
            why = objective_range_error(name, (objective_meta.get(name) or {}).get("unit"), value)
            if why:
                raise FrontError(f"{where}: field 'members.{i}.objectives.{clip(name, 40)}': {why} "
                                 f"({FIX_FRONT})")
    seen: dict[ArchSpec, int] = {}
    for i, m in enumerate(members):
        if m.arch in seen:
            raise FrontError(f"{where}: field 'members.{i}.arch': the same network as member {seen[m.arch]} "
                             f"(members are unique canonical archs; {FIX_FRONT})")
        seen[m.arch] = i
    unknown = [o for o in searched if o not in objective_meta]
    if unknown:
        raise FrontError(f"{where}: field 'algorithm.objectives': {shorten(unknown)} not in objective_meta "
                         f"({FIX_FRONT})")
    if len(searched) >= 2 and len(members) > 1:
        sign = np.array([-1.0 if objective_meta[o].get("direction") == "max" else 1.0 for o in searched])
        F = np.array([[m.objectives[o] for o in searched] for m in members]) * sign
        i, j = _dominated_pair(F)
        if i is not None:
            raise FrontError(f"{where}: field 'members.{i}': dominated by member {j} on {', '.join(searched)} "
                             f"(a Pareto front holds only non-dominated members; {FIX_FRONT})")


def _dominated_pair(F: np.ndarray) -> tuple[int | None, int | None]:
    """(i, j) with member i dominated by member j (minimisation), or (None, None)."""
    from moocore import is_nondominated

    keep = is_nondominated(F, keep_weakly=True)
    if keep.all():
        return None, None
    i = int(np.flatnonzero(~keep)[0])
    j = int(np.flatnonzero(np.all(F <= F[i], axis=1) & np.any(F < F[i], axis=1))[0])
    return i, j


# ---------------------------------------------------------------------------- artifact
@dataclass(frozen=True)
class FrontMember:
    arch: ArchSpec
    objectives: dict[str, float]


@dataclass
class Front:
    members: list[FrontMember]
    space: SearchSpace
    profile: dict[str, Optional[str]]
    supernet: dict[str, Optional[str]]
    accuracy: dict[str, Optional[str]]
    objective_meta: dict[str, dict]
    hypervolume: float
    reference_point: dict[str, float]
    algorithm: dict[str, Any]
    seed: int
    evaluations: int
    history: list[dict[str, float]] = field(default_factory=list)
    population: list[dict[str, float]] = field(default_factory=list)
    package_version: str = __version__
    timing: dict[str, Any] = field(default_factory=dict)

    @property
    def profile_id(self) -> str:
        return str(self.profile.get("id"))

    @property
    def objective_names(self) -> list[str]:
        return list(self.objective_meta)

    @property
    def searched_objectives(self) -> list[str]:
        """The objectives the search optimised (the front is non-dominated on these)."""
        return list(self.algorithm.get("objectives") or self.objective_names[:2])

    def values(self, name: str) -> np.ndarray:
        return np.array([m.objectives[name] for m in self.members])

    @property
    def version_id(self) -> str:
        ident = {"space": self.space.to_dict(), "profile": self.profile_id,
                 "members": [{"arch": m.arch.to_dict(), "objectives": m.objectives} for m in self.members]}
        return digest(ident)

    # -------------------------------------------------------------- selection
    def select(self, k: int) -> list[int]:
        """Indices of ``k`` members spread evenly along the front, always including both ends.

        The rule: scale each searched objective to [0, 1] over the front, walk the members in
        order (fastest first) and measure the cumulative path length along the front; for
        ``k`` equally spaced targets on that length, take the nearest member not taken yet
        (ties to the faster one). Index 0 (fastest) and ``n - 1`` (most accurate) are always
        included. ``k >= n`` returns every member. The result is sorted, hence deterministic.
        """
        n = len(self.members)
        if k >= n:
            return list(range(n))
        if k <= 0:
            return []
        if k == 1:
            return [0]
        names = self.searched_objectives
        pts = np.column_stack([self.values(o) for o in names]).astype(float)
        span = np.ptp(pts, axis=0)
        pts = (pts - pts.min(axis=0)) / np.where(span > 0, span, 1)
        arc = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
        chosen = [0, n - 1]
        for t in np.linspace(0, arc[-1], k)[1:-1]:
            order = np.argsort(np.abs(arc - t), kind="stable")
            chosen.append(next(int(i) for i in order if int(i) not in chosen))
        return sorted(chosen)

    # -------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "space": self.space.to_dict(), "profile": self.profile, "supernet": self.supernet,
            "accuracy": self.accuracy, "objective_meta": self.objective_meta,
            "members": [{"arch": m.arch.to_dict(), "objectives": m.objectives} for m in self.members],
            "hypervolume": self.hypervolume, "reference_point": self.reference_point, "algorithm": self.algorithm,
            "seed": self.seed, "evaluations": self.evaluations, "history": self.history,
            "population": self.population, "package_version": self.package_version, "timing": self.timing,
        }

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write ``out_dir/front.json`` atomically and return its path.

        ``front.json`` keeps only the total wall time in its ``timing`` field (its last key);
        the per-generation times and cache statistics go to ``out_dir/timing.json``. Apart
        from ``timing``, ``front.json`` is byte-identical for fixed inputs and seed.
        """
        out_dir = Path(out_dir)
        check_front_values(self.members, self.objective_meta, self.searched_objectives, f"front for {out_dir}")
        data = self.to_dict()
        data["timing"] = {k: v for k, v in self.timing.items() if k == "wall_time_s"}
        path = out_dir / FILENAME
        write_json_atomic(path, data)
        write_json_atomic(out_dir / TIMING_FILENAME, self.timing)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Front":
        path = Path(path)
        if path.is_dir():
            # a package (ofa2 package) or an `ofa2 run` output keeps its front in front/
            inner = path / "front" / FILENAME
            path = inner if not (path / FILENAME).is_file() and inner.is_file() else path / FILENAME
        if not path.is_file():
            raise FrontError(f"no front at {path} (expected a folder with {FILENAME}, a package or `ofa2 run` "
                             f"folder with front/{FILENAME}, or the file itself)")
        try:
            raw = read_json_capped(path, MAX_FRONT_BYTES)
        except FileTooLarge as exc:
            raise FrontError(f"{path}: {exc.size:,} bytes is too large for a front.json (at most "
                             f"{MAX_FRONT_BYTES:,}; {FIX_FRONT})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FrontError(f"{path}: not valid JSON ({exc}; {FIX_FRONT})") from None
        if isinstance(raw, dict) and raw.get("format") != FORMAT:
            raise FrontError(f"{path}: field 'format': {shorten(raw.get('format'))} is not {FORMAT!r} (not a front "
                             f"written by this version of ofa2-zoo; {FIX_FRONT})")
        try:
            model = FrontModel.model_validate(raw)
        except ValidationError as exc:
            raise FrontError(f"{path}: {field_error(exc)} ({FIX_FRONT})") from None
        try:
            space = SearchSpace.from_dict(model.space)
        except Ofa2Error as exc:
            raise FrontError(f"{path}: field 'space': {exc} ({FIX_FRONT})") from None
        members = []
        for i, m in enumerate(model.members):
            try:
                members.append(FrontMember(ArchSpec.from_dict(m.arch, space), dict(m.objectives)))
            except Ofa2Error as exc:
                raise FrontError(f"{path}: field 'members.{i}.arch': {exc} ({FIX_FRONT})") from None
        searched = list(model.algorithm.get("objectives") or list(model.objective_meta)[:2])
        if not isinstance(model.algorithm.get("objectives", []), list):
            raise FrontError(f"{path}: field 'algorithm.objectives': not a list ({FIX_FRONT})")
        check_front_values(members, {k: v.model_dump() for k, v in model.objective_meta.items()}, searched,
                           str(path))
        timing = dict(model.timing)
        extra = path.parent / TIMING_FILENAME
        if extra.is_file():
            try:
                more = json.loads(extra.read_text())
                timing = {**more, **timing} if isinstance(more, dict) else timing
            except (json.JSONDecodeError, UnicodeDecodeError):
                pass  # timing details are informational only
        return cls(members=members, space=space, profile=model.profile, supernet=model.supernet,
                   accuracy=model.accuracy, objective_meta={k: v.model_dump() for k, v in model.objective_meta.items()},
                   hypervolume=model.hypervolume, reference_point=model.reference_point, algorithm=model.algorithm,
                   seed=model.seed, evaluations=model.evaluations, history=model.history,
                   population=model.population, package_version=model.package_version, timing=timing)
