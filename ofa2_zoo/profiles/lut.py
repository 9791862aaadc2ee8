"""Latency lookup tables: operator keys, readers/writer, and vectorised network latency.

Operators are named with OFA's key scheme, e.g.
``expanded_conv-input:10x10x136-output:10x10x136-expand:408-kernel:3-stride:1-idskip:1-se:1-hs:1``
(shapes are H x W x C), plus ``Conv`` (stem), ``Conv_1`` (final expand), ``AvgPool2D``,
``Conv_2`` (feature mix) and ``Logits``. A network's latency is the sum of its stem, first
block, every active block and the head entries (OFA's summation rule).

Because a block's operator depends only on (block, kernel, expand, resolution), a table is
compiled once per space into an array ``blocks[block, k_idx, e_idx, r_idx]`` plus the fixed
part per resolution; a population's latency is then one numpy gather over its gene matrix.

Our own table format (``ofa2-json``, format id ``ofa2-lut/2``; ``ofa2-lut/1`` tables, which
lack the canary and the CPU flags, still load) is one JSON file::

    {"format": "ofa2-lut/2",
     "unit": "ms",                        # every number below is milliseconds
     "space": "<search space name>", "resolutions": [...], "profile": "<profile id>",
     "shapes": "...",                     # how to read the shapes inside the keys
     "measurement": {"backend", "batch_size", "precision", "threads", "warmup", "repeats", "rounds"},
     "machine": {"cpu", "cores", "flags", "os", "python", "torch", "onnxruntime", ...},
     "canary": {"ms": {"<operator key>": ms, ...}, "total_ms", "measurement"},  # see .machine
     "created": "<ISO 8601 UTC time>",
     "statistic": "median" | "p10" | "min",  # which entry value predictions use
     "call_overhead": {"median", "iqr", "p10", "min", "n"},  # one call of an empty graph
     "entries": {"<operator key>": {"median": ms, "iqr": ms, "p10": ms, "min": ms, "n": timed calls}},
     "calibration": null | {"scale", "per_mmac", "per_mweight", "per_block", "offset",
                            "archs", "seed", "before", "after"}}

Each entry summarises ``n`` timed calls: median, inter-quartile range (the spread), 10th
percentile and minimum; ``statistic`` names the one predictions use (``median`` when absent).
A network's raw prediction is ``sum(entry - call_overhead) + call_overhead`` over its
operators (each operator was timed as its own inference call; the network is one call).
``calibration`` (optional) corrects what an additive table of isolated operators misses
(fusion, cache and memory traffic inside a whole network) with a linear per-operator model
fitted on measured whole networks (:meth:`LatencyTable.compile`, :mod:`.build`).
``canary`` (optional, new in ``ofa2-lut/2``) is the latency of a few reference networks timed
like the entries on the table's machine, so another machine can tell it is not that one
(:mod:`.machine`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping, Optional

import numpy as np
import yaml
from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from .._io import json_loads, write_json_atomic
from .._schema import Schema, first_problem
from ..errors import ArchError, LookupTableError, shorten
from ..space import SearchSpace, conv_out_size, make_divisible

FORMAT = "ofa2-lut/2"
FORMATS = ("ofa2-lut/1", FORMAT)  # what the reader accepts (/1: no canary, no CPU flags)
SHAPES_NOTE = ("operator keys give input/output shapes as HxWxC of one image; measured at "
               "measurement.batch_size images per call")


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
    first_block: bool = False  # OFA's fixed first block (expand 1, depthwise-separable); not in the key

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the operator (a calibration feature: compute the table misses)."""
        (hi, wi, ci), co = self.inp, self.out[-1]
        ho, wo = (self.out[0], self.out[1]) if len(self.out) == 3 else (1, 1)
        if self.kind in ("Conv_1", "Conv_2", "Logits"):
            return ho * wo * ci * co
        if self.kind == "AvgPool2D":
            return hi * wi * ci
        if self.kind == "Conv":
            return ho * wo * ci * co * 9
        if self.first_block:
            return ho * wo * ci * 9 + ho * wo * ci * co
        se = 2 * self.mid * make_divisible(self.mid // 4, 8) if self.se else 0
        return hi * wi * ci * self.mid + ho * wo * self.mid * self.kernel ** 2 + se + ho * wo * self.mid * co

    @property
    def weights(self) -> int:
        """Convolution/linear weights of the operator (a calibration feature: memory the table misses)."""
        ci, co = self.inp[2], self.out[-1]
        if self.kind in ("Conv_1", "Conv_2", "Logits"):
            return ci * co
        if self.kind == "AvgPool2D":
            return 0
        if self.kind == "Conv":
            return ci * co * 9
        if self.first_block:
            return ci * 9 + ci * co
        se = 2 * self.mid * make_divisible(self.mid // 4, 8) if self.se else 0
        return ci * self.mid + self.mid * self.kernel ** 2 + se + self.mid * co

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


@dataclass(frozen=True)
class CompiledTable:
    """A table laid out for one space: ``blocks[b, k_idx, e_idx, r_idx]`` and ``fixed[r_idx]`` in ms."""

    space: SearchSpace
    blocks: np.ndarray
    fixed: np.ndarray

    def latency_genes(self, genes: np.ndarray) -> np.ndarray:
        """OFA's summation rule for a whole ``(N, n_genes)`` gene matrix: one gather, no Python loop."""
        g = check_genes(self.space, genes)
        s = self.space
        nb, ns = s.n_blocks, s.n_stages
        nk, ne, nr = self.blocks.shape[1:]
        r = g[:, -1]
        depth = np.asarray(s.depth_choices)[g[:, 2 * nb:2 * nb + ns]]
        active = (np.arange(s.max_depth)[None, None, :] < depth[:, :, None]).reshape(len(g), nb)
        base = np.arange(nb) * (nk * ne * nr)
        idx = base + (g[:, :nb] * ne + g[:, nb:2 * nb]) * nr + r[:, None]
        per_block = np.take(self.blocks.reshape(-1), idx)
        return np.where(active, per_block, 0.0).sum(axis=1) + self.fixed[r]


def check_genes(space: SearchSpace, genes: Any) -> np.ndarray:
    """``genes`` as an int64 ``(N, n_genes)`` matrix, with a clear error when it does not fit ``space``."""
    g = np.asarray(genes)
    if g.ndim == 1:
        g = g[None, :]
    if g.ndim != 2 or g.shape[1] != space.n_genes:
        raise ArchError(f"expected a gene matrix of shape (N, {space.n_genes}) for space {space.name!r}, "
                        f"got shape {tuple(np.shape(genes))}")
    if g.dtype.kind not in "iu":
        if g.dtype.kind != "f" or not np.array_equal(g, np.round(g)):
            raise ArchError(f"genes must be integer indices into the choice lists, got dtype {g.dtype}")
    g = g.astype(np.int64, copy=False)
    if len(g) and ((g < 0).any() or (g > space.gene_upper_bounds).any()):
        bad = np.argwhere((g < 0) | (g > space.gene_upper_bounds))[0]
        raise ArchError(f"gene {bad[1]} of row {bad[0]} is {g[tuple(bad)]}, outside "
                        f"[0, {space.gene_upper_bounds[bad[1]]}] for space {space.name!r}")
    return g


class LatencyTable:
    """Operator latencies (ms) by key, with the table's metadata; compiled per space for lookups.

    OFA's tables are per resolution (``by_resolution``): the same operator key can appear in
    two files with different measurements (a 7x7 stage-5 block occurs at 208 and at 224), and
    OFA's estimator reads the file of the network's resolution. Our own tables measure every
    key once (``entries``), whatever network it sits in.
    """

    def __init__(self, entries: Mapping[str, float] | None, source: str, meta: Mapping | None = None,
                 by_resolution: Mapping[int, tuple[str, Mapping[str, float]]] | None = None):
        self.entries = dict(entries or {})
        self.by_resolution = {int(r): (src, dict(e)) for r, (src, e) in (by_resolution or {}).items()}
        self.source = source
        self.meta = dict(meta or {})

    @property
    def calibration(self) -> dict | None:
        return self.meta.get("calibration") or None

    @property
    def call_overhead_ms(self) -> float:
        """Cost of one inference call of an empty graph, measured with the table (0 for OFA's tables).

        Every measured operator entry includes it once, a whole network only once, so the
        additive sum counts it once instead of once per operator.
        """
        overhead = self.meta.get("call_overhead")
        return float(overhead[self.meta.get("statistic", "median")]) if overhead else 0.0

    def with_calibration(self, calibration: dict | None) -> "LatencyTable":
        """The same entries with another calibration (``None``: the raw additive sum)."""
        table = LatencyTable(self.entries, self.source, {**self.meta, "calibration": calibration})
        table.by_resolution = self.by_resolution
        return table

    def lookup(self, key: str, r: int | None = None) -> float:
        """Latency of operator ``key`` inside a network at resolution ``r``."""
        source, entries = self.source, self.entries
        if self.by_resolution:
            if r not in self.by_resolution:
                raise LookupTableError(f"lookup table {self.source} has no table for resolution {r} "
                                       f"(it has {sorted(self.by_resolution)})")
            source, entries = self.by_resolution[r]
        try:
            return entries[key]
        except KeyError:
            raise LookupTableError(f"lookup table {source} has no entry for operator {key!r}; "
                                   "the table was built for another space or resolution "
                                   "(rebuild it: ofa2 profile build-lut PROFILE)") from None

    def compile(self, space: SearchSpace, calibrated: bool = True) -> CompiledTable:
        """The table laid out for ``space``; with ``calibrated``, the table's calibration is folded in.

        The raw sum is ``sum(entry - call_overhead) + call_overhead``: OFA's summation rule
        with the per-call cost that every separately measured operator carries counted once.
        A calibration is linear in per-operator terms, so it folds into the same arrays and a
        population's latency stays one gather::

            scale * sum(entry - call_overhead) + per_mmac * sum(MACs) / 1e6
              + per_mweight * sum(weights) / 1e6 + per_block * active_blocks + offset
        """
        nr = len(space.resolutions)
        o = self.call_overhead_ms
        cal = (self.calibration if calibrated else None) or {}
        scale, per_block = cal.get("scale", 1.0), cal.get("per_block", 0.0)
        per_mmac, per_mweight = cal.get("per_mmac", 0.0), cal.get("per_mweight", 0.0)
        offset = cal.get("offset", o) if cal else o

        def term(op: Op, r: int) -> float:
            return (scale * (self.lookup(op.key, r) - o) + per_mmac * op.macs / 1e6
                    + per_mweight * op.weights / 1e6)

        blocks = np.zeros((space.n_blocks, len(space.ks_choices), len(space.expand_choices), nr))
        fixed = np.zeros(nr)
        for ri, r in enumerate(space.resolutions):
            fixed[ri] = sum(term(op, r) for op in fixed_ops(space, r)) + offset
            for b, ki, ei, op in block_ops(space, r):
                blocks[b, ki, ei, ri] = term(op, r) + per_block
        return CompiledTable(space, blocks, fixed)

    # ------------------------------------------------------------------ readers / writer
    @classmethod
    def from_ofa_yaml(cls, files: Mapping[int, Path]) -> "LatencyTable":
        """OFA's per-resolution YAML tables (``{count, mean, std}`` per key; the mean is used)."""
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        by_resolution = {}
        for r, path in sorted(files.items()):
            try:
                data = yaml.load(Path(path).read_text(), Loader=loader)
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise LookupTableError(f"{path}: not a readable YAML lookup table: {exc}") from None
            if not isinstance(data, dict):
                raise LookupTableError(f"{path}: expected a mapping of operator keys to {{count, mean, std}}")
            entries = {}
            for key, value in data.items():
                if not isinstance(value, dict) or not _is_number(value.get("mean")):
                    raise LookupTableError(f"{path}: entry {key!r} has no numeric 'mean'")
                entries[key] = float(value["mean"])
            by_resolution[r] = (str(path), entries)
        return cls(None, source=", ".join(str(p) for p in files.values()), meta={"format": "ofa-yaml"},
                   by_resolution=by_resolution)

    @classmethod
    def from_json(cls, path: str | Path) -> "LatencyTable":
        """Our ``ofa2-lut/2`` (or older ``ofa2-lut/1``) JSON table (see the module docstring)."""
        path = Path(path)
        try:
            data = json_loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LookupTableError(f"{path}: not a readable ofa2 lookup table: {exc}") from None
        try:
            table = TableFile.model_validate(data)
        except ValidationError as exc:
            problem = first_problem(exc)
            raise LookupTableError(f"{path}: {problem.msg if problem.kind == 'value_error' else problem}") from None
        meta = {k: v for k, v in data.items() if k != "entries"}  # as written, so a rewrite keeps it
        return cls(table.entries, source=str(path), meta=meta)


class TableFile(Schema):
    """An ``ofa2-lut`` JSON table as :meth:`LatencyTable.from_json` reads it (the module docstring
    shows every field); ``entries`` becomes each operator's value of ``statistic``. Fields it does
    not check (``machine``, ``measurement`` ...) are kept as they are."""

    model_config = ConfigDict(extra="allow")

    format: str  # one of FORMATS (checked first, with entries)
    unit: Literal["ms"] = Field(None, validate_default=True)
    statistic: Literal["median", "p10", "min"] = Field("median", validate_default=True)
    entries: dict[str, float]
    call_overhead: Optional[dict[str, Any]] = None
    calibration: Optional[dict[str, Any]] = None
    canary: Optional[dict[str, Any]] = None

    @model_validator(mode="before")
    @classmethod
    def _is_a_table(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("format") not in FORMATS or not isinstance(data.get("entries"), dict):
            raise ValueError(f"not an {' or '.join(FORMATS)} table (expected keys format, unit, entries, ...)")
        return data

    @field_validator("unit", mode="before")
    @classmethod
    def _unit(cls, v: Any) -> Any:
        if v != "ms":
            raise ValueError(f"unit must be 'ms', got {shorten(v)}")
        return v

    @field_validator("statistic", mode="before")
    @classmethod
    def _statistic(cls, v: Any) -> Any:
        if v not in ("median", "p10", "min"):
            raise ValueError(f"statistic must be median, p10 or min, got {shorten(v)}")
        return v

    @field_validator("entries", mode="before")
    @classmethod
    def _entries(cls, v: dict, info: ValidationInfo) -> Any:
        stat = info.data.get("statistic")
        if stat is None:  # refused above
            return v
        for key, e in v.items():
            if not isinstance(e, dict) or not _is_number(e.get(stat)) or e[stat] < 0:
                raise ValueError(f"entry {shorten(key)} needs a non-negative numeric {stat!r} (ms)")
        return {key: float(e[stat]) for key, e in v.items()}

    @field_validator("call_overhead", mode="before")
    @classmethod
    def _call_overhead(cls, v: Any, info: ValidationInfo) -> Any:
        stat = info.data.get("statistic")
        if v is not None and stat is not None and not (isinstance(v, dict) and _is_number(v.get(stat))):
            raise ValueError(f"'call_overhead' needs a numeric {stat!r} (ms)")
        return v

    @field_validator("calibration", mode="before")
    @classmethod
    def _calibration(cls, v: Any) -> Any:
        if v is not None and not (isinstance(v, dict) and all(_is_number(v.get(k)) for k in ("scale", "offset"))):
            raise ValueError("'calibration' needs numeric 'scale' and 'offset'")
        return v

    @field_validator("canary", mode="before")
    @classmethod
    def _canary(cls, v: Any) -> Any:
        if v is not None and not is_canary(v):
            raise ValueError("'canary' needs 'ms', a mapping of operator keys to positive milliseconds (fix: re-time "
                             "it with ofa2 profile canary PROFILE --write)")
        return v


def write_table(path: str | Path, header: Mapping[str, Any], entries: Mapping[str, Mapping[str, float]]) -> Path:
    """Write a table atomically (sorted keys: stable diffs and checksums).

    Its format is ``header["format"]`` when that is a known one (a table rewritten with a new
    calibration keeps its format), else :data:`FORMAT`.
    """
    data = {**header, "format": header.get("format") if header.get("format") in FORMATS else FORMAT, "unit": "ms", "shapes": SHAPES_NOTE,
            "entries": {k: dict(entries[k]) for k in sorted(entries)}}
    write_json_atomic(path, data)
    return Path(path)


def is_canary(c: Any) -> bool:
    """Whether ``c`` is a well-formed canary record: ``{"ms": {operator key: positive ms, ...}, ...}``."""
    return isinstance(c, dict) and isinstance(c.get("ms"), dict) and bool(c["ms"]) \
        and all(_is_number(v) and v > 0 for v in c["ms"].values())


def _is_number(v: Any) -> bool:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer too large for a float (JSON allows any number of digits)
        return False
