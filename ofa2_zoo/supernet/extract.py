"""Sub-network extraction: copy the active weight slices of a supernet into a timm model."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._threads import torch_threads
from ..space import ArchSpec
from .elastic import BNParams, ElasticMobileNetV3
from .subnet import create_subnet


def _bn(prefix: str, bn: BNParams | nn.BatchNorm2d, tracked: torch.Tensor) -> dict[str, torch.Tensor]:
    return {f"{prefix}.weight": bn.weight, f"{prefix}.bias": bn.bias, f"{prefix}.running_mean": bn.running_mean,
            f"{prefix}.running_var": bn.running_var, f"{prefix}.num_batches_tracked": tracked}


@torch.no_grad()
def subnet_state_dict(net: ElasticMobileNetV3, arch: ArchSpec) -> dict[str, torch.Tensor]:
    """The timm ``MobileNetV3`` state dict of ``arch``, taken from ``net``'s weights."""
    space = net.space
    sd: dict[str, torch.Tensor] = {"conv_stem.weight": net.first_conv.conv.weight}
    sd.update(_bn("bn1", net.first_conv.bn, net.first_conv.bn.num_batches_tracked))
    first = net.blocks[0].conv
    sd["blocks.0.0.conv_dw.weight"] = first.depth_conv.conv.weight
    sd.update(_bn("blocks.0.0.bn1", first.depth_conv.bn, first.depth_conv.bn.num_batches_tracked))
    sd["blocks.0.0.conv_pw.weight"] = first.point_linear.conv.weight
    sd.update(_bn("blocks.0.0.bn2", first.point_linear.bn, first.point_linear.bn.num_batches_tracked))
    stage = 0
    for layout in space.blocks:
        if layout.position >= arch.d[layout.stage]:
            continue
        if layout.position == 0:
            stage += 1
        blk = net.blocks[1 + layout.index].conv
        k, e = arch.ks[layout.index], arch.e[layout.index]
        mid = blk.mid(e)
        p = f"blocks.{stage}.{layout.position}"
        if blk.inverted_bottleneck is not None:
            ib = blk.inverted_bottleneck
            sd[f"{p}.conv_pw.weight"] = ib.conv.active(mid, blk.cin)
            sd.update(_bn(f"{p}.bn1", ib.bn.active(mid), ib.bn.bn.num_batches_tracked))
        sd[f"{p}.conv_dw.weight"] = blk.depth_conv.conv.active(mid, k)
        sd.update(_bn(f"{p}.bn2", blk.depth_conv.bn.active(mid), blk.depth_conv.bn.bn.num_batches_tracked))
        if blk.use_se:
            rw, rb, ew, eb = blk.depth_conv.se.active(mid, space.se_channels(mid))
            sd.update({f"{p}.se.conv_reduce.weight": rw, f"{p}.se.conv_reduce.bias": rb,
                       f"{p}.se.conv_expand.weight": ew, f"{p}.se.conv_expand.bias": eb})
        sd[f"{p}.conv_pwl.weight"] = blk.point_linear.conv.active(blk.cout, mid)
        sd.update(_bn(f"{p}.bn3", blk.point_linear.bn.active(blk.cout), blk.point_linear.bn.bn.num_batches_tracked))
    head = f"blocks.{stage + 1}.0"
    sd[f"{head}.conv.weight"] = net.final_expand_layer.conv.weight
    sd.update(_bn(f"{head}.bn1", net.final_expand_layer.bn, net.final_expand_layer.bn.num_batches_tracked))
    sd["conv_head.weight"] = net.feature_mix_layer.conv.weight
    sd["classifier.weight"] = net.classifier.linear.weight
    sd["classifier.bias"] = net.classifier.linear.bias
    return {k: v.detach().clone().contiguous() for k, v in sd.items()}


@torch_threads(1)  # many small tensor ops: spinning intra-op threads made it 10x slower under load
def extract_subnet(net: ElasticMobileNetV3, arch: ArchSpec | dict | str | None = None, **kwargs: Any) -> nn.Module:
    """Standalone timm ``MobileNetV3`` for ``arch`` with weights copied from ``net``.

    ``arch=None`` extracts the currently active sub-network. Keyword arguments go to the timm
    model (e.g. ``drop_rate``, ``num_classes``); its outputs equal the supernet's for ``arch``.

    The model is built on torch's ``meta`` device (shapes only: no memory, no random
    initialisation) and takes the copied tensors as its own (``load_state_dict(assign=True)``),
    so no weight is initialised only to be overwritten. A new head (``num_classes`` other than
    the supernet's) is built the usual way, since its classifier keeps timm's initialisation.
    """
    arch = ArchSpec.parse(net.active_arch if arch is None else arch, net.space)
    kwargs.setdefault("num_classes", net.num_classes)
    state = subnet_state_dict(net, arch)
    if kwargs["num_classes"] != net.num_classes:  # a new head: keep timm's fresh classifier
        ref = next(net.parameters())
        model = create_subnet(arch, net.space, **kwargs)
        model.to(device=ref.device, dtype=ref.dtype)
        state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
        missing, unexpected = model.load_state_dict(state, strict=False)
        assert not unexpected and all(k.startswith("classifier.") for k in missing), (missing, unexpected)
    else:
        with torch.device("meta"):
            model = create_subnet(arch, net.space, **kwargs)
        model.load_state_dict(state, strict=True, assign=True)
        left = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
        assert not left, f"tensors the state dict did not fill: {left}"
    model.train(net.training)
    return model
