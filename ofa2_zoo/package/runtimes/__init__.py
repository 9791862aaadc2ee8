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
| openvino | ``openvino_model.xml``, ``.bin`` | ov.convert_model(model.onnx), fp32 (int8: NNCF) / OpenVINO CPU | ``openvino`` |

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

from ...errors import PackageError, RuntimeUnavailable, clip, shorten

Predict = Callable[[np.ndarray], np.ndarray]


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
    int8_files: tuple[str, ...] = ()  # what export_int8 writes (empty: no --int8 for this runtime yet)

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
    Runtime("onnxruntime", "onnxruntime", "ort", ("model.onnx",), None, ("onnxruntime",), "any CPU or GPU (default)",
            ("model.int8.onnx",)),
    Runtime("litert", "LiteRT", "litert", ("model.tflite",), "litert", ("litert_torch", "ai_edge_litert"),
            "Android/iOS phones, embedded Linux (Arm); also the fastest here on x86", ("model.int8.tflite",)),
    Runtime("executorch", "ExecuTorch", "executorch", ("model.pte",), "executorch", ("executorch",),
            "PyTorch's on-device runtime for phones and microcontrollers", ("model.int8.pte",)),
    Runtime("openvino", "OpenVINO", "openvino", ("openvino_model.xml", "openvino_model.bin"), "openvino",
            ("openvino", "nncf"), "Intel CPUs, iGPUs and NPUs", ("openvino_model.int8.xml", "openvino_model.int8.bin")),
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
    int8: Int8Export | None = None  # with --int8, for runtimes that have it

    @property
    def packaged(self) -> bool:
        return self.reason is None

    def to_dict(self) -> dict[str, Any]:
        r = RUNTIMES[self.runtime]
        out = {"runtime": self.runtime, "file": r.file if self.packaged else None,
               "files": list(self.files) if self.packaged else [], "bytes": self.bytes if self.packaged else 0,
               "parity": self.parity.to_dict() if self.parity is not None else None, "latency": self.latency,
               "versions": dict(self.versions), "packaged": self.packaged, "reason": self.reason}
        if self.int8 is not None:  # absent without --int8 (packages made before it keep their bytes)
            out["int8"] = self.int8.to_dict()
        return out


@dataclass
class Int8Export:
    """A runtime's int8 file of one member: its top-1 against the runtime's fp32 file on the same
    evaluation images, the gate it passed or failed, and (when measured) its latency."""

    runtime: str
    files: list[str]
    bytes: int
    correct: int | None  # evaluation images the int8 file classifies right (None: quantisation failed)
    correct_fp32: int | None  # the same runtime's fp32 file on the same images
    n_images: int
    split: str
    max_drop: float  # the gate: top1 >= top1_fp32 - max_drop (points)
    calibration: dict[str, Any]
    reason: str | None = None
    latency: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def packaged(self) -> bool:
        return self.reason is None

    def to_dict(self) -> dict[str, Any]:
        r = RUNTIMES[self.runtime]
        return {"file": r.int8_files[0] if self.packaged else None, "files": list(self.files) if self.packaged else [],
                "bytes": self.bytes if self.packaged else 0, "top1": _percent(self.correct, self.n_images),
                "top1_fp32": _percent(self.correct_fp32, self.n_images), "correct": self.correct,
                "correct_fp32": self.correct_fp32, "n_images": self.n_images, "split": self.split,
                "max_drop": self.max_drop, "calibration": dict(self.calibration), "latency": self.latency, "packaged": self.packaged,
                "reason": self.reason}


def _percent(correct: int | None, n: int) -> float | None:
    return None if correct is None or n == 0 else round(100.0 * correct / n, 4)


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


# ---------------------------------------------------------------------------- int8
#: ``--int8``'s gate: an int8 file is packaged when its top-1 is at most this many points below
#: its runtime's fp32 file on the same evaluation images (issue 25's acceptance).
INT8_MAX_DROP = 1.0


def int8_runtimes() -> list[str]:
    """The runtimes ofa2-zoo can make an int8 file for."""
    return [n for n, r in RUNTIMES.items() if r.int8_files]


def _no_int8(name: str) -> PackageError:
    return PackageError(f"int8 is not available for runtime {name} in ofa2-zoo yet; runtimes with int8: "
                        f"{', '.join(int8_runtimes())}")


def resolve_int8(option: bool | str | Iterable[str] | None, runtimes: list[str]) -> list[str]:
    """Which of the selected ``runtimes`` get an int8 file: ``True`` every one that has int8 in
    ofa2-zoo, ``False``/``None`` none, or names (a list or ``"a,b"``), each selected and with int8."""
    if option is None or option is False:
        return []
    if option is True:
        return [n for n in runtimes if RUNTIMES[n].int8_files]
    names = [n.strip() for n in option.split(",")] if isinstance(option, str) else list(option)
    out = []
    for n in (n for n in names if n):
        runtime(n)
        if not RUNTIMES[n].int8_files:
            raise _no_int8(n)
        if n not in runtimes:
            raise PackageError(f"int8 for runtime {n} needs that runtime selected (runtimes: {', '.join(runtimes)})")
        out.append(n)
    return [n for n in runtimes if n in out]


def int8_gate(correct_fp32: int, correct_int8: int, n_images: int, max_drop: float = INT8_MAX_DROP) -> bool:
    """True when int8's top-1 is at most ``max_drop`` points below fp32's on the same ``n_images``
    (counted in images, so exactly ``max_drop`` points passes whatever floating point does)."""
    return 100 * (correct_fp32 - correct_int8) <= max_drop * n_images


def _correct(predict: Predict, images: np.ndarray, labels: np.ndarray) -> int:
    return int((_logits(predict, images, 256).argmax(1) == labels).sum())


def check_int8(name: str, model, folder: Path, fp32: Predict, calibration: list[np.ndarray], images: np.ndarray,
               labels: np.ndarray, *, split: str, max_drop: float = INT8_MAX_DROP, threads: int = 1,
               calibration_info: dict[str, Any] | None = None) -> Int8Export:
    """Quantise ``model`` (PyTorch; onnxruntime starts from the checked ``model.onnx`` in
    ``folder`` instead) to runtime ``name``'s int8 file, calibrated on the batches
    ``calibration``, and gate it on top-1: ``images``/``labels`` classified by the int8 file and by
    ``fp32`` (the runtime's fp32 predictor). A failed quantisation or gate removes the int8 file and
    says why in ``reason``.

    Args:
        name: The runtime (one with an int8 file: ``onnxruntime``, ``litert``).
        model: The member's PyTorch model (for runtimes that quantise from it).
        folder: The member's folder, holding the runtime's checked fp32 file; the int8 file goes here.
        fp32: The runtime's fp32 predictor the int8 file is gated against.
        calibration: Batches of training images the quantiser calibrates on.
        images: Evaluation images, both files classify them.
        labels: Their labels.
        split: The split the evaluation images come from (recorded).
        max_drop: The most top-1 points the int8 file may lose against fp32.
        threads: Threads of the runtime while calibrating and evaluating.
        calibration_info: What the calibration images are (recorded with the batch and image counts).
    """
    rt = runtime(name)
    if not rt.int8_files:
        raise _no_int8(name)
    mod = rt.require()
    info = {**getattr(mod, "INT8_SETTINGS", {}), **(calibration_info or {}),
            "batches": len(calibration), "images": int(sum(len(b) for b in calibration))}
    result = Int8Export(name, [], 0, None, None, len(images), split, max_drop, info)
    try:
        files = mod.export_int8(model, folder, calibration)
        predict = mod.load_int8(folder, threads)
        result.correct = _correct(predict, images, labels)
    except Exception as exc:  # the quantiser's or the runtime's own failure: reported, not packaged
        _remove(folder, rt.int8_files)
        result.reason = f"{rt.label} int8 quantisation failed: {clip(f'{type(exc).__name__}: {exc}', 200)}"
        return result
    result.correct_fp32 = _correct(fp32, images, labels)
    if not int8_gate(result.correct_fp32, result.correct, len(images), max_drop):
        _remove(folder, files)
        result.reason = (f"{rt.label} int8 top-1 {_percent(result.correct, len(images)):.2f} % is more than "
                         f"{max_drop:g} point(s) below fp32's {_percent(result.correct_fp32, len(images)):.2f} % "
                         f"on {len(images)} {split} images")
        return result
    result.files, result.bytes = files, sum((folder / f).stat().st_size for f in files)
    result.extra["predict"] = predict
    return result


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
            "int8": False, "slower": False,
        })
        if rec.get("int8"):
            rows.append(_int8_row(rows[-1], rec["int8"], lat))
    return rows


def _int8_row(fp32_row: dict[str, Any], q: dict[str, Any], fp32_lat: dict[str, Any] | None) -> dict[str, Any]:
    """The card's row of a runtime's int8 file: top-1 against its fp32 file, latency against fp32's
    (saying "slower" where it is: never a speed-up that was not measured)."""
    lat, latency = q.get("latency"), "not measured"
    if lat:
        latency = f"{lat['median_ms']:.3f} ms (IQR {lat['iqr_ms']:.3f})"
        if fp32_lat:
            ratio = lat["median_ms"] / fp32_lat["median_ms"]
            latency += f", {ratio:.2f}× fp32's: " + ("slower than fp32 here" if ratio > 1 else "faster than fp32 here")
    accuracy = "–"
    if q.get("top1") is not None and q.get("top1_fp32") is not None:
        accuracy = (f"top-1 {q['top1']:.2f} % vs fp32 {q['top1_fp32']:.2f} % on {q['n_images']} {q['split']} "
                    f"images (gate: at most {q['max_drop']:g} point below)")
    return {**fp32_row, "label": f"{fp32_row['label']} int8", "file": q.get("file"), "files": q.get("files") or [],
            "packaged": q["packaged"], "reason": q.get("reason"), "int8": True,
            "size": _size(q["bytes"]) if q["packaged"] else "–", "parity": accuracy, "latency": latency,
            "slower": bool(lat and fp32_lat and lat["median_ms"] > fp32_lat["median_ms"])}


__all__ = ["RUNTIMES", "DEFAULT_RUNTIMES", "Runtime", "RuntimeUnavailable", "RuntimeExport", "Int8Export", "runtime",
           "INT8_MAX_DROP", "int8_runtimes", "resolve_int8", "int8_gate", "check_int8",
           "resolve_runtimes", "require_all", "check_runtime", "measure_latencies", "torch_logits", "versions",
           "package_versions", "runtime_rows"]
