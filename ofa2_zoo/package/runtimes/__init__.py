"""Deployment runtimes: export a member for each one, check it against PyTorch, time it.

A hardware profile names the runtimes its members are deployed with (``runtimes:`` in the
profile, default ``[onnxruntime]``; ``ofa2 package --runtimes`` overrides it). Each runtime has
its own module here with the same three functions:

- ``export(model, input_shape, folder, onnx_path)`` writes the runtime's file(s) into ``folder``
  and returns their names;
- ``load(folder, threads)`` returns a callable ``(N, C, H, W) float32 array -> (N, classes)
  logits`` built with the runtime's own Python API;
- ``versions()`` says which converter and runtime versions did it.

| runtime | file(s) | converted with / run by | extra |
|---|---|---|---|
| onnxruntime | ``model.onnx`` | torch.onnx (opset 17) / onnxruntime | (always) |
| litert | ``model.tflite`` | litert-torch / ai-edge-litert (XNNPACK) | ``litert`` |
| executorch | ``model.pte`` | torch.export + XNNPACK partitioner / executorch | ``executorch`` |
| openvino | ``openvino_model.xml``, ``.bin`` | ov.convert_model(model.onnx), fp32 / OpenVINO CPU | ``openvino`` |

``model.onnx`` is always written (publishing, TensorRT and OpenVINO start from it), so
``onnxruntime`` is always among a member's runtimes. :func:`check_runtime` gates an export on
real images with the same parity rule as the ONNX file
(:func:`~ofa2_zoo.package.onnx_export.compare_logits`) and :func:`measure_latencies` times batch-1
inference in each runtime.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from ...errors import clip, shorten
from ..errors import PackageError

Predict = Callable[[np.ndarray], np.ndarray]


class RuntimeUnavailable(PackageError):
    """A runtime's optional packages are not installed."""


@dataclass(frozen=True)
class Runtime:
    """One deployment runtime: its module here, the files it writes, the extra that installs it."""

    name: str
    label: str  # shown to people
    module: str  # module of this package with export/load/versions
    files: tuple[str, ...]  # what export writes, the first being the file a user loads
    extra: str | None  # pip extra of ofa2-zoo (None: a core dependency)
    requires: tuple[str, ...]  # importable modules the extra provides
    devices: str  # where it is the runtime to use (docs, cards)

    @property
    def file(self) -> str:
        return self.files[0]

    def missing(self) -> list[str]:
        """The required modules that cannot be imported here."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def require(self) -> Any:
        """The runtime's module here, or :class:`RuntimeUnavailable` naming the extra to install."""
        missing = self.missing()
        if missing:
            raise RuntimeUnavailable(f"runtime {self.name} is not installed (no module {', '.join(missing)}): "
                                     f"pip install 'ofa2-zoo[{self.extra}]'")
        return importlib.import_module(f"{__name__}.{self.module}")


RUNTIMES: dict[str, Runtime] = {r.name: r for r in (
    Runtime("onnxruntime", "onnxruntime", "ort", ("model.onnx",), None, ("onnxruntime",), "any CPU or GPU (default)"),
    Runtime("litert", "LiteRT", "litert", ("model.tflite",), "litert", ("litert_torch", "ai_edge_litert"),
            "Android/iOS phones, embedded Linux (Arm); also the fastest here on x86"),
    Runtime("executorch", "ExecuTorch", "executorch", ("model.pte",), "executorch", ("executorch",),
            "PyTorch's on-device runtime for phones and microcontrollers"),
    Runtime("openvino", "OpenVINO", "openvino", ("openvino_model.xml", "openvino_model.bin"), "openvino",
            ("openvino",), "Intel CPUs, iGPUs and NPUs"),
)}
DEFAULT_RUNTIMES = ("onnxruntime",)


def runtime(name: str) -> Runtime:
    """The :class:`Runtime` called ``name`` (one-line error naming the known ones)."""
    if name not in RUNTIMES:
        raise PackageError(f"unknown runtime {shorten(name, 40)}; choose from {', '.join(RUNTIMES)}")
    return RUNTIMES[name]


def resolve_runtimes(names: str | Iterable[str]) -> list[str]:
    """Validated runtime names in a fixed order, onnxruntime first (always: ``model.onnx`` is always
    written); ``names`` is a list or a comma-separated string."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",")]
    names = [n for n in names if n]
    for n in names:
        runtime(n)
    return [n for n in RUNTIMES if n in names or n == "onnxruntime"]


def require_all(names: Iterable[str]) -> None:
    """Fail before any work when a runtime's extra is missing (one line naming every missing extra)."""
    missing = [RUNTIMES[n] for n in names if RUNTIMES[n].missing()]
    if missing:
        raise RuntimeUnavailable(
            "; ".join(f"runtime {r.name} is not installed" for r in missing) +
            f": pip install 'ofa2-zoo[{','.join(r.extra for r in missing if r.extra)}]'")


def versions(name: str) -> dict[str, str]:
    return runtime(name).require().versions()


# ---------------------------------------------------------------------------- checking
@dataclass
class RuntimeExport:
    """One runtime's export of one member: files, parity and (when measured) latency."""

    runtime: str
    files: list[str]
    bytes: int
    parity: Any  # ParityReport
    versions: dict[str, str]
    latency: dict[str, Any] | None = None
    reason: str | None = None  # why it is not packaged (conversion or parity failed)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def packaged(self) -> bool:
        return self.reason is None

    def to_dict(self) -> dict[str, Any]:
        r = RUNTIMES[self.runtime]
        return {"runtime": self.runtime, "file": r.file if self.packaged else None,
                "files": list(self.files) if self.packaged else [], "bytes": self.bytes if self.packaged else 0,
                "parity": self.parity.to_dict() if self.parity is not None else None, "latency": self.latency,
                "versions": dict(self.versions), "packaged": self.packaged, "reason": self.reason}


def _logits(predict: Predict, images: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([predict(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])


def torch_logits(model, images) -> np.ndarray:
    """PyTorch's logits of ``images`` (an (N, C, H, W) tensor) in eval mode, batches of 64."""
    import torch

    model = model.eval()
    with torch.no_grad():
        return np.concatenate([model(x.float().contiguous()).float().numpy() for x in images.split(64)])


def check_runtime(name: str, model, folder: Path, images, *, onnx_path: Path | None = None,
                  reference: np.ndarray | None = None, atol: float, rtol: float, threads: int = 1) -> RuntimeExport:
    """Export ``model`` for runtime ``name`` into ``folder`` and compare the runtime's logits with
    PyTorch's (``reference``, else computed) on ``images``. A failed conversion or parity check
    removes the files and says why in ``reason``; a missing extra raises.

    Args:
        name: The runtime (``onnxruntime``, ``litert``, ...).
        model: The PyTorch member.
        folder: The member folder the runtime's files are written to.
        images: An ``(N, C, H, W)`` tensor of images to compare on.
        onnx_path: The member's exported ONNX file, for runtimes converted from it.
        reference: PyTorch's logits on ``images`` when already computed, else ``None``.
        atol: Absolute tolerance of the logits' comparison.
        rtol: Relative tolerance of the logits' comparison.
        threads: The runtime's threads.
    """
    from ..onnx_export import compare_logits

    rt = runtime(name)
    mod = rt.require()
    x = images.float().contiguous()
    ref = reference if reference is not None else torch_logits(model, x)
    shape = (1, *x.shape[1:])
    try:
        files = mod.export(model, shape, folder, onnx_path)
        predict = mod.load(folder, threads)
        out = _logits(predict, x.numpy(), 64)
    except Exception as exc:  # a converter's or runtime's own failure: reported, not packaged
        _remove(folder, rt.files)
        return RuntimeExport(name, [], 0, None, mod.versions(),
                             reason=f"{rt.label} conversion failed: {clip(f'{type(exc).__name__}: {exc}', 200)}")
    report = compare_logits(ref, out, atol=atol, rtol=rtol)
    size = sum((folder / f).stat().st_size for f in files)
    export = RuntimeExport(name, files, size, report, mod.versions())
    export.extra["predict"] = predict
    if not report.passed:
        _remove(folder, files)
        export.reason = f"{rt.label} parity check failed: {report.describe()}"
    return export


def _remove(folder: Path, files: Iterable[str]) -> None:
    for f in files:
        (folder / f).unlink(missing_ok=True)


# ---------------------------------------------------------------------------- latency
#: The short, robust batch-1 timing of each runtime (median over interleaved rounds, wall clock).
LATENCY_WARMUP, LATENCY_REPEATS, LATENCY_ROUNDS = 10, 100, 5


def measure_latencies(predictors: dict[str, Predict], image: np.ndarray, *, threads: int = 1,
                      warmup: int = LATENCY_WARMUP, repeats: int = LATENCY_REPEATS,
                      rounds: int = LATENCY_ROUNDS) -> dict[str, dict[str, Any]]:
    """Batch-1 latency of each runtime's predictor on ``image`` (1, C, H, W), timed interleaved in
    ``rounds`` passes (a burst of another process's load spreads over all runtimes).

    Args:
        predictors: Runtime name -> its predictor (a callable on a numpy batch).
        image: One image batch ``(1, C, H, W)`` (only its first image is used).
        threads: The threads the predictors were loaded with (recorded with the timings).
        warmup: Untimed calls first.
        repeats: Timed calls per runtime.
        rounds: Interleaved passes the timed calls are spread over.
    """
    from ...profiles.machine import machine_info
    from ...profiles.measure import time_interleaved

    names = list(predictors)
    x = np.ascontiguousarray(image[:1], dtype=np.float32)
    timings = time_interleaved([lambda p=predictors[n]: p(x) for n in names], warmup, repeats, rounds,
                               clock="wall")
    cpu = machine_info()["cpu"]
    return {n: {"median_ms": round(t.median_ms, 4), "iqr_ms": round(t.iqr_ms, 4), "repeats": t.n, "rounds": rounds,
                "batch": 1, "threads": threads, "clock": "wall", "machine": cpu}
            for n, t in zip(names, timings)}


def package_versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions (missing ones left out)."""
    from importlib import metadata

    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pass
    return out



# ---------------------------------------------------------------------------- model card
def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def runtime_rows(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The model card's rows, one per runtime, from the records package.json and config.json hold."""
    rows = []
    for name, rec in records.items():
        rt, parity, lat = RUNTIMES[name], rec.get("parity"), rec.get("latency")
        rows.append({
            "name": name, "label": rt.label, "file": rec.get("file"), "files": rec.get("files") or [],
            "packaged": rec["packaged"], "reason": rec.get("reason"), "extra": rt.extra, "devices": rt.devices,
            "size": _size(rec["bytes"]) if rec["packaged"] else "–",
            "parity": (f"max \\|Δ\\| {parity['max_abs_diff']:.1e}, top-1 {100 * parity['top1_agreement']:.2f} % "
                       f"of {parity['n_images']}") if parity else "–",
            "latency": (f"{lat['median_ms']:.3f} ms (IQR {lat['iqr_ms']:.3f})") if lat else "not measured",
            "machine": lat["machine"] if lat else None, "threads": lat["threads"] if lat else None,
            "versions": ", ".join(f"{k} {v}" for k, v in sorted(rec.get("versions", {}).items())),
        })
    return rows


__all__ = ["RUNTIMES", "DEFAULT_RUNTIMES", "Runtime", "RuntimeUnavailable", "RuntimeExport", "runtime",
           "resolve_runtimes", "require_all", "check_runtime", "measure_latencies", "torch_logits", "versions",
           "package_versions", "runtime_rows"]
