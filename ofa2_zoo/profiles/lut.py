"""Latency lookup tables: operator keys, readers, and vectorised network latency.

Operators are named with OFA's key scheme, e.g.
``expanded_conv-input:10x10x136-output:10x10x136-expand:408-kernel:3-stride:1-idskip:1-se:1-hs:1``
(shapes are H x W x C), plus ``Conv`` (stem), ``Conv_1`` (final expand), ``AvgPool2D``,
``Conv_2`` (feature mix) and ``Logits``. A network's latency is the sum of its stem, first
block, every active block and the head entries (OFA's rule).

Because a block's operator depends only on (block, kernel, expand, resolution), a table is
compiled once per space into an array ``T[block, k_idx, e_idx, r_idx]`` plus the fixed parts
per resolution, and a population's latency is one numpy gather.

Our own table format (``ofa2-json``) is JSON::

    {"format": "ofa2-lut/1", "unit": "ms", "space": "<space name>",
     "measurement": {"backend": ..., "batch_size": ..., "precision": ..., "threads": ...,
                     "warmup": ..., "repeats": ...},
     "machine": {"cpu": ..., "cores": ..., "os": ..., "onnxruntime": ..., "torch": ...},
     "created": "<ISO date>",
     "entries": {"<operator key>": {"median": ms, "iqr": ms, "n": repeats}}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import yaml

from ..errors import Ofa2Error
from ..space import SearchSpace, conv_out_size

FORMAT = "ofa2-lut/1"


class LookupTableError(Ofa2Error, KeyError):
    """A lookup table lacks an operator or cannot be read."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Op:
    """One operator configuration; ``key`` is its lookup-table name."""

    kind: str
    inp: tuple[int, int, int]
    out: tuple[int, ...]
    mid: int = 0
    kernel: int = 0
    stride: int = 1
    idskip: int = 0
    se: int = 0
    hs: int = 0
    first_block: bool = False  # OFA's fixed first block (expand 1); not part of the key

    @property
    def key(self) -> str:
        parts = [self.kind, "input:" + "x".join(map(str, self.inp)), "output:" + "x".join(map(str, self.out))]
        if self.kind == "expanded_conv":
            parts += [f"expand:{self.mid}", f"kernel:{self.kernel}", f"stride:{self.stride}",
                      f"idskip:{self.idskip}", f"se:{self.se}", f"hs:{self.hs}"]
        return "-".join(parts)


def fixed_ops(space: SearchSpace, r: int) -> list[Op]:
    """Stem, first block and head operators of any network at resolution ``r``."""
    s = space
    f = conv_out_size(r, s.stem_stride)
    f1 = conv_out_size(f, s.first_block_stride)
    ops = [Op("Conv", (r, r, s.in_chans), (f, f, s.stem_width)),
           Op("expanded_conv", (f, f, s.stem_width), (f1, f1, s.first_block_width), mid=s.stem_width, kernel=3,
              stride=s.first_block_stride,
              idskip=int(s.first_block_stride == 1 and s.stem_width == s.first_block_width),
              se=0, hs=int(s.first_block_act == "h_swish"), first_block=True)]
    h = f1
    for stride in s.stage_strides:
        h = conv_out_size(h, stride)
    last = s.stage_widths[-1]
    ops += [Op("Conv_1", (h, h, last), (h, h, s.final_expand_width)),
            Op("AvgPool2D", (h, h, s.final_expand_width), (1, 1, s.final_expand_width)),
            Op("Conv_2", (1, 1, s.final_expand_width), (1, 1, s.feature_mix_width)),
            Op("Logits", (1, 1, s.feature_mix_width), (s.num_classes,))]
    return ops


def block_ops(space: SearchSpace, r: int) -> Iterator[tuple[int, int, int, Op]]:
    """``(block, k_idx, e_idx, op)`` for every elastic block choice at resolution ``r``."""
    s = space
    h = conv_out_size(conv_out_size(r, s.stem_stride), s.first_block_stride)
    for b in s.blocks:
        h_out = conv_out_size(h, b.stride)
        for ki, k in enumerate(s.ks_choices):
            for ei, e in enumerate(s.expand_choices):
                yield b.index, ki, ei, Op("expanded_conv", (h, h, b.in_channels), (h_out, h_out, b.out_channels),
                                          mid=s.mid_channels(b.in_channels, e), kernel=k, stride=b.stride,
                                          idskip=int(b.identity_skip), se=int(b.use_se), hs=int(b.act == "h_swish"))
        h = h_out


def all_ops(space: SearchSpace) -> dict[str, Op]:
    """Every distinct operator the space can produce, by key (what build-lut measures)."""
    ops: dict[str, Op] = {}
    for r in space.resolutions:
        for op in fixed_ops(space, r):
            ops.setdefault(op.key, op)
        for *_, op in block_ops(space, r):
            ops.setdefault(op.key, op)
    return ops


class LatencyTable:
    """Operator latencies (ms) by key, compiled per space for vectorised lookups."""

    def __init__(self, entries: Mapping[str, float], source: str, meta: Mapping | None = None):
        self.entries = dict(entries)
        self.source = source
        self.meta = dict(meta or {})

    def lookup(self, key: str) -> float:
        try:
            return self.entries[key]
        except KeyError:
            raise LookupTableError(f"lookup table {self.source} has no entry for operator {key!r}; "
                                   "rebuild it for this space (ofa2 profile build-lut)") from None

    def compile(self, space: SearchSpace, calibrated: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``(T[block, k_idx, e_idx, r_idx], fixed[r_idx])`` in ms for ``space``.

        With ``calibrated`` and a calibration in the table, the linear correction
        ``scale * sum + offset`` is folded into both arrays (the sum stays one gather).
        """
        nr = len(space.resolutions)
        table = np.zeros((space.n_blocks, len(space.ks_choices), len(space.expand_choices), nr))
        fixed = np.zeros(nr)
        for ri, r in enumerate(space.resolutions):
            fixed[ri] = sum(self.lookup(op.key) for op in fixed_ops(space, r))
            for b, ki, ei, op in block_ops(space, r):
                table[b, ki, ei, ri] = self.lookup(op.key)
        cal = self.meta.get("calibration") if calibrated else None
        if cal:
            table, fixed = table * cal["scale"], fixed * cal["scale"] + cal["offset"]
        return table, fixed

    # ------------------------------------------------------------------ readers / writer
    @classmethod
    def from_ofa_yaml(cls, files: Mapping[int, Path]) -> "LatencyTable":
        """OFA's per-resolution YAML tables (``{count, mean, std}`` per key; the mean is used)."""
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        entries: dict[str, float] = {}
        for r, path in sorted(files.items()):
            try:
                data = yaml.load(Path(path).read_text(), Loader=loader)
            except yaml.YAMLError as exc:
                raise LookupTableError(f"{path}: not a valid YAML lookup table: {exc}") from None
            if not isinstance(data, dict):
                raise LookupTableError(f"{path}: expected a mapping of operator keys")
            for key, value in data.items():
                if not isinstance(value, dict) or "mean" not in value:
                    raise LookupTableError(f"{path}: entry {key!r} has no 'mean'")
                entries[key] = float(value["mean"])
        return cls(entries, source=", ".join(str(p) for p in files.values()), meta={"format": "ofa-yaml"})

    @classmethod
    def from_json(cls, path: str | Path) -> "LatencyTable":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise LookupTableError(f"{path}: not a readable ofa2 lookup table: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), dict):
            raise LookupTableError(f"{path}: not an {FORMAT} table (expected keys format, entries, ...)")
        if data.get("unit") != "ms":
            raise LookupTableError(f"{path}: unit must be 'ms', got {data.get('unit')!r}")
        try:
            entries = {k: float(v["median"]) for k, v in data["entries"].items()}
        except (TypeError, KeyError, ValueError):
            raise LookupTableError(f"{path}: every entry needs a numeric 'median'") from None
        meta = {k: v for k, v in data.items() if k != "entries"}
        return cls(entries, source=str(path), meta=meta)


def network_latency(table: np.ndarray, fixed: np.ndarray, decoded: Mapping[str, np.ndarray]) -> np.ndarray:
    """Vectorised OFA summation rule over a decoded population (see SearchSpace.decode)."""
    b = np.arange(table.shape[0])[None, :]
    per_block = table[b, decoded["ks_idx"], decoded["e_idx"], decoded["r_idx"][:, None]]
    return (per_block * decoded["active"]).sum(axis=1) + fixed[decoded["r_idx"]]
