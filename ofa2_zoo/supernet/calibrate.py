"""BatchNorm re-calibration of an extracted sub-network (OFA's procedure).

Shared-weight sub-networks inherit running statistics that were accumulated for other
architectures, so they must be re-estimated before use. As in OFA, every BatchNorm layer
normalises with the statistics of the current batch, and its running mean and (biased)
variance become the averages of the per-batch statistics, weighted by batch size, over about
2,000 training images.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from ..errors import Ofa2Error


class _StatMeter:
    def __init__(self) -> None:
        self.mean_sum: torch.Tensor | None = None
        self.var_sum: torch.Tensor | None = None
        self.count = 0

    def update(self, x: torch.Tensor) -> None:
        dims = (0, 2, 3) if x.dim() == 4 else (0,)
        mean = x.mean(dims)
        var = ((x - mean.view(1, -1, *([1] * (x.dim() - 2)))) ** 2).mean(dims)
        n = x.shape[0]
        self.mean_sum = mean.detach() * n if self.mean_sum is None else self.mean_sum + mean.detach() * n
        self.var_sum = var.detach() * n if self.var_sum is None else self.var_sum + var.detach() * n
        self.count += n


def _images(batch: object) -> torch.Tensor:
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], torch.Tensor):
        return batch[0]
    raise Ofa2Error("BN re-calibration needs batches of images (a tensor, or (images, labels) pairs)")


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[object], num_images: int = 2000) -> int:
    """Re-estimate every BatchNorm's running statistics of ``model`` from ``batches``.

    ``batches`` yields image tensors or ``(images, labels)`` pairs (a DataLoader works).
    At most ``num_images`` images are used. Returns the number of images seen. The model's
    train/eval mode is restored afterwards; nothing but the BN buffers changes.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return 0
    meters = {bn: _StatMeter() for bn in bns}
    was_training = model.training

    def pre_hook(bn: nn.modules.batchnorm._BatchNorm, args: tuple[torch.Tensor]) -> None:
        meters[bn].update(args[0])

    # Training-mode BN normalises with the batch's own statistics (timm's BatchNormAct2d then
    # applies its activation as usual); everything else (dropout) stays in eval mode. The
    # running buffers it updates on the way are overwritten at the end.
    tracked = {bn: bn.num_batches_tracked.clone() for bn in bns if bn.num_batches_tracked is not None}
    handles = [bn.register_forward_pre_hook(pre_hook) for bn in bns]
    model.eval()
    for bn in bns:
        bn.train()
    seen = 0
    try:
        for batch in batches:
            if seen >= num_images:
                break
            images = _images(batch)[: num_images - seen]
            ref = next(model.parameters())
            model(images.to(device=ref.device, dtype=ref.dtype))
            seen += images.shape[0]
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
        for bn, n in tracked.items():
            bn.num_batches_tracked.copy_(n)
    if seen == 0:
        raise Ofa2Error("BN re-calibration got no images")
    for bn, meter in meters.items():
        if meter.count:
            bn.running_mean.copy_(meter.mean_sum / meter.count)
            bn.running_var.copy_(meter.var_sum / meter.count)
    return seen
