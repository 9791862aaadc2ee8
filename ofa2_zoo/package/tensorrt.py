"""Optional TensorRT engines for packaged members, built through the ``tensorrt`` Python API.

TensorRT needs an NVIDIA GPU and the ``tensorrt`` package (``pip install 'ofa2-zoo[tensorrt]'``).
Where either is missing nothing is faked: :func:`unavailable_reason` says why, the member's
card says the engine was not built, and :func:`build_command` gives the exact command that
builds the same engine later on a machine that has them.

Engines have one optimisation profile over the dynamic batch axis (min 1, opt = the profile's
measurement batch, max ``max_batch``). fp16 needs no data; int8 runs TensorRT's entropy
calibrator over real images (the same data that re-calibrated BatchNorm).

On a machine with TensorRT:  ``python -m ofa2_zoo.package.tensorrt MEMBER_DIR --precision fp16``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Literal, Optional, Sequence, get_args

import torch
import typer

from .._io import dumps_stable
from ..profiles.measure import tensorrt_unavailable_reason as unavailable_reason  # why not here, or None
from .errors import PackageError
from .onnx_export import INPUT_NAME

Precision = Literal["fp16", "int8"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
WORKSPACE_BYTES = 1 << 30


def engine_name(precision: str) -> str:
    return f"model.{precision}.engine"


def _shape(batch: int, input_shape: Sequence[int]) -> str:
    return "x".join(str(v) for v in (batch, *input_shape))


def build_command(input_shape: Sequence[int], precision: str = "fp16", opt_batch: int = 1, max_batch: int = 32,
                  data: str | None = None, onnx_file: str = "model.onnx") -> str:
    """The command that builds the same engine later, run inside the member folder.

    fp16: ``trtexec`` (shipped with every TensorRT install); ``input_shape`` is ``(C, H, W)``.
    int8: trtexec without calibration data would use placeholder ranges, so the command is our
    own builder, which calibrates on real images of ``data``.

    Args:
        input_shape: The input's ``(C, H, W)``.
        precision: ``fp16`` or ``int8``.
        opt_batch: The batch size the engine is tuned for.
        max_batch: The largest batch size the engine accepts.
        data: The dataset int8 calibration reads (``int8`` only).
        onnx_file: The ONNX file, relative to the member folder.
    """
    if precision == "int8":
        return (f"python -m ofa2_zoo.package.tensorrt . --precision int8 --data {data or 'DATASET_OR_FOLDER'} "
                f"--opt-batch {opt_batch} --max-batch {max_batch}")
    shapes = {kind: f"{INPUT_NAME}:{_shape(b, input_shape)}"
              for kind, b in (("min", 1), ("opt", opt_batch), ("max", max_batch))}
    return (f"trtexec --onnx={onnx_file} --saveEngine={engine_name(precision)} --{precision} "
            f"--minShapes={shapes['min']} --optShapes={shapes['opt']} --maxShapes={shapes['max']} "
            f"--memPoolSize=workspace:{WORKSPACE_BYTES >> 20}M")


@dataclass(frozen=True)
class EngineBuild:
    """What was built, and how: written next to the engine as ``<engine>.json``."""

    engine: str
    precision: str
    input_shape: tuple[int, ...]
    min_batch: int
    opt_batch: int
    max_batch: int
    workspace_bytes: int
    tensorrt_version: str
    gpu: str
    calibration_images: int
    latency_ms: float | None
    latency_batch: int

    def to_dict(self) -> dict:
        return asdict(self)


class _EntropyCalibrator:
    """Feeds calibration batches to TensorRT from GPU memory (built lazily: needs tensorrt)."""

    def __new__(cls, batches: Iterable[torch.Tensor], batch_size: int):
        import tensorrt as trt

        class Calibrator(trt.IInt8EntropyCalibrator2):
            def __init__(self) -> None:
                super().__init__()
                self._it = iter(batches)
                self._current: torch.Tensor | None = None
                self.seen = 0

            def get_batch_size(self) -> int:
                return batch_size

            def get_batch(self, names):  # noqa: ANN001 (TensorRT's signature)
                try:
                    x = next(self._it)
                except StopIteration:
                    return None
                x = x[0] if isinstance(x, (list, tuple)) else x
                if x.shape[0] != batch_size:  # TensorRT needs full batches
                    return None
                self._current = x.float().contiguous().cuda()
                self.seen += x.shape[0]
                return [int(self._current.data_ptr())]

            def read_calibration_cache(self):
                return None

            def write_calibration_cache(self, cache) -> None:  # noqa: ANN001
                return None

        return Calibrator()


def build_engine(onnx_bytes: bytes, input_shape: Sequence[int], precision: str = "fp16", *, opt_batch: int = 1,
                 max_batch: int = 32, calibration: Iterable[torch.Tensor] | None = None,
                 calibration_batch: int = 32) -> tuple[bytes, int]:
    """Serialized engine for the ONNX graph, and the number of calibration images used.

    Args:
        onnx_bytes: The ONNX graph.
        input_shape: The input's ``(C, H, W)``.
        precision: ``fp16`` or ``int8``.
        opt_batch: The batch size the engine is tuned for.
        max_batch: The largest batch size the engine accepts.
        calibration: Image batches for int8 calibration (required for ``int8``).
        calibration_batch: Images per calibration batch.
    """
    reason = unavailable_reason()
    if reason:
        raise PackageError(f"cannot build a TensorRT engine: {reason}")
    if precision not in PRECISIONS:
        raise PackageError(f"unknown TensorRT precision {precision!r}; choose from {PRECISIONS}")
    if precision == "int8" and calibration is None:
        raise PackageError("an int8 engine needs calibration images (pass the dataset used for BN re-calibration)")
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    # Explicit batch is the only mode from TensorRT 10 on; 8.x needs the flag.
    explicit = 0 if int(trt.__version__.split(".")[0]) >= 10 else \
        1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(explicit)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise PackageError(f"TensorRT cannot parse the ONNX graph: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    profile = builder.create_optimization_profile()
    chw = tuple(int(v) for v in input_shape)
    profile.set_shape(INPUT_NAME, (1, *chw), (opt_batch, *chw), (max_batch, *chw))
    config.add_optimization_profile(profile)
    config.set_flag(trt.BuilderFlag.FP16)  # int8 engines keep fp16 for layers without int8 kernels
    calibrator = None
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        calibrator = _EntropyCalibrator(calibration, calibration_batch)
        config.int8_calibrator = calibrator
        config.set_calibration_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise PackageError(f"TensorRT failed to build a {precision} engine (see its log above)")
    return bytes(serialized), (calibrator.seen if calibrator is not None else 0)


def engine_latency(engine_bytes: bytes, shape: Sequence[int], warmup: int = 20, repeats: int = 100):
    """Median latency (ms) of one inference on the engine, GPU-synchronised, as a profiles ``Timing``."""
    import numpy as np
    import tensorrt as trt

    from ..profiles.measure import time_calls

    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(engine_bytes)
    context = engine.create_execution_context()
    context.set_input_shape(INPUT_NAME, tuple(shape))
    buffers = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        dims = tuple(context.get_tensor_shape(name))
        dtype = torch.from_numpy(np.empty(0, dtype=trt.nptype(engine.get_tensor_dtype(name)))).dtype
        buffers[name] = torch.zeros(dims, dtype=dtype, device="cuda")
        context.set_tensor_address(name, int(buffers[name].data_ptr()))
    stream = torch.cuda.Stream()

    def run() -> None:
        context.execute_async_v3(stream.cuda_stream)
        stream.synchronize()

    return time_calls(run, warmup, repeats)


def build_member_engine(member_dir: str | os.PathLike, precision: str = "fp16", *, opt_batch: int = 1,
                        max_batch: int = 32, calibration: Iterable[torch.Tensor] | None = None,
                        calibration_batch: int = 32) -> EngineBuild:
    """Build ``model.<precision>.engine`` (+ ``.json`` settings) from a member folder's ``model.onnx``.

    Args:
        member_dir: The member folder (``config.json`` and ``model.onnx``).
        precision: ``fp16`` or ``int8``.
        opt_batch: The batch size the engine is tuned for.
        max_batch: The largest batch size the engine accepts.
        calibration: Image batches for int8 calibration (required for ``int8``).
        calibration_batch: Images per calibration batch.
    """
    folder = Path(member_dir)
    config = json.loads((folder / "config.json").read_text())
    input_shape = tuple(config["pretrained_cfg"]["input_size"])
    engine, n_calib = build_engine((folder / "model.onnx").read_bytes(), input_shape, precision,
                                   opt_batch=opt_batch, max_batch=max_batch, calibration=calibration,
                                   calibration_batch=calibration_batch)
    timing = engine_latency(engine, (opt_batch, *input_shape))
    import tensorrt as trt

    build = EngineBuild(engine_name(precision), precision, input_shape, 1, opt_batch, max_batch, WORKSPACE_BYTES,
                        trt.__version__, torch.cuda.get_device_name(), n_calib, round(timing.median_ms, 4), opt_batch)
    (folder / build.engine).write_bytes(engine)
    (folder / f"{build.engine}.json").write_text(dumps_stable(build.to_dict()))
    return build


def _build_command(
    member_dir: str = typer.Argument(..., help="a members/front_<k> folder of an ofa2 package"),
    precision: Precision = typer.Option("fp16"),
    opt_batch: int = typer.Option(1),
    max_batch: int = typer.Option(32),
    data: Optional[str] = typer.Option(None, help="int8: dataset name or image folder for calibration (training "
                                                  "split)"),
    calib_images: int = typer.Option(512),
) -> None:
    """Build a TensorRT engine for a packaged member folder."""
    calibration = None
    if precision == "int8":
        if not data:
            raise PackageError("--precision int8 needs --data")
        from .data import calibration_batches

        config = json.loads((Path(member_dir) / "config.json").read_text())
        res = config["pretrained_cfg"]["input_size"][-1]
        calibration = calibration_batches(data, res, calib_images, batch_size=32)
    build = build_member_engine(member_dir, precision, opt_batch=opt_batch, max_batch=max_batch,
                                calibration=calibration)
    print(json.dumps(build.to_dict(), indent=2))


def main(argv: list[str] | None = None) -> int:
    """``python -m ofa2_zoo.package.tensorrt MEMBER_DIR [--precision fp16|int8] ...``; returns the
    exit code (2 and one ``error:`` line for bad input)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(_build_command)
    try:
        app(args=argv, prog_name="python -m ofa2_zoo.package.tensorrt")
    except PackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # typer ends every run with one (2 for a usage error)
        return exc.code if isinstance(exc.code, int) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
