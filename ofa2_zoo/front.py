"""Pareto fronts as versioned artifacts: ``front.json``, member selection, plots and diffs.

``front.json`` is deterministic for fixed inputs and seed: everything but the ``timing``
field is byte-identical between runs (sorted keys, canonical archs, members sorted by
latency). A front's *version id* is the sha256 of what defines it (space, profile id,
canonical member archs and their objective values), so two searches that found the same
front have the same id however long they took.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Sequence

import numpy as np
from pydantic import ConfigDict, Field, ValidationError

from ._version import __version__
from ._io import atomic_path, json_loads, write_json_atomic
from ._schema import Schema, field_error
from .errors import FrontError, Ofa2Error, clip, shorten
from .space import ArchSpec, SearchSpace

FORMAT = "ofa2-front/1"
FILENAME = "front.json"
MAX_FRONT_BYTES = 64 << 20  # a front of thousands of members with its history is a few MB
TIMING_FILENAME = "timing.json"


# ---------------------------------------------------------------------------- schema
class _Model(Schema):
    # NaN and infinity are refused wherever a number is read (JSON itself has neither).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ObjectiveMeta(_Model):
    unit: str
    source: Literal["predicted", "measured", "lookup-table", "analytic"]
    direction: Literal["min", "max"]


class MemberModel(_Model):
    arch: dict[str, list[int]]
    objectives: dict[str, float] = Field(..., min_length=1)


class FrontModel(_Model):
    format: Literal["ofa2-front/1"]
    space: dict[str, Any]
    profile: dict[str, Optional[str]]
    supernet: dict[str, Optional[str]]
    accuracy: dict[str, Optional[str]]
    objective_meta: dict[str, ObjectiveMeta]
    members: list[MemberModel] = Field(..., min_length=1)
    hypervolume: float = Field(..., ge=0)
    reference_point: dict[str, float]
    algorithm: dict[str, Any]
    seed: int = Field(..., ge=0)
    evaluations: int = Field(..., ge=0)
    history: list[dict[str, float]] = []
    population: list[dict[str, float]] = []
    package_version: str
    timing: dict[str, Any] = {}


# ---------------------------------------------------------------------------- values
FIX_FRONT = "fix: restore the front.json that `ofa2 search` wrote, or search again"
# Where each objective's values may lie (unit-based for objectives added later).
_RANGES = {"%": (0.0, 100.0, True), "ms": (0.0, None, False)}  # (low, high, low inclusive)


def objective_range_error(name: str, unit: str | None, value: float) -> str | None:
    """Why ``value`` cannot be a value of objective ``name`` (None when it can): not finite, a
    top-1 outside [0, 100] %, a latency that is not positive, a negative count."""
    if not np.isfinite(value):
        return f"{value} is not a finite number"
    unit = unit or {"top1": "%", "latency_ms": "ms"}.get(name)
    low, high, inclusive = _RANGES.get(unit, (0.0, None, True))
    if (value < low if inclusive else value <= low) or (high is not None and value > high):
        bound = f"[{low:g}, {high:g}]" if high is not None else (f">= {low:g}" if inclusive else f"> {low:g}")
        return f"{value:g} {unit or ''}".rstrip() + f" is outside the valid range {bound}"
    return None


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
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()

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
        if path.stat().st_size > MAX_FRONT_BYTES:
            raise FrontError(f"{path}: {path.stat().st_size:,} bytes is too large for a front.json (at most "
                             f"{MAX_FRONT_BYTES:,}; {FIX_FRONT})")
        try:
            raw = json_loads(path.read_bytes())
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


def check_comparable(old: Front, new: Front, old_name: str = "old", new_name: str = "new") -> None:
    """Two fronts can be diffed only when they are versions of one thing: the same profile, the
    same search space and the same searched objectives with the same reference point (else the
    hypervolumes and member positions do not compare)."""
    checks = (("profile", old.profile_id, new.profile_id), ("space", old.space.to_dict(), new.space.to_dict()),
              ("objectives", old.searched_objectives, new.searched_objectives),
              ("reference point", old.reference_point, new.reference_point))
    for what, a, b in checks:
        if a != b:
            sa, sb = (shorten(x.get("name", x) if isinstance(x, dict) and what == "space" else x, 60) for x in (a, b))
            if sa == sb:
                sa, sb = f"{sa} (one definition)", f"{sb} (another definition)"
            raise FrontError(f"cannot compare {old_name} and {new_name}: their {what} differs ({sa} vs {sb}); "
                             "fix: diff two versions of the same profile's front")


def diff_fronts(old: Front, new: Front) -> FrontDiff:
    """What changed from ``old`` to ``new``: members by canonical arch, and the HV (meaningful
    when :func:`check_comparable` passes)."""
    a = {m.arch: m.objectives for m in old.members}
    b = {m.arch: m.objectives for m in new.members}
    moved = [(arch, a[arch], b[arch]) for arch in a.keys() & b.keys()
             if any(abs(a[arch][k] - b[arch].get(k, float("nan"))) > 1e-9 for k in a[arch])]
    order = lambda archs: sorted(archs, key=lambda x: x.to_string())  # noqa: E731
    return FrontDiff(order(b.keys() - a.keys()), order(a.keys() - b.keys()),
                     sorted(moved, key=lambda t: t[0].to_string()), new.hypervolume - old.hypervolume)


# ---------------------------------------------------------------------------- plot
def plot_front(front: Front, path: str | os.PathLike, *, highlight: int | None = None,
               packaged: Sequence[int] | None = None, references: "list[ReferencePoint] | None" = None,
               title: str | None = None) -> Path:
    """PNG of the front (latency vs top-1): the members (a step line), the dominated points of
    the final population, optional packaged / highlighted members, and OFA's published nets
    (:func:`reference_points`): where predicted, a star at the predicted point (a bar spans the
    latency interval when the profile has no table at the net's resolution); always a grey
    triangle at the published numbers (device latency, fine-tuned top-1).

    Only the packaged members (``packaged``: their front indices, labelled with their package
    ``k``, the suffix of their timm name) and OFA's nets carry text; every other member is a
    point, so a front of a hundred members stays readable."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_name = "latency_ms" if "latency_ms" in front.objective_meta else front.objective_names[0]
    y_name = "top1" if "top1" in front.objective_meta else front.objective_names[1]
    fig, ax = plt.subplots(figsize=(7.0, 4.8))
    if front.population:
        ax.scatter([p[x_name] for p in front.population], [p[y_name] for p in front.population], s=9,
                   color="lightgrey", label="final population (dominated)")
    xs, ys = front.values(x_name), front.values(y_name)
    ax.step(xs, ys, where="post", color="tab:blue", lw=1)
    ax.scatter(xs, ys, s=16, color="tab:blue", zorder=3, label=f"front ({len(xs)} members)")
    if packaged:
        picked = list(packaged)
        ax.scatter(xs[picked], ys[picked], s=36, color="tab:green", zorder=4,
                   label=f"packaged ({len(picked)}, labelled k of ..._front_k)")
        for k, i in enumerate(picked):
            ax.annotate(str(k), (xs[i], ys[i]), textcoords="offset points", xytext=(5, -11), fontsize=9,
                        color="tab:green")
    if highlight is not None:
        ax.scatter([xs[highlight]], [ys[highlight]], s=120, facecolors="none", edgecolors="red", lw=2, zorder=4,
                   label=f"member {highlight}")
    refs = references or []
    placed = [r for r in refs if r.latency_ms is not None and r.top1 is not None]
    for r in placed:
        hi = r.latency_ms_high if r.latency_ms_high is not None else r.latency_ms
        if hi > r.latency_ms:
            ax.plot([r.latency_ms, hi], [r.top1, r.top1], color="tab:orange", lw=1.5, zorder=4)
        ax.scatter([r.latency_ms], [r.top1], marker="*", s=110, color="tab:orange", zorder=5)
        ax.annotate(r.label, (r.latency_ms, r.top1), textcoords="offset points", xytext=(4, 5), fontsize=7,
                    color="tab:orange")
    if placed:
        ax.scatter([], [], marker="*", s=90, color="tab:orange", label="OFA specialized nets (predicted)")
    published = [r for r in refs if r.net.published_latency_ms is not None]
    if published and x_name == "latency_ms" and y_name == "top1":
        ax.scatter([r.net.published_latency_ms for r in published], [r.net.published_top1 for r in published],
                   marker="^", s=30, color="dimgrey", zorder=4,
                   label="OFA specialized nets (published: device, fine-tuned)")
    meta = front.objective_meta
    ax.set(xlabel=f"{x_name} ({meta[x_name]['unit']}, {meta[x_name]['source']})",
           ylabel=f"{y_name} ({meta[y_name]['unit']}, {meta[y_name]['source']})",
           title=title or f"{front.profile_id}: {front.algorithm.get('name')} front, HV {front.hypervolume:.4g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, metadata={"Software": None})
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------- OFA's published nets
_SPECIALIZED_ID = re.compile(r"^(?:note10_lat-(?P<lat>\d+)ms|flops-(?P<flops>\d+)M)_top1-(?P<top1>[\d.]+)_")


@dataclass(frozen=True)
class SpecializedNet:
    """One of OFA's published specialized networks, parsed into an arch of its own space.

    ``published_*`` are the numbers in its id (latency measured by OFA on the device, top-1
    after OFA's fine-tuning); ``space`` is ``ofa_mbv3_w1.0`` for the ``lat-8ms``..``lat-22ms``
    Note10 nets and ``ofa_mbv3_w1.2`` for the others (checked against the stem width).
    """

    id: str
    space: str
    arch: ArchSpec
    published_top1: float
    published_latency_ms: float | None
    published_flops_m: float | None


def _parse_specialized(net_id: str, cfg: dict, run: dict) -> SpecializedNet:
    from .space import get_space

    m = _SPECIALIZED_ID.match(net_id)
    if not m:
        raise FrontError(f"not an OFA specialized-net id: {net_id!r}")
    lat = int(m["lat"]) if m["lat"] else None
    space = get_space("ofa_mbv3_w1.0" if lat is not None and lat <= 22 else "ofa_mbv3_w1.2")
    if cfg["first_conv"]["out_channels"] != space.stem_width:
        raise FrontError(f"{net_id}: stem width {cfg['first_conv']['out_channels']} does not match {space.name}")
    blocks = [b.get("mobile_inverted_conv") or b.get("conv") for b in cfg["blocks"][1:]]
    ks: list[int] = []
    e: list[int] = []
    d: list[int] = []
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
    if i != len(blocks):
        raise FrontError(f"{net_id}: blocks do not follow the stage widths of {space.name}")
    r = run["image_size"]
    r = int(r[0] if isinstance(r, list) else r)
    wider = dataclasses.replace(space, resolutions=tuple(sorted({*space.resolutions, r})))  # e.g. 236, 260
    arch = ArchSpec.from_dict({"ks": ks, "e": e, "d": d, "r": r}, wider)
    return SpecializedNet(net_id, space.name, arch, float(m["top1"]), float(lat) if lat is not None else None,
                          float(m["flops"]) if m["flops"] else None)


def load_specialized(assets: str | os.PathLike | None = None) -> list[SpecializedNet]:
    """Every published specialized net (``specialized/<id>/{net,run}.config`` among the assets)."""
    from .assets import SPECIALIZED_IDS, resolve_asset

    out = []
    for net_id in SPECIALIZED_IDS:
        cfg = json.loads(resolve_asset(f"specialized/{net_id}/net.config", assets).read_text())
        run = json.loads(resolve_asset(f"specialized/{net_id}/run.config", assets).read_text())
        out.append(_parse_specialized(net_id, cfg, run))
    return out


@dataclass(frozen=True)
class ReferencePoint:
    """A published net placed in a front's objective space.

    ``latency_ms``/``top1`` are predicted (the front's own latency source and accuracy source)
    when the net's space and resolution allow it. When the profile has no latency table for
    the net's resolution, ``latency_ms`` is the table value at the next lower table resolution
    and ``latency_ms_high`` at the next higher one (the true value lies between). ``None``
    where the net cannot be placed (e.g. resolution 260 is outside the predictor's range).
    """

    net: SpecializedNet
    latency_ms: float | None
    latency_ms_high: float | None
    top1: float | None

    @property
    def label(self) -> str:
        return self.net.id.split("_top1")[0].replace("note10_", "")

    def dominated_by(self, front: Front) -> list[int]:
        """Members at least as fast (at the upper latency bound) and at least as accurate."""
        if self.top1 is None or self.latency_ms is None:
            return []
        lat = front.values("latency_ms")
        top1 = front.values("top1")
        return [int(i) for i in np.flatnonzero((lat <= self.latency_ms) & (top1 >= self.top1))]


def reference_points(front: Front, assets: str | os.PathLike | None = None) -> list[ReferencePoint]:
    """OFA's published nets for the front's profile, placed in its (predicted) objective space.

    Only Note10 nets are used, and only for a front whose latency comes from a profile with
    OFA's Note10 tables; nets of another width are returned with their published numbers only.
    """
    from .objectives.accuracy import load_accuracy_predictor
    from .profiles import load_profile

    if {"latency_ms", "top1"} - set(front.objective_meta):
        return []
    try:
        prof = load_profile(front.profile_id, assets)
    except Ofa2Error:
        return []
    table = prof.spec.latency.table
    if table is None or table.format != "ofa-yaml" or table.asset_prefix != "note10":
        return []
    nets = [n for n in load_specialized(assets) if n.published_latency_ms is not None]
    acc = None
    if front.accuracy.get("id"):
        try:
            acc = load_accuracy_predictor(front.supernet.get("id") or front.space.name, assets=assets)
            if acc.provenance.sha256 != front.accuracy.get("sha256"):
                acc = None
        except Ofa2Error:
            acc = None
    out = []
    res = np.asarray(prof.space.resolutions)
    for net in nets:
        lat = lat_hi = top1 = None
        a = net.arch
        if prof.space.stage_widths == _space_widths(net.space):
            lo_r, hi_r = res[res <= a.r], res[res >= a.r]
            if len(lo_r) and len(hi_r):
                genes = prof.space.archs_to_genes([_with(a, int(lo_r[-1])), _with(a, int(hi_r[0]))])
                lat, lat_hi = (float(x) for x in prof.latency_genes(genes))
            if acc is not None:
                try:
                    top1 = float(acc.predict([a])[0])
                except Ofa2Error:
                    top1 = None
        out.append(ReferencePoint(net, lat, lat_hi, top1))
    return out


def _space_widths(name: str) -> tuple[int, ...]:
    from .space import get_space

    return get_space(name).stage_widths


def _with(arch: ArchSpec, r: int) -> ArchSpec:
    return dataclasses.replace(arch, r=r)
