"""``ofa2 export``: one zoo member for one deployment runtime, checked against PyTorch and timed."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._ui import QUIET, console, progress


def export(
    name: str = typer.Argument(..., help="An ofa2_* model name, optionally with a version tag (ofa2_front_2.v3); "
                                         "`ofa2 zoo list` shows them. Embedded names work offline."),
    runtime: str = typer.Option("litert", "--runtime", "-r", help="onnxruntime, litert, executorch or openvino "
                                                                  "(see docs/runtimes.md)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder to write (default: ./<name>-<runtime>)."),
    data: Optional[str] = typer.Option(None, help="Dataset name or image folder for the parity check (default: "
                                                  "the images the member was packaged with)."),
    images: int = typer.Option(1000, min=1, help="Validation images for the parity check."),
    latency: bool = typer.Option(True, help="Time the export at batch 1 with the runtime."),
    quiet: bool = QUIET,
) -> None:
    """Export a zoo member for a runtime; nothing is written unless it matches PyTorch on real images."""
    from ..export import export_model

    with progress(quiet) as bar:
        bar.add_task(f"exporting {name} for {runtime}", total=None)
        result = export_model(name, runtime, out, data=data, images=images, latency=latency)
    rec, parity = result.record, result.record["parity"]
    lat = f", {rec['latency']['median_ms']:.3f} ms at batch 1" if rec.get("latency") else ""
    console.print(f"{result.file} ({rec['bytes']:,} bytes): max |logit diff| {parity['max_abs_diff']:.1e}, top-1 "
                  f"agreement {100 * parity['top1_agreement']:.2f} % on {parity['n_images']} images{lat}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
