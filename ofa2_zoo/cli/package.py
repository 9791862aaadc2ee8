"""``ofa2 package``: package a searched front as timm model folders with cards and exports."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._ui import QUIET, Col, console, print_table, progress
from .zoo import RECORD, record_in_local_zoo


def package(
    front_dir: Path = typer.Argument(..., help="Folder with the front.json written by `ofa2 search` (or the file)."),
    out: Path = typer.Option(..., "--out", "-o", help="Package folder to write (replaced atomically if it is an "
                                                       "ofa2 package already)."),
    weights: Optional[str] = typer.Option(None, help="Supernet weights the search used: 'embedded', 'official' "
                                                     "or a file (default: the embedded supernet of the space)."),
    data: Optional[str] = typer.Option(None, help="Dataset name or image folder for BN re-calibration (train split), "
                                                  "ONNX parity and measured accuracy (val split); default: the "
                                                  "embedded dataset of the space (digits)."),
    members: Optional[int] = typer.Option(None, min=1, help="Members to package, spread along the front "
                                                            "(default: the profile's package.members)."),
    calib_images: int = typer.Option(2000, min=1, help="Training images for BN re-calibration."),
    calib_batch: int = typer.Option(200, min=1, help="Batch size of BN re-calibration."),
    parity_images: int = typer.Option(1000, min=1, help="Validation images for the ONNX parity check."),
    eval_images: Optional[int] = typer.Option(None, min=1, help="Validation images for the measured top-1 "
                                                                "(default: the whole split)."),
    measure_latency: bool = typer.Option(False, help="Measure each member with the profile's measurement settings "
                                                     "and put the numbers in its card."),
    tensorrt: str = typer.Option("auto", help="TensorRT engines: 'auto' (what the profile exports), 'off', "
                                              "'fp16', 'int8' or 'fp16,int8'. Skipped with the reason in the card "
                                              "where TensorRT or a GPU is missing."),
    runtimes: Optional[str] = typer.Option(None, help="Deployment runtimes to export each member for, e.g. "
                                                      "'onnxruntime,litert,executorch,openvino' (default: the "
                                                      "profile's `runtimes`); each export is checked against PyTorch "
                                                      "and left out, with the reason, if it fails. model.onnx is "
                                                      "always written. See docs/runtimes.md."),
    runtime_latency: bool = typer.Option(True, help="Time each runtime's export at batch 1 (a few seconds per "
                                                    "member) and put the numbers in the card and package.json."),
    int8: bool = typer.Option(False, "--int8", help="Also quantise each member to int8 for every selected runtime "
                                                    "that has it (onnxruntime: model.int8.onnx; litert: model.int8.tflite; executorch: "
                                                    "model.int8.pte; openvino: openvino_model.int8.xml), "
                                                    "calibrated on training images; kept where its "
                                                    "top-1 is at most 1 point below fp32's. See docs/runtimes.md."),
    int8_calib_images: int = typer.Option(2000, min=1, help="Training images that calibrate the int8 files (their "
                                                                  "activation ranges: min/max)."),
    license: str = typer.Option("mit", help="License written into the cards and pretrained_cfg: an SPDX id "
                                            "(mit, apache-2.0, cc-by-4.0, ...) or other."),
    seed: int = typer.Option(0, help="Seed of the calibration subset."),
    profile: Optional[str] = typer.Option(None, help="Profile name or YAML (default: the front's profile)."),
    assets: Optional[Path] = typer.Option(None, help="Folder with the official OFA files (official weights/tables)."),
    threads: int = typer.Option(1, min=1, help="torch/BLAS threads while packaging. One by default: these "
                                               "networks are small, and more threads slow packaging down "
                                               "many-fold when another process is busy."),
    record: bool = RECORD,
    quiet: bool = QUIET,
) -> None:
    """Extract, re-calibrate and export each selected member of a front into a package folder."""
    from .._io import check_out_dir

    check_out_dir(out, "--out")
    _check_front(front_dir, profile, assets)
    from ..package import package_front

    trt = tensorrt if tensorrt in ("auto", "off") else [p.strip() for p in tensorrt.split(",") if p.strip()]
    with progress(quiet) as bar:
        task = bar.add_task("loading the front and the supernet", total=None)

        def step(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        result = package_front(front_dir, out, weights=weights, data=data, members=members, assets=assets,
                               profile=profile, progress=step, calib_images=calib_images,
                               calib_batch=calib_batch, parity_images=parity_images, eval_images=eval_images,
                               measure_latency=measure_latency, tensorrt=trt, license=license, seed=seed,
                               threads=threads, runtimes=runtimes, runtime_latency=runtime_latency, int8=int8,
                               int8_calib_images=int8_calib_images)
    m = result.manifest
    rows = []
    for row, timing in zip(m.members, result.timings):
        trt_cell = row.tensorrt.engine if row.tensorrt and row.tensorrt.built else "-"
        r = row.arch["r"][0]
        rows.append([row.name, f"{r}x{r}", f"{row.measured['top1']:.2f}",
                     _parity_cell(row.parity), _runtimes_cell(row),
                     trt_cell,
                     f"{timing.total:.1f}"])
    print_table([Col("timm name", "key"), Col("input", "num"), Col("top-1 % (measured)", "num"),
                 Col("ONNX parity"), Col("runtimes (batch-1 ms)"), Col("TensorRT"), Col("time s", "num")], rows,
                title=f"package of {m.profile} (front {m.front_version_id[:12]})")
    console.print(f"package: {result.path}")
    console.print(f"explore: {result.path / m.front_folder / 'index.html'} (open it in a browser)")
    for row in m.members:
        for rec in row.runtimes.values():
            if not rec.packaged:
                console.print(f"member {row.k}: not packaged for {rec.runtime}: {rec.reason}")
            if rec.int8 is not None:
                console.print(f"member {row.k}: {rec.runtime} int8: " +
                              (f"top-1 {rec.int8.top1:.2f} % (fp32 {rec.int8.top1_fp32:.2f} %)" if rec.int8.packaged
                               else f"not packaged: {rec.int8.reason}"))
    record_in_local_zoo(result.path, record)


def _check_front(front_dir: Path, profile: Optional[str], assets: Optional[Path]) -> None:
    """Load the front (a missing or bad one fails here, before torch is imported) and run the
    machine check of the profile packaged: the front's, unless --profile names one."""
    from ..front import Front
    from .profile import check_this_machine

    front = Front.load(front_dir)
    check_this_machine(profile or front.profile_id, assets)


def _parity_cell(parity) -> str:
    """``6e-06, 100 %``: the largest logit difference of the ONNX file against PyTorch, and the
    share of images whose top-1 class agrees (a fraction in the manifest, a percentage here)."""
    return f"{parity.max_abs_diff:.0e}, {100 * parity.top1_agreement:.0f} %"


def _runtimes_cell(row) -> str:
    """``litert 0.012, openvino 0.030`` (latency where measured, 'failed' where not packaged; int8
files as ``onnxruntime int8 0.020``)."""
    cells = []
    for name, rec in row.runtimes.items():
        cells.append(f"{name} {rec.latency.median_ms:.3f}" if rec.latency else
                     name if rec.packaged else f"{name} failed")
        if rec.int8 is not None:
            q = rec.int8
            cells.append(f"{name} int8 {q.latency.median_ms:.3f}" if q.latency else
                         f"{name} int8" if q.packaged else f"{name} int8 failed")
    return ", ".join(cells) or "-"


def register(app: typer.Typer) -> None:
    app.command("package")(package)
