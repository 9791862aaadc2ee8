"""OFA's elastic MobileNetV3 supernet.

The module tree mirrors the official checkpoint layout (``blocks.1.conv.depth_conv.conv.
7to5_matrix`` and so on) so that an official ``state_dict`` loads with a key rename at most.
Each elastic module exposes the *active* slice of its weights; the same slices drive the
elastic forward and sub-network extraction, so the two cannot drift apart.

- elastic kernel: one kmax x kmax depthwise weight per block; a smaller kernel is the centre
  crop of the next larger one, transformed by a learned ``(k*k, k*k)`` matrix, step by step;
- elastic expand: the first ``mid`` channels of the inverted bottleneck, where channels are
  kept sorted by importance (:meth:`ElasticMobileNetV3.sort_channels`);
- elastic depth: the first ``d`` blocks of each stage run.
"""

from __future__ import annotations

import math
from typing import Iterator, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..space import ArchSpec, SearchSpace, resolve_space


def activation(name: str, x: torch.Tensor) -> torch.Tensor:
    return F.relu(x) if name == "relu" else F.hardswish(x)


class BNParams(NamedTuple):
    weight: torch.Tensor
    bias: torch.Tensor
    running_mean: torch.Tensor
    running_var: torch.Tensor


class ConvBN(nn.Module):
    """Static conv (+ BN) + activation: ``first_conv``, ``final_expand_layer`` and friends."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
                 use_bn: bool = True, act: str | None = "h_swish"):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = StaticBN(cout) if use_bn else None
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return activation(self.act, x) if self.act else x


#: A torch.distributed process group while distributed training runs (set by the trainer):
#: training-mode BatchNorm statistics are then those of the whole global batch.
SYNC_BN: dict = {"group": None}


def batch_norm(x: torch.Tensor, p: BNParams, training: bool, momentum: float | None, eps: float) -> torch.Tensor:
    """Functional BatchNorm; with a sync group, statistics span all processes (differentiably).

    Args:
        x: The input ``(N, C, H, W)``.
        p: The layer's weight, bias and running statistics.
        training: Whether batch statistics are used (and the running ones updated).
        momentum: Running-statistics momentum (``None``: 0.1 when synchronised, else torch's cumulative average).
        eps: Added to the variance.
    """
    group = SYNC_BN["group"]
    if not (training and group is not None):
        return F.batch_norm(x, p.running_mean, p.running_var, p.weight, p.bias, training, momentum, eps)
    from torch.distributed.nn.functional import all_reduce

    c = x.shape[1]
    local = torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), x.new_tensor([x.numel() / c])])
    total = all_reduce(local, group=group)
    n = total[-1]
    mean = total[:c] / n
    var = (total[c:2 * c] / n - mean * mean).clamp_min(0)
    with torch.no_grad():
        m = 0.1 if momentum is None else momentum
        p.running_mean.mul_(1 - m).add_(mean.detach() * m)
        p.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)) * m)
    shape = (1, c, 1, 1)
    return (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + eps) * p.weight.view(shape) + p.bias.view(shape)


class StaticBN(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` that follows :data:`SYNC_BN` (same parameters and state-dict keys)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and SYNC_BN["group"] is not None):
            return super().forward(x)
        self.num_batches_tracked.add_(1)
        return batch_norm(x, BNParams(self.weight, self.bias, self.running_mean, self.running_var), True,
                          self.momentum, self.eps)


class ElasticBN(nn.Module):
    """BatchNorm whose first ``c`` channels serve a narrower layer."""

    def __init__(self, channels: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)

    def active(self, c: int) -> BNParams:
        bn = self.bn
        return BNParams(bn.weight[:c], bn.bias[:c], bn.running_mean[:c], bn.running_var[:c])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bn, c = self.bn, x.shape[1]
        training = bn.training or not bn.track_running_stats
        if bn.training and bn.track_running_stats:
            bn.num_batches_tracked.add_(1)
        p = self.active(c)
        # Slices are views: training updates the running statistics of the shared buffers.
        return batch_norm(x, p, training, bn.momentum, bn.eps)


class ElasticPointwise(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)

    def active(self, cout: int, cin: int) -> torch.Tensor:
        return self.conv.weight[:cout, :cin]


class ElasticDepthwise(nn.Module):
    """Depthwise conv with elastic kernel size through learned kernel transforms."""

    def __init__(self, channels: int, ks_choices: tuple[int, ...], stride: int):
        super().__init__()
        self.ks_choices = tuple(sorted(ks_choices))
        self.stride = stride
        kmax = self.ks_choices[-1]
        self.conv = nn.Conv2d(channels, channels, kmax, stride, kmax // 2, groups=channels, bias=False)
        for big, small in zip(self.ks_choices[:0:-1], self.ks_choices[-2::-1]):
            self.register_parameter(f"{big}to{small}_matrix", nn.Parameter(torch.eye(small * small)))

    def active(self, channels: int, k: int) -> torch.Tensor:
        w = self.conv.weight[:channels]
        cur = w.shape[-1]
        for big, small in zip(self.ks_choices[:0:-1], self.ks_choices[-2::-1]):
            if cur <= k:
                break
            start = (big - small) // 2
            crop = w[:, :, start:start + small, start:start + small].reshape(channels, small * small)
            w = F.linear(crop, getattr(self, f"{big}to{small}_matrix")).reshape(channels, 1, small, small)
            cur = small
        return w


class SEFC(nn.Module):
    def __init__(self, channels: int, mid: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, mid, 1, bias=True)
        self.expand = nn.Conv2d(mid, channels, 1, bias=True)


class ElasticSE(nn.Module):
    """Squeeze-excite (ReLU inside, hard-sigmoid gate) over the first ``c`` channels."""

    def __init__(self, channels: int, mid: int):
        super().__init__()
        self.fc = SEFC(channels, mid)

    def active(self, c: int, mid: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        r, e = self.fc.reduce, self.fc.expand
        return r.weight[:mid, :c], r.bias[:mid], e.weight[:c, :mid], e.bias[:c]

    def forward(self, x: torch.Tensor, mid: int) -> torch.Tensor:
        rw, rb, ew, eb = self.active(x.shape[1], mid)
        y = x.mean((2, 3), keepdim=True)
        y = F.relu(F.conv2d(y, rw, rb))
        return x * F.hardsigmoid(F.conv2d(y, ew, eb))


class Stage(nn.Module):
    """A named container (``inverted_bottleneck``, ``depth_conv``, ``point_linear``)."""


class StaticMBConv(nn.Module):
    """OFA's first block: depthwise 3x3 + pointwise, expand ratio 1."""

    def __init__(self, cin: int, cout: int, stride: int, act: str):
        super().__init__()
        self.act = act
        self.depth_conv = Stage()
        self.depth_conv.conv = nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False)
        self.depth_conv.bn = StaticBN(cin)
        self.point_linear = Stage()
        self.point_linear.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.point_linear.bn = StaticBN(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = activation(self.act, self.depth_conv.bn(self.depth_conv.conv(x)))
        return self.point_linear.bn(self.point_linear.conv(x))


class ElasticMBConv(nn.Module):
    """Inverted bottleneck with elastic kernel size and expand ratio."""

    def __init__(self, space: SearchSpace, block_index: int):
        super().__init__()
        layout = space.blocks[block_index]
        self.space_ks = space.ks_choices
        self.cin, self.cout, self.stride = layout.in_channels, layout.out_channels, layout.stride
        self.act, self.use_se = layout.act, layout.use_se
        self._mid = {e: space.mid_channels(self.cin, e) for e in space.expand_choices}
        self._se_mid = {e: space.se_channels(m) for e, m in self._mid.items()}
        max_mid = max(self._mid.values())
        self.has_expand = max(space.expand_choices) > 1
        if self.has_expand:
            self.inverted_bottleneck = Stage()
            self.inverted_bottleneck.conv = ElasticPointwise(self.cin, max_mid)
            self.inverted_bottleneck.bn = ElasticBN(max_mid)
        else:
            self.inverted_bottleneck = None
        self.depth_conv = Stage()
        self.depth_conv.conv = ElasticDepthwise(max_mid, space.ks_choices, self.stride)
        self.depth_conv.bn = ElasticBN(max_mid)
        if self.use_se:
            self.depth_conv.se = ElasticSE(max_mid, space.se_channels(max_mid))
        self.point_linear = Stage()
        self.point_linear.conv = ElasticPointwise(max_mid, self.cout)
        self.point_linear.bn = ElasticBN(self.cout)
        self.active_kernel = max(space.ks_choices)
        self.active_expand = max(space.expand_choices)

    def mid(self, e: int | None = None) -> int:
        return self._mid[self.active_expand if e is None else e]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mid = self.mid()
        if self.inverted_bottleneck is not None:
            x = F.conv2d(x, self.inverted_bottleneck.conv.active(mid, self.cin))
            x = activation(self.act, self.inverted_bottleneck.bn(x))
        w = self.depth_conv.conv.active(mid, self.active_kernel)
        x = F.conv2d(x, w, None, self.stride, self.active_kernel // 2, 1, mid)
        x = activation(self.act, self.depth_conv.bn(x))
        if self.use_se:
            x = self.depth_conv.se(x, self._se_mid[self.active_expand])
        x = F.conv2d(x, self.point_linear.conv.active(self.cout, mid))
        return self.point_linear.bn(x)

    @torch.no_grad()
    def sort_channels(self) -> None:
        """Order middle channels by importance (L1 norm of ``point_linear`` weights).

        Every tensor that touches the middle channels is permuted the same way, so the
        largest network computes exactly what it did before; smaller expand ratios then keep
        the most important channels.
        """
        importance = self.point_linear.conv.conv.weight.abs().sum(dim=(0, 2, 3))
        idx = torch.argsort(importance, descending=True, stable=True)
        pl = self.point_linear.conv.conv
        pl.weight.copy_(pl.weight[:, idx])
        _permute_bn(self.depth_conv.bn.bn, idx)
        dw = self.depth_conv.conv.conv
        dw.weight.copy_(dw.weight[idx])
        if self.use_se:
            fc = self.depth_conv.se.fc
            fc.expand.weight.copy_(fc.expand.weight[idx])
            fc.expand.bias.copy_(fc.expand.bias[idx])
            fc.reduce.weight.copy_(fc.reduce.weight[:, idx])
            se_idx = torch.argsort(fc.expand.weight.abs().sum(dim=(0, 2, 3)), descending=True, stable=True)
            fc.expand.weight.copy_(fc.expand.weight[:, se_idx])
            fc.reduce.weight.copy_(fc.reduce.weight[se_idx])
            fc.reduce.bias.copy_(fc.reduce.bias[se_idx])
        if self.inverted_bottleneck is not None:
            _permute_bn(self.inverted_bottleneck.bn.bn, idx)
            ib = self.inverted_bottleneck.conv.conv
            ib.weight.copy_(ib.weight[idx])


def _permute_bn(bn: nn.BatchNorm2d, idx: torch.Tensor) -> None:
    for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
        t.copy_(t[idx])


class Block(nn.Module):
    """Residual wrapper: ``x + conv(x)`` where the block keeps shape (identity shortcut)."""

    def __init__(self, conv: nn.Module, identity: bool):
        super().__init__()
        self.conv = conv
        self.identity = identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.identity else self.conv(x)


class Classifier(nn.Module):
    def __init__(self, cin: int, num_classes: int, dropout: float):
        super().__init__()
        self.dropout = dropout
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(F.dropout(x, self.dropout, self.training))


class ElasticMobileNetV3(nn.Module):
    """The OFA MobileNetV3 supernet over a :class:`SearchSpace`.

    ``set_active(arch)`` selects a sub-network; ``forward`` runs it (feed images at the arch's
    resolution); ``extract(arch)`` returns it as a standalone timm ``MobileNetV3``.
    """

    def __init__(self, space: SearchSpace | str | None = None, num_classes: int | None = None,
                 dropout: float | None = None):
        super().__init__()
        self.space = space = resolve_space(space)
        self.num_classes = space.num_classes if num_classes is None else num_classes
        self.first_conv = ConvBN(space.in_chans, space.stem_width, 3, space.stem_stride, act="h_swish")
        first = Block(StaticMBConv(space.stem_width, space.first_block_width, space.first_block_stride,
                                   space.first_block_act),
                      identity=space.first_block_stride == 1 and space.stem_width == space.first_block_width)
        self.blocks = nn.ModuleList([first] + [Block(ElasticMBConv(space, b.index), b.identity_skip)
                                               for b in space.blocks])
        last = space.stage_widths[-1]
        self.final_expand_layer = ConvBN(last, space.final_expand_width, 1, act="h_swish")
        self.feature_mix_layer = ConvBN(space.final_expand_width, space.feature_mix_width, 1,
                                        use_bn=False, act="h_swish")
        self.classifier = Classifier(space.feature_mix_width, self.num_classes,
                                     space.dropout if dropout is None else dropout)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum, m.eps = space.bn_momentum, space.bn_eps
        self.reset_parameters()
        self.active_depth = list(space.depth_choices[-1:] * space.n_stages)
        self.active_resolution = space.resolutions[-1]

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """OFA's initialisation: He (fan-out) for convs, unit BN, uniform linear."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.normal_(0, math.sqrt(2.0 / n))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
                m.weight.fill_(1)
                m.bias.zero_()
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.weight.shape[1])
                m.weight.uniform_(-bound, bound)
                m.bias.zero_()
            elif isinstance(m, ElasticDepthwise):
                for name, p in m.named_parameters(recurse=False):
                    p.copy_(torch.eye(p.shape[0]))

    # ------------------------------------------------------------------ active arch
    @property
    def elastic_blocks(self) -> list[ElasticMBConv]:
        return [b.conv for b in self.blocks[1:]]

    def set_active(self, arch: ArchSpec | dict | str) -> ArchSpec:
        """Select the sub-network ``arch`` (validated against this supernet's space)."""
        arch = ArchSpec.parse(arch, self.space)
        for blk, k, e in zip(self.elastic_blocks, arch.ks, arch.e):
            blk.active_kernel, blk.active_expand = k, e
        self.active_depth = list(arch.d)
        self.active_resolution = arch.r
        return arch

    def set_max(self) -> ArchSpec:
        return self.set_active(self.space.largest())

    @property
    def active_arch(self) -> ArchSpec:
        blocks = self.elastic_blocks
        return ArchSpec.from_dict({"ks": [b.active_kernel for b in blocks], "e": [b.active_expand for b in blocks],
                                   "d": self.active_depth, "r": self.active_resolution}, space=self.space)

    def sample_active(self, rng: np.random.Generator | int | None = None) -> ArchSpec:
        """Activate a uniformly random sub-network and return it."""
        return self.set_active(self.space.sample(1, rng)[0])

    def active_block_indices(self) -> Iterator[int]:
        """Indices into ``self.blocks`` of the elastic blocks that run."""
        per = self.space.max_depth
        for s, depth in enumerate(self.active_depth):
            for p in range(depth):
                yield 1 + s * per + p

    # ------------------------------------------------------------------ forward
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks[0](self.first_conv(x))
        for i in self.active_block_indices():
            x = self.blocks[i](x)
        return self.final_expand_layer(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.forward_features(x).mean((2, 3), keepdim=True)
        x = self.feature_mix_layer(x).flatten(1)
        return self.classifier(x)

    # ------------------------------------------------------------------ width sorting
    def sort_channels(self) -> None:
        """Sort every block's middle channels by importance (before elastic-expand training)."""
        for blk in self.elastic_blocks:
            blk.sort_channels()
