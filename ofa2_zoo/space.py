"""Search spaces and architecture specs (the first pipeline stage).

A :class:`SearchSpace` describes an elastic MobileNetV3 supernet: fixed widths, strides,
activations and squeeze-excite per stage, and the elastic choices (kernel size and expand
ratio per block, depth per stage, input resolution). An :class:`ArchSpec` is one point of a
space: the ``ks/e/d/r`` dict that OFA and OFA² use.

Many genomes map to one network because the genes of blocks beyond a stage's depth are
ignored. Every ``ArchSpec`` is therefore *canonical*: those genes are set to the smallest
choice, so equality, hashing, de-duplication and counting work on networks, not genomes.

For the search, an arch is a vector of integer genes, each an index into its choice list:
``[ks x n_blocks, e x n_blocks, d x n_stages, r]`` (46 genes for OFA's spaces). The
vectorised helpers (:meth:`SearchSpace.decode`, :meth:`SearchSpace.canonicalize_genes`)
work on whole populations at once.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ._io import json_loads
from .errors import ArchError, SpaceError, shorten

ACTIVATIONS = ("relu", "h_swish")


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``v`` to a multiple of ``divisor`` without going below 90 % of it (OFA's rule)."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return int(new_v)


def conv_out_size(size: int, stride: int) -> int:
    """Spatial size after a 'same'-padded odd-kernel convolution with ``stride``."""
    return (size - 1) // stride + 1


@dataclass(frozen=True)
class BlockLayout:
    """Static facts about one elastic block that do not depend on the arch."""

    index: int  # 0-based over the elastic blocks (OFA's blocks.1 is index 0)
    stage: int
    position: int  # position inside its stage
    in_channels: int
    out_channels: int
    stride: int
    act: str
    use_se: bool

    @property
    def identity_skip(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


@dataclass(frozen=True)
class SearchSpace:
    """An elastic MobileNetV3 search space.

    Widths are final channel counts (already rounded). ``stage_*`` tuples have one entry per
    elastic stage; every stage has ``max(depth_choices)`` blocks in the supernet.
    """

    name: str
    stem_width: int
    first_block_width: int
    stage_widths: tuple[int, ...]
    final_expand_width: int
    feature_mix_width: int
    stage_strides: tuple[int, ...]
    stage_acts: tuple[str, ...]
    stage_se: tuple[bool, ...]
    ks_choices: tuple[int, ...] = (3, 5, 7)
    expand_choices: tuple[int, ...] = (3, 4, 6)
    depth_choices: tuple[int, ...] = (2, 3, 4)
    resolutions: tuple[int, ...] = (224,)
    stem_stride: int = 2
    first_block_stride: int = 1
    first_block_act: str = "relu"
    in_chans: int = 3
    num_classes: int = 1000
    dropout: float = 0.1
    bn_momentum: float = 0.1
    bn_eps: float = 1e-5
    description: str = ""
    _layout: tuple[BlockLayout, ...] = field(init=False, repr=False, compare=False)
    #: read-only arrays derived once from the fields (the search uses them on every generation)
    _arrays: dict[str, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("stage_widths", "stage_strides", "stage_acts", "stage_se", "ks_choices",
                     "expand_choices", "depth_choices", "resolutions"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("ks_choices", "expand_choices", "depth_choices", "resolutions"):
            values = getattr(self, name)
            if not values:
                raise SpaceError(f"space {self.name!r}: {name} is empty")
            if any(not isinstance(v, (int, np.integer)) or isinstance(v, bool) for v in values):
                raise SpaceError(f"space {self.name!r}: {name} must hold integers, got {values}")
            if list(values) != sorted(set(values)):
                raise SpaceError(f"space {self.name!r}: {name} must be strictly increasing, got {values}")
            object.__setattr__(self, name, tuple(int(v) for v in values))
        n = len(self.stage_widths)
        if n == 0:
            raise SpaceError(f"space {self.name!r}: needs at least one stage")
        for name in ("stage_strides", "stage_acts", "stage_se"):
            if len(getattr(self, name)) != n:
                raise SpaceError(f"space {self.name!r}: {name} has {len(getattr(self, name))} entries, "
                                 f"stage_widths has {n}")
        if any(k % 2 == 0 or k < 1 for k in self.ks_choices):
            raise SpaceError(f"space {self.name!r}: kernel sizes must be odd, got {self.ks_choices}")
        if self.depth_choices[0] < 1:
            raise SpaceError(f"space {self.name!r}: depths must be >= 1, got {self.depth_choices}")
        if self.expand_choices[0] < 1:
            raise SpaceError(f"space {self.name!r}: expand ratios must be >= 1, got {self.expand_choices}")
        for act in (*self.stage_acts, self.first_block_act):
            if act not in ACTIVATIONS:
                raise SpaceError(f"space {self.name!r}: unknown activation {act!r}; use one of {ACTIVATIONS}")
        widths = (self.stem_width, self.first_block_width, *self.stage_widths,
                  self.final_expand_width, self.feature_mix_width)
        if any(w < 1 for w in widths):
            raise SpaceError(f"space {self.name!r}: widths must be positive, got {widths}")
        layout = []
        in_ch = self.first_block_width
        for s in range(n):
            for p in range(self.max_depth):
                stride = self.stage_strides[s] if p == 0 else 1
                layout.append(BlockLayout(len(layout), s, p, in_ch, self.stage_widths[s], stride,
                                          self.stage_acts[s], bool(self.stage_se[s])))
                in_ch = self.stage_widths[s]
        object.__setattr__(self, "_layout", tuple(layout))
        nb = n * self.max_depth
        arrays = {
            "upper": np.array([len(self.ks_choices) - 1] * nb + [len(self.expand_choices) - 1] * nb
                              + [len(self.depth_choices) - 1] * n + [len(self.resolutions) - 1]),
            "ks": np.array(self.ks_choices), "e": np.array(self.expand_choices),
            "d": np.array(self.depth_choices), "r": np.array(self.resolutions),
            # row i: which of a stage's max_depth blocks run at depth index i
            "runs": np.arange(self.max_depth)[None, :] < np.array(self.depth_choices)[:, None],
        }
        for a in arrays.values():
            a.setflags(write=False)
        object.__setattr__(self, "_arrays", arrays)

    # ------------------------------------------------------------------ sizes
    @property
    def n_stages(self) -> int:
        return len(self.stage_widths)

    @property
    def max_depth(self) -> int:
        return self.depth_choices[-1]

    @property
    def n_blocks(self) -> int:
        return self.n_stages * self.max_depth

    @property
    def n_genes(self) -> int:
        return 2 * self.n_blocks + self.n_stages + 1

    @property
    def blocks(self) -> tuple[BlockLayout, ...]:
        return self._layout

    @property
    def gene_upper_bounds(self) -> np.ndarray:
        """Largest index of every gene (lower bounds are all 0); read-only."""
        return self._arrays["upper"]

    def size(self) -> int:
        """Number of distinct networks per resolution (canonical archs)."""
        per_block = len(self.ks_choices) * len(self.expand_choices)
        per_stage = sum(per_block ** d for d in self.depth_choices)
        return per_stage ** self.n_stages

    def mid_channels(self, in_channels: int, expand: int) -> int:
        """Channels inside an inverted bottleneck (OFA: make_divisible(round(in * e), 8))."""
        return make_divisible(round(in_channels * expand), 8)

    def se_channels(self, mid: int) -> int:
        return make_divisible(mid // 4, 8)

    def feature_size(self, resolution: int) -> int:
        """Side of the final feature map (before global pooling) at input ``resolution``.

        Every stage runs at least one block, so the stride of every stage applies whatever the
        arch; this is timm's ``pool_size`` for a sub-network at this input size.
        """
        h = conv_out_size(conv_out_size(resolution, self.stem_stride), self.first_block_stride)
        for stride in self.stage_strides:
            h = conv_out_size(h, stride)
        return h

    # ------------------------------------------------------------------ derived spaces
    def restrict(self, *, resolutions: Sequence[int] | None = None, name: str | None = None) -> "SearchSpace":
        """A sub-space with fewer resolutions (a profile's allowed inputs, for example)."""
        changes: dict[str, Any] = {}
        if resolutions is not None:
            bad = [r for r in resolutions if r not in self.resolutions]
            if bad:
                raise SpaceError(f"resolutions {bad} are not in space {self.name!r} "
                                 f"(allowed: {list(self.resolutions)})")
            changes["resolutions"] = tuple(sorted(set(int(r) for r in resolutions)))
        if name is not None:
            changes["name"] = name
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            if f.name.startswith("_"):
                continue
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SearchSpace":
        known = {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpaceError(f"unknown search-space field(s) {unknown}; known: {sorted(known)}")
        try:
            return cls(**dict(data))
        except TypeError as exc:  # missing required fields
            raise SpaceError(f"bad search-space definition: {exc}") from None

    # ------------------------------------------------------------------ archs
    def validate(self, arch: "ArchSpec") -> "ArchSpec":
        return ArchSpec.from_dict(arch.to_dict(), space=self)

    def largest(self, resolution: int | None = None) -> "ArchSpec":
        nb, ns = self.n_blocks, self.n_stages
        return ArchSpec.from_dict({"ks": [self.ks_choices[-1]] * nb, "e": [self.expand_choices[-1]] * nb,
                                   "d": [self.depth_choices[-1]] * ns,
                                   "r": [resolution or self.resolutions[-1]]}, space=self)

    def smallest(self, resolution: int | None = None) -> "ArchSpec":
        nb, ns = self.n_blocks, self.n_stages
        return ArchSpec.from_dict({"ks": [self.ks_choices[0]] * nb, "e": [self.expand_choices[0]] * nb,
                                   "d": [self.depth_choices[0]] * ns,
                                   "r": [resolution or self.resolutions[0]]}, space=self)

    def sample_genes(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """``n`` uniformly random canonical gene vectors, shape ``(n, n_genes)``."""
        rng = np.random.default_rng(rng)
        upper = self.gene_upper_bounds
        genes = rng.integers(0, upper + 1, size=(n, len(upper)))
        return self.canonicalize_genes(genes)

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> list["ArchSpec"]:
        return self.genes_to_archs(self.sample_genes(n, rng))

    def active_mask(self, depth_idx: np.ndarray) -> np.ndarray:
        """Boolean ``(N, n_blocks)``: which blocks run, from depth *indices* ``(N, n_stages)``."""
        depth_idx = np.asarray(depth_idx)
        return self._arrays["runs"][depth_idx].reshape(len(depth_idx), self.n_blocks)

    def canonicalize_genes(self, genes: np.ndarray) -> np.ndarray:
        """Set the genes of inactive blocks to 0 (the smallest choice); vectorised."""
        genes = np.array(genes, dtype=np.int64, copy=True, ndmin=2)
        if genes.shape[1] != self.n_genes:
            raise ArchError(f"expected {self.n_genes} genes for space {self.name!r}, got {genes.shape[1]}")
        if (genes < 0).any() or (genes > self.gene_upper_bounds).any():
            raise ArchError(f"gene values outside [0, upper bound] for space {self.name!r}")
        nb = self.n_blocks
        active = self.active_mask(genes[:, 2 * nb: 2 * nb + self.n_stages])
        genes[:, :nb] *= active  # multiplying by the mask is several times faster than masked assignment
        genes[:, nb:2 * nb] *= active
        return genes

    def decode(self, genes: np.ndarray) -> dict[str, np.ndarray]:
        """Gene indices -> value arrays for a whole population (no Python loop over archs).

        Returns ``ks``, ``e`` (N, n_blocks), ``d`` (N, n_stages), ``r`` (N,), their index
        arrays ``ks_idx``, ``e_idx``, ``d_idx``, ``r_idx`` and ``active`` (N, n_blocks).
        """
        genes = self.canonicalize_genes(genes)
        nb, ns = self.n_blocks, self.n_stages
        ks_idx, e_idx = genes[:, :nb], genes[:, nb:2 * nb]
        d_idx, r_idx = genes[:, 2 * nb:2 * nb + ns], genes[:, -1]
        a = self._arrays
        return {
            "ks": a["ks"][ks_idx], "e": a["e"][e_idx], "d": a["d"][d_idx], "r": a["r"][r_idx],
            "ks_idx": ks_idx, "e_idx": e_idx, "d_idx": d_idx, "r_idx": r_idx,
            "active": self.active_mask(d_idx),
        }

    def genes_to_archs(self, genes: np.ndarray) -> list["ArchSpec"]:
        v = self.decode(genes)
        return [ArchSpec(tuple(int(x) for x in v["ks"][i]), tuple(int(x) for x in v["e"][i]),
                         tuple(int(x) for x in v["d"][i]), int(v["r"][i])) for i in range(len(v["r"]))]

    def archs_to_genes(self, archs: Iterable["ArchSpec"]) -> np.ndarray:
        archs = list(archs)
        rows = np.empty((len(archs), self.n_genes), dtype=np.int64)
        ks_pos = {v: i for i, v in enumerate(self.ks_choices)}
        e_pos = {v: i for i, v in enumerate(self.expand_choices)}
        d_pos = {v: i for i, v in enumerate(self.depth_choices)}
        r_pos = {v: i for i, v in enumerate(self.resolutions)}
        for i, a in enumerate(archs):
            a = a if isinstance(a, ArchSpec) else ArchSpec.parse(a, self)
            try:
                rows[i] = ([ks_pos[k] for k in a.ks] + [e_pos[e] for e in a.e]
                           + [d_pos[d] for d in a.d] + [r_pos[a.r]])
            except (KeyError, ValueError):
                self.validate(a)  # raises the precise message
                raise
        return self.canonicalize_genes(rows)


# ---------------------------------------------------------------------------- ArchSpec
# ASCII digits only: Python's \d also matches full-width and other Unicode digits ("r２２４").
_STRING_RE = re.compile(r"^r([0-9]+)-d([0-9]+)-k([0-9x]+)-e([0-9x]+)$", re.ASCII)


@dataclass(frozen=True)
class ArchSpec:
    """One sub-network: kernel size and expand ratio per block, depth per stage, resolution.

    Build it with :meth:`from_dict`, :meth:`from_string`, :meth:`from_json` or
    :meth:`SearchSpace.genes_to_archs`: those validate against a space and canonicalise.
    """

    ks: tuple[int, ...]
    e: tuple[int, ...]
    d: tuple[int, ...]
    r: int

    # -------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], space: SearchSpace | str | None = None) -> "ArchSpec":
        """Validate an OFA arch dict (``ks``, ``e``, ``d``, ``r`` or ``image_size``)."""
        space = resolve_space(space)
        if isinstance(data, ArchSpec):
            data = data.to_dict()
        if not isinstance(data, Mapping):
            raise ArchError(f"an arch must be a dict with keys ks, e, d, r; got {type(data).__name__}")
        keys = set(data)
        if "r" in keys and "image_size" in keys:
            raise ArchError("an arch gives the resolution as 'r' or 'image_size', not both")
        r_key = "image_size" if "image_size" in keys else "r"
        unknown = sorted(keys - {"ks", "e", "d", r_key, "wid"})
        if unknown:
            raise ArchError(f"unknown arch key(s) {unknown}; expected ks, e, d and r (or image_size)")
        missing = [k for k in ("ks", "e", "d", r_key) if k not in keys]
        if missing:
            raise ArchError(f"arch is missing key(s) {missing}; expected ks, e, d and r (or image_size)")
        if data.get("wid") not in (None, [], 0):
            raise ArchError("elastic width ('wid') is not part of the MobileNetV3 search spaces")
        ks = _int_list(data["ks"], "ks", space.n_blocks, space.name)
        e = _int_list(data["e"], "e", space.n_blocks, space.name)
        d = _int_list(data["d"], "d", space.n_stages, space.name)
        r_raw = data[r_key]
        if isinstance(r_raw, (list, tuple)):
            if len(r_raw) != 1:
                raise ArchError(f"'{r_key}' must be one resolution, got {list(r_raw)}")
            r_raw = r_raw[0]
        r = _int_value(r_raw, r_key)
        _check_choices(d, space.depth_choices, "d", "depth of stage")
        if r not in space.resolutions:
            raise ArchError(f"resolution {r} is not allowed in space {space.name!r} "
                            f"(allowed: {_fmt_choices(space.resolutions)})")
        active = space.active_mask(np.array([[space.depth_choices.index(x) for x in d]]))[0]
        # Genes of inactive blocks are ignored by the network; canonicalise them before checking
        # so that OFA dicts with arbitrary (even out-of-space) filler values still load.
        ks = [k if act else space.ks_choices[0] for k, act in zip(ks, active)]
        e = [x if act else space.expand_choices[0] for x, act in zip(e, active)]
        _check_choices(ks, space.ks_choices, "ks", "kernel size of block")
        _check_choices(e, space.expand_choices, "e", "expand ratio of block")
        return cls(tuple(ks), tuple(e), tuple(d), r)

    @classmethod
    def from_string(cls, text: str, space: SearchSpace | str | None = None) -> "ArchSpec":
        """Parse the form written by :meth:`to_string`, e.g. ``r224-d2342-k37xx...-e46xx...``."""
        if not isinstance(text, str):
            raise ArchError(f"an arch string must be a str, got {type(text).__name__}")
        m = _STRING_RE.match(text.strip())
        if not m:
            raise ArchError(f"not an arch string: {shorten(text)}; expected 'r<res>-d<depths>-k<kernels>-e<expands>' "
                            "with one digit per gene and 'x' for blocks beyond a stage's depth")
        space = resolve_space(space)
        r, d, k, e = m.groups()
        fill_k, fill_e = str(space.ks_choices[0]), str(space.expand_choices[0])
        return cls.from_dict({"ks": [int(c) for c in k.replace("x", fill_k)],
                              "e": [int(c) for c in e.replace("x", fill_e)],
                              "d": [int(c) for c in d], "r": int(r)}, space=space)

    @classmethod
    def from_json(cls, text: str, space: SearchSpace | str | None = None) -> "ArchSpec":
        try:
            data = json_loads(text)
        except json.JSONDecodeError as exc:
            raise ArchError(f"arch JSON does not parse: {exc}") from None
        return cls.from_dict(data, space=space)

    @classmethod
    def parse(cls, value: "str | Mapping[str, Any] | ArchSpec", space: SearchSpace | str | None = None) -> "ArchSpec":
        """Accept an ArchSpec, an arch dict, JSON text or an arch string."""
        if isinstance(value, ArchSpec):
            return cls.from_dict(value.to_dict(), space=space)
        if isinstance(value, Mapping):
            return cls.from_dict(value, space=space)
        if isinstance(value, str):
            return cls.from_json(value, space) if value.lstrip().startswith("{") else cls.from_string(value, space)
        raise ArchError(f"cannot read an arch from {type(value).__name__}")

    # -------------------------------------------------------------- output
    def to_dict(self) -> dict[str, list[int]]:
        """The OFA arch dict (``r`` as a one-element list, as OFA writes it)."""
        return {"ks": list(self.ks), "e": list(self.e), "d": list(self.d), "r": [self.r]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def to_string(self) -> str:
        """Short stable form for names and paths; ``x`` marks genes of skipped blocks."""
        per_stage = len(self.ks) // len(self.d)
        k, e = [], []
        for i, (kk, ee) in enumerate(zip(self.ks, self.e)):
            active = i % per_stage < self.d[i // per_stage]
            if (kk > 9 or ee > 9) and active:
                raise ArchError("arch strings need single-digit kernel sizes and expand ratios")
            k.append(str(kk) if active else "x")
            e.append(str(ee) if active else "x")
        return f"r{self.r}-d{''.join(map(str, self.d))}-k{''.join(k)}-e{''.join(e)}"

    def __str__(self) -> str:
        return self.to_string()

    def active_blocks(self) -> list[int]:
        """Indices (0-based over the elastic blocks) of the blocks that run."""
        per_stage = len(self.ks) // len(self.d)
        return [s * per_stage + p for s, depth in enumerate(self.d) for p in range(depth)]


def _fmt_choices(values: Sequence[int]) -> str:
    values = list(values)
    if len(values) > 6 and all(b - a == values[1] - values[0] for a, b in zip(values, values[1:])):
        return f"{values[0]}..{values[-1]} in steps of {values[1] - values[0]}"
    return "{" + ", ".join(map(str, values)) + "}"


def _int_value(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer, float)):
        raise ArchError(f"'{what}' must be an integer, got {shorten(v)}")
    if isinstance(v, float) and not v.is_integer():
        raise ArchError(f"'{what}' must be an integer, got {shorten(v)}")
    return int(v)


def _int_list(v: Any, what: str, n: int, space_name: str) -> list[int]:
    if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple, np.ndarray)):
        raise ArchError(f"'{what}' must be a list of {n} integers, got {type(v).__name__}")
    if len(v) != n:
        raise ArchError(f"'{what}' has {len(v)} values; space {space_name!r} needs {n}")
    out = []
    for i, x in enumerate(v):
        try:
            out.append(_int_value(x, f"{what}[{i}]"))
        except ArchError:
            raise ArchError(f"'{what}[{i}]' must be an integer, got {shorten(x)}") from None
    return out


def _check_choices(values: Sequence[int], allowed: Sequence[int], key: str, label: str) -> None:
    for i, v in enumerate(values):
        if v not in allowed:
            raise ArchError(f"{label} {i} ('{key}[{i}]') is {v}; allowed: {_fmt_choices(allowed)}")


# ---------------------------------------------------------------------------- named spaces
OFA_RESOLUTIONS = tuple(range(128, 225, 4))
_OFA_BASE_WIDTHS = (16, 16, 24, 40, 80, 112, 160, 960, 1280)


def ofa_mobilenet_v3_space(width_mult: float, name: str | None = None) -> SearchSpace:
    """OFA's MobileNetV3 space ``ofa_mbv3_d234_e346_k357_w<width_mult>``."""
    w = [make_divisible(b * width_mult, 8) for b in _OFA_BASE_WIDTHS]
    return SearchSpace(
        name=name or f"ofa_mbv3_w{width_mult}",
        stem_width=w[0], first_block_width=w[1], stage_widths=tuple(w[2:7]),
        final_expand_width=w[7], feature_mix_width=w[8],
        stage_strides=(2, 2, 2, 1, 2),
        stage_acts=("relu", "relu", "h_swish", "h_swish", "h_swish"),
        stage_se=(False, True, False, True, True),
        resolutions=OFA_RESOLUTIONS,
        description=f"Once-for-All MobileNetV3 supernet, width multiplier {width_mult} (ImageNet)",
    )


_SPACES: dict[str, SearchSpace] = {}
_ALIASES: dict[str, str] = {}


def register_space(space: SearchSpace, *aliases: str) -> SearchSpace:
    """Make ``space`` available by name to :func:`get_space` (and the CLI)."""
    _SPACES[space.name] = space
    for alias in aliases:
        _ALIASES[alias] = space.name
    return space


def list_spaces() -> list[str]:
    return sorted(_SPACES)


def get_space(name: str) -> SearchSpace:
    key = _ALIASES.get(name, name)
    if key not in _SPACES:
        raise SpaceError(f"unknown search space {shorten(name)}; known: {', '.join(list_spaces())}")
    return _SPACES[key]


def resolve_space(space: SearchSpace | str | Mapping[str, Any] | None) -> SearchSpace:
    """A space object from a space, a registered name, a space dict, or None (OFA w1.2)."""
    if space is None:
        return get_space(DEFAULT_SPACE)
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, str):
        return get_space(space)
    if isinstance(space, Mapping):
        return SearchSpace.from_dict(space)
    raise SpaceError(f"cannot use {type(space).__name__} as a search space")


_STRING_SHAPE = re.compile(r"^r\d+-d(\d+)-k([0-9x]+)-e[0-9x]+$")


def _arch_shape(value: str | Mapping[str, Any]) -> tuple[int, int] | None:
    """(blocks, stages) that an arch string, JSON text or dict has, or None when it does not say."""
    if isinstance(value, str):
        m = _STRING_SHAPE.match(value.strip())
        if m:
            return len(m.group(2)), len(m.group(1))
        try:
            value = json_loads(value)
        except json.JSONDecodeError:
            return None
    if isinstance(value, Mapping) and isinstance(value.get("ks"), list) and isinstance(value.get("d"), list):
        return len(value["ks"]), len(value["d"])
    return None


def spaces_of_shape(value: str | Mapping[str, Any]) -> list[str]:
    """Registered spaces whose block and stage counts match the arch ``value``'s."""
    shape = _arch_shape(value)
    return [n for n in list_spaces() if (get_space(n).n_blocks, get_space(n).n_stages) == shape]


def find_space(value: str | Mapping[str, Any], default: str | SearchSpace | None = None) -> tuple["ArchSpec", SearchSpace]:
    """Parse an arch whose space is not given: in ``default`` when its shape fits, else in the one
    registered space it fits (shape and choices); otherwise an :class:`ArchError` that names the
    spaces that fit, or says that none has its shape."""
    default = resolve_space(default)
    shape = _arch_shape(value)
    if shape is None or shape == (default.n_blocks, default.n_stages):
        return ArchSpec.parse(value, default), default
    same = [get_space(n) for n in spaces_of_shape(value)]
    if not same:
        known = ", ".join(f"{n} ({get_space(n).n_blocks} blocks, {get_space(n).n_stages} stages)"
                          for n in list_spaces())
        raise ArchError(f"the arch has {shape[0]} blocks in {shape[1]} stages; no registered space has that shape "
                        f"(known: {known})")
    parsed, first_error = [], None
    for sp in same:
        try:
            parsed.append((ArchSpec.parse(value, sp), sp))
        except ArchError as exc:
            first_error = first_error or exc
    if len(parsed) == 1:
        return parsed[0]
    if not parsed:
        raise ArchError(f"{first_error} (in spaces {', '.join(sp.name for sp in same)})")
    raise ArchError(f"the arch fits several spaces ({', '.join(sp.name for _, sp in parsed)}); pass --space with "
                    "one of them")


DEFAULT_SPACE = "ofa_mbv3_w1.2"
register_space(ofa_mobilenet_v3_space(1.0), "ofa_mbv3_d234_e346_k357_w1.0")
register_space(ofa_mobilenet_v3_space(1.2), "ofa_mbv3_d234_e346_k357_w1.2")

# The spaces of the supernets trained by this project and shipped in the wheel (their files are
# listed in :mod:`ofa2_zoo.catalog`). Small and narrow, so accuracy really varies across them.
DIGITS_SPACE = register_space(SearchSpace(
    name="ofa2_digits",
    stem_width=8, first_block_width=8,
    stage_widths=(16, 24, 40), stage_strides=(2, 1, 2),
    stage_acts=("relu", "h_swish", "h_swish"), stage_se=(False, True, True),
    final_expand_width=96, feature_mix_width=160,
    ks_choices=(3, 5), expand_choices=(2, 3, 4), depth_choices=(1, 2, 3),
    resolutions=(4, 6, 8, 12, 16),
    stem_stride=1, in_chans=1, num_classes=10, dropout=0.1,
    description="embedded default: OFA MobileNetV3-style supernet for 1-channel digit images, 4-16 px",
))
# 28x28 grey images: a stride-2 stem keeps the largest network cheap enough to train on 2 cores,
# and the first stage keeps its 14x14 maps (strides 2/2/1/2 reached only 88.9 % for the largest).
FMNIST_SPACE = register_space(SearchSpace(
    name="ofa2_fmnist",
    stem_width=16, first_block_width=16,
    stage_widths=(16, 24, 40, 48), stage_strides=(1, 2, 2, 1),
    stage_acts=("relu", "relu", "h_swish", "h_swish"), stage_se=(False, True, True, True),
    final_expand_width=192, feature_mix_width=256,
    ks_choices=(3, 5), expand_choices=(2, 3, 4), depth_choices=(1, 2, 3),
    resolutions=(16, 20, 24, 28),
    stem_stride=2, in_chans=1, num_classes=10, dropout=0.1,
    description="OFA MobileNetV3-style supernet for 28x28 grey images (Fashion-MNIST), 16-28 px",
))
