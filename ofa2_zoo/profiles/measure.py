"""Latency measurement backends: onnxruntime (CPU), torch eager, LiteRT (CPU, XNNPACK; the
``litert`` extra) and TensorRT (optional).

A backend turns a module and an input shape into a *runner*: a no-argument callable that
performs one inference (for TensorRT it waits for the GPU). Timing runs ``warmup`` untimed
calls, then ``repeats`` timed calls with a fixed thread count, and summarises them in
milliseconds: median and inter-quartile range (the spread), 10th percentile and minimum. With
``rounds > 1`` the timed calls of several runners are interleaved in rounds, so a burst of
load from another process on a shared machine spreads over all of them instead of skewing
whichever was being timed at that moment. On a machine shared with other jobs how well one
network's timing repeats from one pass to the next depends on the clock and the statistic
(docs/profiles.md; the figures are in ``benchmarks/RESULTS.md``), which is why a profile can
choose both.

Whole networks are timm sub-networks (:func:`~ofa2_zoo.supernet.create_subnet`); single
operators (for lookup tables) are the same timm building blocks the networks are made of.
Weights are random: latency does not depend on their values.
"""

from __future__ import annotations

import io
import math
import statistics
import time
from dataclasses import dataclass
from functools import partial
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import BackendUnavailable
from ..progress import ProgressFn
from ..space import ArchSpec, SearchSpace
from ..supernet.subnet import create_subnet
from .lut import Op
from .schema import Measurement

Runner = Callable[[], object]


@dataclass(frozen=True)
class Timing:
    """Summary of ``n`` timed calls (ms): median and inter-quartile range, 10th percentile, minimum."""

    median_ms: float
    iqr_ms: float
    n: int
    p10_ms: float = float("nan")
    min_ms: float = float("nan")

    def value(self, statistic: str = "median") -> float:
        return {"median": self.median_ms, "p10": self.p10_ms, "min": self.min_ms}[statistic]

    def to_entry(self) -> dict[str, float]:
        """The table entry written by ``build-lut``."""
        return {"median": self.median_ms, "iqr": self.iqr_ms, "p10": self.p10_ms, "min": self.min_ms, "n": self.n}


def _summary(times: Sequence[float]) -> Timing:
    p10, q1, q3 = np.percentile(times, [10, 25, 75])
    return Timing(float(statistics.median(times)), float(q3 - q1), len(times), float(p10), float(min(times)))


def time_calls(fn: Runner, warmup: int, repeats: int, rounds: int = 1, min_seconds: float = 0.0,
               clock: str = "wall") -> Timing:
    """Summary (ms) of ``repeats`` timed calls after ``warmup`` untimed ones.

    Args:
        fn: The runner to time (one inference per call).
        warmup: Untimed calls first.
        repeats: Timed calls.
        rounds: Passes the timed calls are spread over.
        min_seconds: The least time the timed calls span (further passes run until they do).
        clock: ``wall`` or ``cpu`` (the calling thread's CPU time).
    """
    return time_interleaved([fn], warmup, repeats, rounds, min_seconds, clock)[0]


_time = time_calls  # older name, kept for callers outside this package


#: What a timed call is measured with: elapsed time, or the CPU time of the calling thread.
CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


def time_interleaved(fns: Sequence[Runner], warmup: int, repeats: int, rounds: int = 1,
                     min_seconds: float = 0.0, clock: str = "wall") -> list[Timing]:
    """Time several runners in ``rounds`` interleaved passes (``repeats`` calls each in total).

    With ``min_seconds``, further passes run until the timed calls span at least that long,
    so very fast networks are not all timed within one short burst of another process's load.
    ``clock="cpu"`` times each call by the calling thread's CPU time: for a backend that
    computes on the calling thread (onnxruntime and torch with one thread) it equals the
    elapsed time of an undisturbed call, and time slices given to other processes do not
    count, which keeps measurements repeatable on a busy shared machine.

    Args:
        fns: The runners to time.
        warmup: Untimed calls of each runner first.
        repeats: Timed calls of each runner in all.
        rounds: Interleaved passes the timed calls are spread over.
        min_seconds: The least time the timed calls span (further passes run until they do).
        clock: ``wall`` or ``cpu`` (the calling thread's CPU time).
    """
    for fn in fns:
        for _ in range(warmup):
            fn()
    per_round = max(1, math.ceil(repeats / max(1, rounds)))
    times: list[list[float]] = [[] for _ in fns]
    tick, wall = CLOCKS[clock], time.perf_counter
    start, done = wall(), 0
    while done < max(1, rounds) or wall() - start < min_seconds:
        for fn, out in zip(fns, times):
            for _ in range(per_round):
                t0 = tick()
                fn()
                out.append((tick() - t0) * 1e3)
        done += 1
    return [_summary(t) for t in times]


# ---------------------------------------------------------------------------- backends
def onnx_bytes(module: nn.Module, shape: tuple[int, ...]) -> bytes:
    """Export ``module`` (eval mode) to ONNX opset 17 in memory (static shapes)."""
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module.eval(), (torch.zeros(shape),), buf, opset_version=17, dynamo=False,
                          input_names=["input"], output_names=["output"])
    return buf.getvalue()


def tensorrt_unavailable_reason() -> str | None:
    """Why TensorRT cannot measure here, or ``None`` when it can."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return "the tensorrt Python package is not installed (pip install 'ofa2-zoo[tensorrt]')"
    if not torch.cuda.is_available():
        return "no CUDA GPU is visible on this machine"
    return None


def _onnxruntime_runner(module: nn.Module, shape: tuple[int, ...], m: Measurement) -> Runner:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = m.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(onnx_bytes(module, shape), so, providers=["CPUExecutionProvider"])
    feed = {"input": torch.randn(shape, generator=torch.Generator().manual_seed(0)).numpy()}
    return partial(sess.run, None, feed)


def _litert_runner(module: nn.Module, shape: tuple[int, ...], m: Measurement) -> Runner:
    """The module converted with litert-torch, run by ai-edge-litert's interpreter (XNNPACK) with
    ``m.threads`` threads: what a phone or an Arm board runs, here on this CPU."""
    missing = _litert_missing()
    if missing:
        raise BackendUnavailable(f"litert backend unavailable: {missing} (pip install 'ofa2-zoo[litert]')")
    from .._litert import tflite_bytes

    content = tflite_bytes(module, shape)  # first: the converter's log level is set before TensorFlow loads
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content, num_threads=m.threads)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    interpreter.set_tensor(inp["index"], torch.randn(shape, generator=torch.Generator().manual_seed(0)).numpy())
    return interpreter.invoke


def _litert_missing() -> str | None:
    import importlib.util

    for module in ("litert_torch", "ai_edge_litert"):
        if importlib.util.find_spec(module) is None:
            return f"no {module} package here"
    return None


def _torch_runner(module: nn.Module, shape: tuple[int, ...], m: Measurement) -> Runner:
    module = module.eval()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))

    def run() -> object:
        prev = torch.get_num_threads()
        torch.set_num_threads(m.threads)
        try:
            with torch.inference_mode():
                return module(x)
        finally:
            torch.set_num_threads(prev)

    return run


def _tensorrt_runner(module: nn.Module, shape: tuple[int, ...], m: Measurement) -> Runner:
    """Build a TensorRT engine from the module's ONNX graph (fp16/fp32) and run it on the GPU."""
    reason = tensorrt_unavailable_reason()
    if reason:
        raise BackendUnavailable(f"tensorrt backend unavailable: {reason}")
    if m.precision == "int8":
        raise BackendUnavailable("tensorrt int8 latency tables need calibration images; measure fp16 instead")
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    explicit = 0 if int(trt.__version__.split(".")[0]) >= 10 else \
        1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(explicit)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes(module, shape)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendUnavailable(f"TensorRT cannot parse the ONNX graph: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
    if m.precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendUnavailable("TensorRT failed to build an engine (see its log)")
    engine = trt.Runtime(logger).deserialize_cuda_engine(serialized)
    context = engine.create_execution_context()
    buffers = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        dtype = torch.from_numpy(np.empty(0, dtype=trt.nptype(engine.get_tensor_dtype(name)))).dtype
        buf = torch.zeros(tuple(context.get_tensor_shape(name)), dtype=dtype, device="cuda")
        context.set_tensor_address(name, int(buf.data_ptr()))
        buffers.append(buf)
    stream = torch.cuda.Stream()

    def run() -> None:
        context.execute_async_v3(stream.cuda_stream)
        stream.synchronize()

    run.keepalive = (engine, context, buffers, stream)  # the engine must outlive the runner
    return run


_BACKENDS = {"onnxruntime": _onnxruntime_runner, "torch": _torch_runner, "litert": _litert_runner,
             "tensorrt": _tensorrt_runner}


def make_runner(module: nn.Module, shape: tuple[int, ...], m: Measurement) -> Runner:
    """A callable that runs one inference of ``module`` on an input of ``shape`` with backend ``m``."""
    if m.backend not in _BACKENDS:
        raise BackendUnavailable(f"unknown backend {m.backend!r}; choose from {sorted(_BACKENDS)}")
    return _BACKENDS[m.backend](module, shape, m)


def measure_module(module: nn.Module, shape: tuple[int, ...], m: Measurement) -> Timing:
    """Time one forward pass of ``module`` on an input of ``shape`` with backend ``m``."""
    return time_calls(make_runner(module, shape, m), m.warmup, m.repeats, m.rounds, m.min_seconds, m.clock)


def measure_call_overhead(m: Measurement) -> Timing:
    """One inference call of an (almost) empty graph: the cost every measured operator carries."""
    return measure_module(nn.Identity(), (m.batch_size, 8, 1, 1), m)


# ---------------------------------------------------------------------------- networks
def arch_input_shape(arch: ArchSpec, space: SearchSpace, m: Measurement) -> tuple[int, int, int, int]:
    return (m.batch_size, space.in_chans, arch.r, arch.r)


def measure_arch(arch: ArchSpec, space: SearchSpace, m: Measurement) -> Timing:
    """End-to-end latency of one sub-network."""
    return measure_module(create_subnet(arch, space), arch_input_shape(arch, space, m), m)


def measure_archs(archs: Sequence[ArchSpec], space: SearchSpace, m: Measurement, *, chunk: int = 25,
                  progress: ProgressFn | None = None) -> np.ndarray:
    """Latency (ms, ``m.statistic`` of the timed calls) of each arch; each distinct network is measured once.

    Networks are prepared ``chunk`` at a time and timed interleaved over ``m.rounds`` rounds.

    Args:
        archs: The networks (repeats are measured once).
        space: Their search space.
        m: How to measure: backend, threads, warmup, repeats, rounds, clock and statistic.
        chunk: Networks prepared and timed interleaved together.
        progress: Called with (distinct networks measured, distinct networks); ``None`` for none.
    """
    distinct = list(dict.fromkeys(archs))
    result: dict[ArchSpec, float] = {}
    for start in range(0, len(distinct), chunk):
        part = distinct[start:start + chunk]
        runners = [make_runner(create_subnet(a, space), arch_input_shape(a, space, m), m) for a in part]
        for a, t in zip(part, time_interleaved(runners, m.warmup, m.repeats, m.rounds, m.min_seconds, m.clock)):
            result[a] = t.value(m.statistic)
        del runners
        if progress:
            progress("measuring", len(result), len(distinct))
    return np.array([result[a] for a in archs], dtype=float)


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
    if op.kind != "expanded_conv":
        raise ValueError(f"unknown operator kind {op.kind!r}")
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
