"""Pareto fronts as versioned artifacts: ``front.json``, member selection, plots and diffs.

``front.json`` is deterministic for fixed inputs and seed: everything but the ``timing``
field is byte-identical between runs (sorted keys, canonical archs, members sorted by
latency). A front's *version id* is the sha256 of what defines it (space, profile id,
canonical member archs and their objective values), so two searches that found the same
front have the same id however long they took.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from . import __version__
from ._io import atomic_path, write_json_atomic
from .errors import Ofa2Error
from .space import ArchSpec, SearchSpace

FORMAT = "ofa2-front/1"
FILENAME = "front.json"


class FrontError(Ofa2Error, ValueError):
    """A front file is missing, corrupt or inconsistent."""


# ---------------------------------------------------------------------------- schema
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObjectiveMeta(_Model):
    unit: str
    source: Literal["predicted", "measured", "lookup-table", "analytic"]
    direction: Literal["min", "max"]


class MemberModel(_Model):
    arch: dict[str, list[int]]
    objectives: dict[str, float]


class FrontModel(_Model):
    format: Literal["ofa2-front/1"]
    space: dict[str, Any]
    profile: dict[str, Optional[str]]
    supernet: dict[str, Optional[str]]
    accuracy: dict[str, Optional[str]]
    objective_meta: dict[str, ObjectiveMeta]
    members: list[MemberModel]
    hypervolume: float
    reference_point: dict[str, float]
    algorithm: dict[str, Any]
    seed: int
    evaluations: int
    history: list[dict[str, float]] = []
    population: list[dict[str, float]] = []
    package_version: str
    timing: dict[str, float] = {}


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
    timing: dict[str, float] = field(default_factory=dict)

    @property
    def profile_id(self) -> str:
        return str(self.profile.get("id"))

    @property
    def objective_names(self) -> list[str]:
        return list(self.objective_meta)

    def values(self, name: str) -> np.ndarray:
        return np.array([m.objectives[name] for m in self.members])

    @property
    def version_id(self) -> str:
        ident = {"space": self.space.to_dict(), "profile": self.profile_id,
                 "members": [{"arch": m.arch.to_dict(), "objectives": m.objectives} for m in self.members]}
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()

    # -------------------------------------------------------------- selection
    def select(self, k: int) -> list[int]:
        """Indices of ``k`` members spread evenly along the front, always both ends.

        Objectives are scaled to [0, 1]; members are walked in latency order and the ones
        nearest to ``k`` equally spaced points of the cumulative path length are taken (ties
        and collisions resolved by taking the unused member farthest from those chosen).
        """
        n = len(self.members)
        if k >= n:
            return list(range(n))
        if k <= 0:
            return []
        if k == 1:
            return [0]
        names = self.algorithm.get("objectives") or self.objective_names[:2]
        pts = np.column_stack([self.values(o) for o in names]).astype(float)
        span = np.ptp(pts, axis=0)
        pts = (pts - pts.min(axis=0)) / np.where(span > 0, span, 1)
        arc = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
        chosen: list[int] = []
        for t in np.linspace(0, arc[-1], k):
            order = np.argsort(np.abs(arc - t), kind="stable")
            pick = next((int(i) for i in order if int(i) not in chosen), None)
            if pick is not None:
                chosen.append(pick)
        chosen[0], chosen[-1] = 0, n - 1
        return sorted(set(chosen))

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
        """Write ``out_dir/front.json`` atomically; returns its path."""
        path = Path(out_dir) / FILENAME
        write_json_atomic(path, self.to_dict())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Front":
        path = Path(path)
        if path.is_dir():
            path = path / FILENAME
        if not path.is_file():
            raise FrontError(f"no front at {path} (expected a folder with {FILENAME} or the file itself)")
        try:
            raw = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FrontError(f"{path}: not valid JSON ({exc})") from None
        try:
            model = FrontModel.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise FrontError(f"{path}: field '{'.'.join(map(str, err['loc']))}': {err['msg']}") from None
        try:
            space = SearchSpace.from_dict(model.space)
        except Ofa2Error as exc:
            raise FrontError(f"{path}: field 'space': {exc}") from None
        members = []
        for i, m in enumerate(model.members):
            try:
                members.append(FrontMember(ArchSpec.from_dict(m.arch, space), dict(m.objectives)))
            except Ofa2Error as exc:
                raise FrontError(f"{path}: member {i}: {exc}") from None
            missing = [o for o in model.objective_meta if o not in m.objectives]
            if missing:
                raise FrontError(f"{path}: member {i} lacks objective(s) {missing}")
        return cls(members=members, space=space, profile=model.profile, supernet=model.supernet,
                   accuracy=model.accuracy, objective_meta={k: v.model_dump() for k, v in model.objective_meta.items()},
                   hypervolume=model.hypervolume, reference_point=model.reference_point, algorithm=model.algorithm,
                   seed=model.seed, evaluations=model.evaluations, history=model.history,
                   population=model.population, package_version=model.package_version, timing=model.timing)


# ---------------------------------------------------------------------------- diff
@dataclass
class FrontDiff:
    added: list[ArchSpec]
    removed: list[ArchSpec]
    moved: list[tuple[ArchSpec, dict[str, float], dict[str, float]]]
    hypervolume_change: float

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed or self.moved)

    def to_markdown(self) -> str:
        lines = [f"- hypervolume change: {self.hypervolume_change:+.4f}",
                 f"- members added: {len(self.added)}, removed: {len(self.removed)}, "
                 f"objective values changed: {len(self.moved)}"]
        lines += [f"  - added `{a.to_string()}`" for a in self.added]
        lines += [f"  - removed `{a.to_string()}`" for a in self.removed]
        lines += [f"  - moved `{a.to_string()}`: {old} → {new}" for a, old, new in self.moved]
        return "\n".join(lines)


def diff_fronts(old: Front, new: Front) -> FrontDiff:
    """What changed from ``old`` to ``new``: members by canonical arch, and the HV."""
    a = {m.arch: m.objectives for m in old.members}
    b = {m.arch: m.objectives for m in new.members}
    moved = [(arch, a[arch], b[arch]) for arch in a.keys() & b.keys()
             if any(abs(a[arch][k] - b[arch].get(k, float("nan"))) > 1e-9 for k in a[arch])]
    order = lambda archs: sorted(archs, key=lambda x: x.to_string())  # noqa: E731
    return FrontDiff(order(b.keys() - a.keys()), order(a.keys() - b.keys()),
                     sorted(moved, key=lambda t: t[0].to_string()), new.hypervolume - old.hypervolume)


# ---------------------------------------------------------------------------- plot
def plot_front(front: Front, path: str | os.PathLike, *, highlight: int | None = None,
               numbered: list[int] | None = None, references: list[tuple[str, float, float]] | None = None) -> Path:
    """PNG of the front (latency vs top-1), dominated points of the final population,
    optional reference markers ``(label, latency, top1)`` and numbered/highlighted members."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_name = "latency_ms" if "latency_ms" in front.objective_meta else front.objective_names[0]
    y_name = "top1" if "top1" in front.objective_meta else front.objective_names[1]
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    if front.population:
        ax.scatter([p[x_name] for p in front.population], [p[y_name] for p in front.population], s=10,
                   color="lightgrey", label="final population (dominated)")
    xs, ys = front.values(x_name), front.values(y_name)
    ax.step(xs, ys, where="post", color="tab:blue", lw=1)
    ax.scatter(xs, ys, s=18, color="tab:blue", zorder=3, label=f"front ({len(xs)} members)")
    for k in numbered or []:
        ax.annotate(str(k), (xs[k], ys[k]), textcoords="offset points", xytext=(4, -10), fontsize=8)
    if highlight is not None:
        ax.scatter([xs[highlight]], [ys[highlight]], s=120, facecolors="none", edgecolors="red", lw=2, zorder=4,
                   label=f"member {highlight}")
    for label, lx, ly in references or []:
        ax.scatter([lx], [ly], marker="*", s=90, color="tab:orange", zorder=4)
        ax.annotate(label, (lx, ly), textcoords="offset points", xytext=(4, 4), fontsize=7, color="tab:orange")
    if references:
        ax.scatter([], [], marker="*", color="tab:orange", label="OFA specialized nets")
    ux, uy = front.objective_meta[x_name]["unit"], front.objective_meta[y_name]["unit"]
    ax.set(xlabel=f"{x_name} ({ux}, {front.objective_meta[x_name]['source']})",
           ylabel=f"{y_name} ({uy}, {front.objective_meta[y_name]['source']})",
           title=f"{front.profile_id}: {front.algorithm.get('name')} front, HV {front.hypervolume:.4g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------- OFA's published nets
def load_specialized(space: SearchSpace, assets: str | os.PathLike | None = None) -> dict[str, ArchSpec]:
    """OFA's published specialized networks that belong to ``space`` (by stem width)."""
    from .assets import SPECIALIZED_SHA256, resolve_asset

    out = {}
    for net_id in SPECIALIZED_SHA256:
        cfg = json.loads(resolve_asset(f"specialized/{net_id}/net.config", assets).read_text())
        run = json.loads(resolve_asset(f"specialized/{net_id}/run.config", assets).read_text())
        if cfg["first_conv"]["out_channels"] != space.stem_width:
            continue
        blocks = [b.get("mobile_inverted_conv") or b.get("conv") for b in cfg["blocks"][1:]]
        ks, e, d = [], [], []
        i = 0
        for width in space.stage_widths:
            stage = []
            while i < len(blocks) and blocks[i]["out_channels"] == width:
                stage.append(blocks[i])
                i += 1
            d.append(len(stage))
            pad = space.max_depth - len(stage)
            ks += [b["kernel_size"] for b in stage] + [space.ks_choices[0]] * pad
            e += [int(b["expand_ratio"]) for b in stage] + [space.expand_choices[0]] * pad
        r = run["image_size"]
        r = r[0] if isinstance(r, list) else r
        out[net_id] = ArchSpec.from_dict({"ks": ks, "e": e, "d": d, "r": r}, _with_r(space, r))
    return out


def _with_r(space: SearchSpace, r: int) -> SearchSpace:
    """``space`` allowing resolution ``r`` (published nets may use resolutions a profile omits)."""
    import dataclasses

    return space if r in space.resolutions else dataclasses.replace(space, resolutions=tuple(sorted({*space.resolutions, r})))
