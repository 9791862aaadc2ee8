"""Parameters and MACs of sub-networks, analytically and vectorised over populations.

The cost of an elastic block depends only on (block, kernel size, expand ratio, resolution)
— spatial sizes do not depend on depth because only a stage's first block strides. So we
tabulate every block's cost once per space and evaluate a whole population with one numpy
gather. Convolutions count ``Cin * Cout * k^2 * H_out * W_out / groups`` MACs, squeeze-excite
its two 1x1 convs, the head its 1x1 convs and the classifier; activations, BN and pooling are
not counted (the usual convention, e.g. OFA's and fvcore's).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from ..space import ArchSpec, SearchSpace, conv_out_size, resolve_space


class EfficiencyModel:
    """Analytic params/MACs of every arch of one search space."""

    def __init__(self, space: SearchSpace):
        self.space = space
        nb, nk, ne, nr = space.n_blocks, len(space.ks_choices), len(space.expand_choices), len(space.resolutions)
        self.block_macs = np.zeros((nb, nk, ne, nr))
        self.block_params = np.zeros((nb, nk, ne), dtype=np.int64)
        self.fixed_macs = np.zeros(nr)
        s = space
        for ri, r in enumerate(space.resolutions):
            h = conv_out_size(r, s.stem_stride)
            macs = s.in_chans * s.stem_width * 9 * h * h
            h = conv_out_size(h, s.first_block_stride)
            macs += s.stem_width * 9 * h * h + s.stem_width * s.first_block_width * h * h
            for b in space.blocks:
                h_out = conv_out_size(h, b.stride)
                for ki, k in enumerate(s.ks_choices):
                    for ei, e in enumerate(s.expand_choices):
                        mid = s.mid_channels(b.in_channels, e)
                        m = mid * k * k * h_out * h_out + mid * b.out_channels * h_out * h_out
                        if max(s.expand_choices) > 1:
                            m += b.in_channels * mid * h * h
                        if b.use_se:
                            m += 2 * mid * s.se_channels(mid)
                        self.block_macs[b.index, ki, ei, ri] = m
                h = h_out
            last = s.stage_widths[-1]
            macs += last * s.final_expand_width * h * h + s.final_expand_width * s.feature_mix_width
            macs += s.feature_mix_width * s.num_classes
            self.fixed_macs[ri] = macs
        for b in space.blocks:
            for ki, k in enumerate(s.ks_choices):
                for ei, e in enumerate(s.expand_choices):
                    mid = s.mid_channels(b.in_channels, e)
                    p = mid * k * k + 2 * mid + mid * b.out_channels + 2 * b.out_channels
                    if max(s.expand_choices) > 1:
                        p += b.in_channels * mid + 2 * mid
                    if b.use_se:
                        se = s.se_channels(mid)
                        p += 2 * mid * se + se + mid
                    self.block_params[b.index, ki, ei] = p
        stem = s.in_chans * s.stem_width * 9 + 2 * s.stem_width
        first = s.stem_width * 9 + 2 * s.stem_width + s.stem_width * s.first_block_width + 2 * s.first_block_width
        head = (s.stage_widths[-1] * s.final_expand_width + 2 * s.final_expand_width
                + s.final_expand_width * s.feature_mix_width + s.feature_mix_width * s.num_classes + s.num_classes)
        self.fixed_params = stem + first + head

    def _gather(self, table: np.ndarray, genes: np.ndarray, with_r: bool) -> np.ndarray:
        v = self.space.decode(genes)
        b = np.arange(self.space.n_blocks)[None, :]
        vals = table[b, v["ks_idx"], v["e_idx"], v["r_idx"][:, None]] if with_r else table[b, v["ks_idx"], v["e_idx"]]
        return (vals * v["active"]).sum(axis=1), v["r_idx"]

    def macs_genes(self, genes: np.ndarray) -> np.ndarray:
        """MACs of each arch of an ``(N, n_genes)`` gene matrix; float array ``(N,)``."""
        total, r_idx = self._gather(self.block_macs, genes, with_r=True)
        return total + self.fixed_macs[r_idx]

    def params_genes(self, genes: np.ndarray) -> np.ndarray:
        """Parameter count of each arch; int array ``(N,)``."""
        total, _ = self._gather(self.block_params, genes, with_r=False)
        return total + self.fixed_params

    def macs(self, archs: Sequence[ArchSpec]) -> np.ndarray:
        return self.macs_genes(self.space.archs_to_genes(archs))

    def params(self, archs: Sequence[ArchSpec]) -> np.ndarray:
        return self.params_genes(self.space.archs_to_genes(archs))


@lru_cache(maxsize=32)
def _model(space: SearchSpace) -> EfficiencyModel:
    return EfficiencyModel(space)


def efficiency_model(space: SearchSpace | str | None = None) -> EfficiencyModel:
    """The (cached) efficiency model of a space."""
    return _model(resolve_space(space))


def count_macs(archs: Sequence[ArchSpec], space: SearchSpace | str | None = None) -> np.ndarray:
    return efficiency_model(space).macs(archs)


def count_params(archs: Sequence[ArchSpec], space: SearchSpace | str | None = None) -> np.ndarray:
    return efficiency_model(space).params(archs)
