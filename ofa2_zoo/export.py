"""Export any zoo member for a deployment runtime, checked: ``ofa2 export NAME --runtime litert``.

:func:`export_model` takes an ``ofa2_*`` name (with an optional ``.<tag>``: a local package, a
Hub version or the embedded copy, which works offline), builds the member with timm, converts it
for one runtime of :mod:`ofa2_zoo.package.runtimes`, compares the runtime's logits with PyTorch's
on real validation images with the packaging stage's parity gate, times it at batch 1, and only
then moves the folder into place: the runtime's file(s) and ``export.json`` (what was checked,
with which versions). A failed check writes nothing.

It sits after the registry in the pipeline (it resolves zoo names), and uses the packaging
stage's exporters and checks.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._io import check_out_dir, dumps_stable
from .package.errors import PackageError, ParityError
from .defaults import PARITY_ATOL as DEFAULT_ATOL
from .defaults import PARITY_RTOL as DEFAULT_RTOL

EXPORT_RECORD = "export.json"
EXPORT_FORMAT = "ofa2-export/1"


@dataclass(frozen=True)
class ExportResult:
    path: Path  # the output folder
    file: Path  # the file a user loads with the runtime
    record: dict[str, Any]  # what export.json holds


def _data_of(entry) -> str:
    """The dataset a member was packaged with: its package's ``package.json`` (local and embedded
    versions), else the dataset of the space's embedded supernet."""
    from .catalog import EMBEDDED
    from .package.manifest import read_manifest

    if entry.source in ("local", "embedded") and Path(entry.where, "package.json").is_file():
        name = read_manifest(entry.where).data.get("name")
        if name:
            return str(name)
    space = entry.space.get("name") if isinstance(entry.space, dict) else entry.space
    if space in EMBEDDED:
        return EMBEDDED[space].dataset
    raise PackageError(f"{entry.name}: cannot tell which images it was trained on; pass data (a dataset name or "
                       "image folder) for the parity check")


def _check_name(name: str) -> None:
    """An unknown name or version fails before timm and torch load (seconds on a busy machine):
    checked against what ``import ofa2_zoo`` registers. Once the registry is loaded, names
    registered later in this process (``register_front``) count too, so the registry decides."""
    import sys

    if "ofa2_zoo.registry" not in sys.modules:
        from .zoo.entries import collect, lookup

        lookup(collect().by_name(), name)


def export_model(name: str, runtime: str = "litert", out: str | os.PathLike | None = None, *,
                 data: str | os.PathLike | None = None, images: int = 1000, atol: float = DEFAULT_ATOL,
                 rtol: float = DEFAULT_RTOL, latency: bool = True, threads: int = 1) -> ExportResult:
    """Export zoo member ``name`` for ``runtime`` into the folder ``out`` (default
    ``./<name>-<runtime>``), checked on ``images`` validation images of ``data`` (default: the
    images it was packaged with). Raises :class:`ParityError` (nothing written) when the export
    does not compute what PyTorch computes, :class:`RuntimeUnavailable` naming the extra to
    install when the runtime is missing.

    Args:
        name: An ``ofa2_*`` model name, optionally with a version tag (``ofa2_front_2.v3``).
        runtime: ``litert``, ``onnxruntime``, ``executorch`` or ``openvino``.
        out: The output folder (default ``./<name>-<runtime>``).
        data: The dataset the parity check reads (default: the one the member was packaged with).
        images: How many validation images the parity check compares.
        atol: Absolute tolerance of the logits' comparison.
        rtol: Relative tolerance of the logits' comparison.
        latency: Whether to time the exported model here.
        threads: Threads of each runtime while checking and timing.
    """
    from .package.runtimes import RUNTIMES, check_runtime, measure_latencies
    from .package.runtimes import runtime as get_runtime

    # The checks that need no torch come first: a typo fails in well under a second.
    rt = get_runtime(runtime)
    if rt.missing():  # finds the runtime's modules without importing them (its module imports torch)
        rt.require()  # the one-line error naming the missing modules and the extra
    if images < 1:
        raise PackageError(f"images must be at least 1, got {images}")
    base = name.partition(".")[0]
    out_dir = check_out_dir(Path(out) if out is not None else Path(f"{base}-{runtime}"), "--out")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / EXPORT_RECORD).is_file():
        raise PackageError(f"{out_dir} is a non-empty folder that is not an ofa2 export; refusing to replace it")
    _check_name(name)
    import timm

    from . import registry
    from ._threads import limited_threads
    from .package.data import first_images, open_split
    from .package.onnx_export import export_onnx_bytes
    from .package.package import _move_into_place

    entry = registry.resolve_name(name)
    data = data if data is not None else _data_of(entry)
    r = int(entry.arch["r"][0])
    with limited_threads(threads):
        model = timm.create_model(name, pretrained=True).eval()
        x = first_images(open_split(data, "val", r), images)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
        try:
            onnx_path = None
            if runtime in ("onnxruntime", "openvino"):  # OpenVINO converts the checked ONNX file
                onnx_path = tmp / "model.onnx"
                onnx_path.write_bytes(export_onnx_bytes(model, (1, *x.shape[1:])))
            result = check_runtime(runtime, model, tmp, x, onnx_path=onnx_path, atol=atol, rtol=rtol,
                                   threads=threads)
            if not result.packaged:
                raise ParityError(f"{name}: {result.reason}; nothing was written to {out_dir}")
            if onnx_path is not None and "model.onnx" not in result.files:
                onnx_path.unlink()
            if latency:
                result.latency = measure_latencies({runtime: result.extra["predict"]}, x[:1].numpy(),
                                                   threads=threads)[runtime]
            record = {"format": EXPORT_FORMAT, "name": base, "tag": entry.tag, "source": entry.source,
                      "arch": dict(entry.arch), "input_size": [int(v) for v in x.shape[1:]], "data": os.fspath(data),
                      "split": "val", **result.to_dict()}
            (tmp / EXPORT_RECORD).write_text(dumps_stable(record))
            _move_into_place(tmp, out_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return ExportResult(out_dir, out_dir / RUNTIMES[runtime].file, record)


def read_export(path: str | os.PathLike) -> dict[str, Any]:
    """``export.json`` of an export folder, checked to be one (one-line :class:`PackageError`)."""
    p = Path(path)
    p = p / EXPORT_RECORD if p.is_dir() else p
    try:
        record = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise PackageError(f"{p} is not a readable export record ({exc})") from None
    if not isinstance(record, dict) or record.get("format") != EXPORT_FORMAT:
        raise PackageError(f"{p} is not an ofa2 export record (format {EXPORT_FORMAT!r})")
    from pydantic import ValidationError

    from ._schema import field_error
    from .package.manifest import RuntimeRecord

    try:
        RuntimeRecord.model_validate(record)
    except ValidationError as exc:
        raise PackageError(f"{p}: {field_error(exc)}") from None
    return record


__all__ = ["export_model", "read_export", "ExportResult", "EXPORT_RECORD", "EXPORT_FORMAT"]
