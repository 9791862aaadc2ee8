"""The static sub-network as a timm ``MobileNetV3``, and timm's ``ofa2_subnet`` entrypoint.

An OFA sub-network *is* a MobileNetV3, so we build timm's own class from block strings
instead of a hand-written static network: ``features_only``, ``forward_intermediates``,
TorchScript/FX tracing and timm's export tooling then work without extra code.

``timm.create_model("ofa2_subnet", arch=..., space=...)`` builds one; in a ``config.json``
the same two arguments live in ``model_args``, so ``local-dir:`` and ``hf-hub:`` loading work.
Like every timm architecture it also builds with no arguments: the default is the largest
sub-network of the default space (``ofa_mbv3_w1.2``: kernel 7, expand 6, depth 4 everywhere,
224 px), i.e. the whole supernet as a static network (random weights).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Mapping

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import get_act_layer
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._efficientnet_blocks import SqueezeExcite
from timm.models._efficientnet_builder import decode_arch_def, round_channels
from timm.models.mobilenetv3 import MobileNetV3, MobileNetV3Features
from torch import nn

from .._threads import torch_threads
from ..errors import CheckpointError, clip
from ..space import ArchSpec, SearchSpace, resolve_space

__all__ = ["block_strings", "subnet_kwargs", "create_subnet", "ofa2_subnet", "default_cfgs", "default_arch"]


def block_strings(arch: ArchSpec, space: SearchSpace) -> list[list[str]]:
    """timm arch-definition strings, one list per stage (first block, elastic stages, head)."""
    nre = lambda act: "_nre" if act == "relu" else ""  # noqa: E731
    stages = [[f"ds_r1_k3_s{space.first_block_stride}_e1_c{space.first_block_width}{nre(space.first_block_act)}"]]
    for b in space.blocks:
        if b.position >= arch.d[b.stage]:
            continue
        if b.position == 0:
            stages.append([])
        k, e = arch.ks[b.index], arch.e[b.index]
        ratio = space.mid_channels(b.in_channels, e) / b.in_channels  # OFA's exact mid/in
        se = "_se0.25" if b.use_se else ""
        stages[-1].append(f"ir_r1_k{k}_s{b.stride}_e{ratio!r}_c{b.out_channels}{se}{nre(b.act)}")
    stages.append([f"cn_r1_k1_s1_c{space.final_expand_width}"])
    return stages


def subnet_kwargs(arch: ArchSpec, space: SearchSpace) -> dict[str, Any]:
    """Keyword arguments of timm's ``MobileNetV3`` that express ``arch`` exactly."""
    return dict(
        block_args=decode_arch_def(block_strings(arch, space)),
        num_classes=space.num_classes,
        in_chans=space.in_chans,
        stem_size=space.stem_width,
        fix_stem=True,
        num_features=space.feature_mix_width,
        head_bias=False,
        head_norm=False,
        round_chs_fn=partial(round_channels, multiplier=0),  # widths are final already
        act_layer=get_act_layer("hard_swish"),
        norm_layer=partial(nn.BatchNorm2d, momentum=space.bn_momentum, eps=space.bn_eps),
        se_layer=partial(SqueezeExcite, gate_layer="hard_sigmoid", force_act_layer=nn.ReLU,
                         rd_round_fn=round_channels),
        drop_rate=space.dropout,
    )


def default_arch(space: SearchSpace | Mapping[str, Any] | str | None = None) -> ArchSpec:
    """What ``ofa2_subnet`` builds without ``arch=``: the largest sub-network of the space at its
    largest resolution (the whole supernet as a static network)."""
    return resolve_space(space).largest()


def _shape_cfg(arch: ArchSpec, space: SearchSpace) -> dict[str, Any]:
    """The parts of a pretrained_cfg that follow from the arch: input size and unpooled feature size."""
    f = space.feature_size(arch.r)
    return {"input_size": (space.in_chans, arch.r, arch.r), "pool_size": (f, f), "num_classes": space.num_classes}


def _cfg() -> dict[str, Any]:
    return {
        "url": "", **_shape_cfg(default_arch(), resolve_space(None)),
        "crop_pct": 0.875, "interpolation": "bilinear", "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD, "first_conv": "conv_stem", "classifier": "classifier",
        "license": "mit",
    }


default_cfgs = generate_default_cfgs({"ofa2_subnet": _cfg()})


@torch_threads(1)  # weight init and loading are many small ops: see ofa2_zoo._threads
def create_subnet(arch: ArchSpec | Mapping[str, Any] | str, space: SearchSpace | Mapping[str, Any] | str | None = None,
                  pretrained: bool = False, variant: str = "ofa2_subnet", **kwargs: Any) -> nn.Module:
    """Build the static sub-network ``arch`` of ``space`` through timm's model builder.

    Args:
        arch: The sub-network: an :class:`ArchSpec`, OFA dict or arch string.
        space: Its search space (an object, a dict or a registered name; default: OFA's w1.2).
        pretrained: Whether timm loads weights from ``pretrained_cfg``.
        variant: The model name timm builds it as.
        **kwargs: Passed to timm's ``build_model_with_cfg`` (``pretrained_cfg``, ``num_classes``, ``features_only``, ...).
    """
    space = resolve_space(space)
    arch = ArchSpec.parse(arch, space)
    model_kwargs = subnet_kwargs(arch, space)
    model_kwargs.update(kwargs)
    if model_kwargs.get("pretrained_cfg") is None:
        overlay = dict(model_kwargs.pop("pretrained_cfg_overlay", None) or {})
        model_kwargs["pretrained_cfg_overlay"] = {**_shape_cfg(arch, space), **overlay}
    model_cls, kwargs_filter, features_cls = MobileNetV3, None, False
    if model_kwargs.pop("features_only", False):
        if "out_indices" not in model_kwargs:
            # timm defaults to 5 feature levels; small spaces may have fewer
            n_levels = len(MobileNetV3(**{k: v for k, v in subnet_kwargs(arch, space).items()}).feature_info)
            model_kwargs["out_indices"] = tuple(range(min(5, n_levels)))
        model_cls, features_cls = MobileNetV3Features, True
        kwargs_filter = ("num_classes", "num_features", "head_conv", "head_bias", "head_norm", "global_pool")
    cfg_in = model_kwargs.get("pretrained_cfg")
    try:
        model = build_model_with_cfg(model_cls, variant, pretrained, pretrained_strict=not features_cls,
                                     kwargs_filter=kwargs_filter, **model_kwargs)
    except Exception as exc:
        why = _weights_failure(exc) if pretrained else None
        if why is None:
            raise
        raise CheckpointError(f"weights {_weights_source(variant, cfg_in)} {why} for arch {arch.to_string()} "
                              "(fix: re-package the member, or pull it again; weights must come from the package "
                              "whose config.json describes this arch)") from None
    if space.stem_stride != 2:
        _set_stem_stride(model, space.stem_stride)
    model.ofa2_arch = arch
    model.ofa2_space = space
    return model


def _weights_failure(exc: Exception) -> str | None:
    """What went wrong when timm loaded pretrained weights (None: not a weights problem)."""
    text = str(exc)
    if type(exc).__name__ == "SafetensorError":
        return f"are not a readable safetensors file ({clip(text.splitlines()[0] if text else '', 100)})"
    if isinstance(exc, RuntimeError) and "Error(s) in loading state_dict" in text:
        detail = next((line.strip() for line in text.splitlines()[1:] if line.strip()), "")
        return f"do not fit: {clip(detail, 160)}"
    return None


def _weights_source(variant: str, cfg: Any) -> str:
    """Where timm took the weights from (the file, the Hub repo, or at least the model name)."""
    get = cfg.get if isinstance(cfg, Mapping) else (lambda k: getattr(cfg, k, None))
    if cfg is not None and not isinstance(cfg, str):
        if get("file"):
            return str(get("file"))
        if get("hf_hub_id"):
            return f"hf-hub:{get('hf_hub_id')}"
    return f"of {variant}" + (f".{cfg}" if isinstance(cfg, str) else "")


def _set_stem_stride(model: nn.Module, stride: int) -> None:
    """timm's MobileNetV3 stem always strides by 2; small-image spaces may not."""
    model.conv_stem.stride = (stride, stride)
    info = model.feature_info
    entries = info.info if hasattr(info, "info") else info
    for entry in entries:
        entry["reduction"] = entry["reduction"] * stride // 2


@register_model
def ofa2_subnet(pretrained: bool = False, arch: Any = None, space: Any = None, **kwargs: Any) -> nn.Module:
    """A sub-network of an OFA MobileNetV3 supernet.

    ``arch``: an arch dict (``ks/e/d/r``), its JSON or its string form (default: the largest
    sub-network of the space, see :func:`default_arch`); ``space``: a registered space name
    (default ``ofa_mbv3_w1.2``) or a full space dict (as written in ``config.json``).
    """
    if arch is None:
        arch = default_arch(space)
    return create_subnet(arch, space, pretrained=pretrained, **kwargs)
