"""OFA's published specialized nets, parsed and placed in a front's objective space."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass

import numpy as np

from ..errors import FrontError, Ofa2Error
from ..space import ArchSpec
from .artifact import Front


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
    from ..space import get_space

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
    from ..assets import SPECIALIZED_IDS, resolve_asset

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
    from ..objectives.accuracy import load_accuracy_predictor
    from ..profiles import load_profile

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
    from ..space import get_space

    return get_space(name).stage_widths


def _with(arch: ArchSpec, r: int) -> ArchSpec:
    return dataclasses.replace(arch, r=r)
