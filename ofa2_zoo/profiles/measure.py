"""Latency measurement backends: onnxruntime (CPU), torch eager, TensorRT (optional).

Every measurement runs ``warmup`` untimed calls, then ``repeats`` timed calls with a fixed
thread count, and reports the median and the inter-quartile range in milliseconds. Whole
networks are timm sub-networks; single operators (for lookup tables) are the same timm
building blocks the packaged networks are made of.
"""

from __future__ import annotations

import io
import os
import platform
import statistics
import time
from dataclasses import dataclass
from functools import partial
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import Ofa2Error
from ..space import ArchSpec, SearchSpace
from ..supernet.subnet import create_subnet
from .lut import Op
from .schema import Measurement


class BackendUnavailable(Ofa2Error, RuntimeError):
    """The requested measurement backend cannot run on this machine."""


@dataclass(frozen=True)
class Timing:
    median_ms: float
    iqr_ms: float
    n: int


def _time(fn: Callable[[], object], warmup: int, repeats: int) -> Timing:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    q = np.percentile(times, [25, 75])
    return Timing(statistics.median(times), float(q[1] - q[0]), repeats)


def onnx_bytes(module: nn.Module, shape: tuple[int, ...]) -> bytes:
    """Export ``module`` (eval mode) to ONNX opset 17 in memory."""
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module.eval(), (torch.zeros(shape),), buf, opset_version=17, dynamo=False,
                          input_names=["input"], output_names=["output"])
    return buf.getvalue()


def measure_module(module: nn.Module, shape: tuple[int, ...], m: Measurement) -> Timing:
    """Time one forward pass of ``module`` on an input of ``shape`` with backend ``m``."""
    x = torch.randn(shape)
    if m.backend == "onnxruntime":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = m.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(onnx_bytes(module, shape), so, providers=["CPUExecutionProvider"])
        feed = {"input": x.numpy()}
        return _time(lambda: sess.run(None, feed), m.warmup, m.repeats)
    if m.backend == "torch":
        prev = torch.get_num_threads()
        torch.set_num_threads(m.threads)
        module = module.eval()
        try:
            with torch.inference_mode():
                return _time(lambda: module(x), m.warmup, m.repeats)
        finally:
            torch.set_num_threads(prev)
    if m.backend == "tensorrt":
        from ..package.tensorrt import tensorrt_latency  # optional extra; raises BackendUnavailable

        return tensorrt_latency(onnx_bytes(module, shape), shape, m)
    raise BackendUnavailable(f"unknown backend {m.backend!r}")


def measure_arch(arch: ArchSpec, space: SearchSpace, m: Measurement) -> Timing:
    """End-to-end latency of one sub-network (random weights: latency does not depend on them)."""
    model = create_subnet(arch, space)
    return measure_module(model, (m.batch_size, space.in_chans, arch.r, arch.r), m)


def measure_archs(archs: Sequence[ArchSpec], space: SearchSpace, m: Measurement) -> np.ndarray:
    """Median latency (ms) of each arch, measuring each distinct network once."""
    cache: dict[ArchSpec, float] = {}
    for a in archs:
        if a not in cache:
            cache[a] = measure_arch(a, space, m).median_ms
    return np.array([cache[a] for a in archs])


# ---------------------------------------------------------------------------- operators
def op_module(op: Op, space: SearchSpace) -> nn.Module:
    """The timm module that computes operator ``op`` inside a packaged sub-network."""
    from timm.layers import get_act_layer
    from timm.models._efficientnet_blocks import DepthwiseSeparableConv, InvertedResidual, SqueezeExcite
    from timm.models._efficientnet_builder import round_channels

    hswish, relu = get_act_layer("hard_swish"), nn.ReLU
    norm = partial(nn.BatchNorm2d, momentum=space.bn_momentum, eps=space.bn_eps)
    cin, cout = op.inp[2], op.out[-1]
    if op.kind == "Conv":
        return nn.Sequential(nn.Conv2d(cin, cout, 3, space.stem_stride, 1, bias=False), norm(cout), hswish())
    if op.kind == "Conv_1":
        return nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), norm(cout), hswish())
    if op.kind == "AvgPool2D":
        return nn.AdaptiveAvgPool2d(1)
    if op.kind == "Conv_2":
        return nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), hswish())
    if op.kind == "Logits":
        return nn.Sequential(nn.Flatten(1), nn.Linear(cin, cout))
    act = hswish if op.hs else relu
    if op.first_block:
        return DepthwiseSeparableConv(cin, cout, 3, stride=op.stride, act_layer=act, norm_layer=norm,
                                      noskip=not op.idskip)
    se = partial(SqueezeExcite, gate_layer="hard_sigmoid", force_act_layer=nn.ReLU, rd_round_fn=round_channels,
                 rd_ratio=0.25) if op.se else None
    return InvertedResidual(cin, cout, op.kernel, stride=op.stride, exp_ratio=op.mid / cin, act_layer=act,
                            norm_layer=norm, se_layer=se, noskip=not op.idskip)


def op_input_shape(op: Op, batch: int) -> tuple[int, ...]:
    h, w, c = op.inp
    return (batch, c, h, w)


def machine_info() -> dict:
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}
