"""``ofa2 profile``: list, show, build and validate hardware profiles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..profiles import list_profiles, load_profile

console = Console()
app = typer.Typer(help="Hardware profiles: objectives, latency tables and measurement.", no_args_is_help=True)
ASSETS = typer.Option(None, "--assets", help="Folder with the official OFA files (else $OFA2_ASSETS, cache, download).")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=False)


@app.command("list")
def list_cmd() -> None:
    """List the known profiles."""
    table = Table("id", "device", "supernet", "latency source", "description")
    for name in list_profiles():
        p = load_profile(name)
        src = p.spec.latency.source + (f" ({p.spec.latency.table.format})" if p.spec.latency.table else "")
        table.add_row(p.id, p.device_class, p.spec.supernet, src, p.spec.description)
    console.print(table)


@app.command("show")
def show(name: str = typer.Argument(..., help="Profile id or path to a profile YAML."),
         assets: Optional[Path] = ASSETS) -> None:
    """Print a profile, its checksums and the latency range of its space."""
    p = load_profile(name, assets)
    info = p.describe()
    if p.spec.latency.source == "lut":
        info["lut_sha256"] = p.lut_sha256
        lat = p.latency([p.space.smallest(p.space.resolutions[0]), p.space.largest()])
        info["latency_range_ms"] = [round(float(x), 3) for x in lat]
    console.print_json(json.dumps(info))


@app.command("build-lut")
def build_lut_cmd(name: str = typer.Argument(..., help="Profile id or YAML path."),
                  out: Optional[Path] = typer.Option(None, help="Table file (default: the profile's table path)."),
                  calibrate: int = typer.Option(30, help="Random whole networks measured to fit a linear "
                                                         "calibration (0: none)."),
                  fresh: bool = typer.Option(False, help="Ignore a partial table from an interrupted build."),
                  seed: int = typer.Option(0, help="Seed of the calibration networks.")) -> None:
    """Measure every operator of the profile's space on THIS machine into a lookup table."""
    from ..profiles.build import build_lut

    p = load_profile(name)
    with _progress() as bar:
        task = bar.add_task(f"measuring {p.id}", total=None)
        path = build_lut(p, out, resume=not fresh, calibration_archs=calibrate, seed=seed,
                         progress=lambda done, total, key: bar.update(task, completed=done, total=total))
    console.print(f"wrote {path}")


@app.command("validate")
def validate_cmd(name: str = typer.Argument(..., help="Profile id or YAML path."),
                 n: int = typer.Option(100, "-n", min=2, help="Random networks to measure end to end."),
                 seed: int = typer.Option(1, help="Seed of the random networks."),
                 plot: Optional[Path] = typer.Option(None, help="Write a predicted-vs-measured scatter PNG here."),
                 json_out: Optional[Path] = typer.Option(None, "--json", help="Write the full report as JSON."),
                 assets: Optional[Path] = ASSETS) -> None:
    """Measure N random networks and report how well the table predicts them."""
    from .._io import write_json_atomic
    from ..profiles.validate import plot_validation, validate_profile

    p = load_profile(name, assets)
    if p.measurement is None:
        from ..errors import Ofa2Error

        raise Ofa2Error(f"profile {p.id} has no measurement section, so it cannot be measured here")
    with _progress() as bar:
        task = bar.add_task(f"measuring {n} networks", total=n)
        report = validate_profile(p, n, seed, progress=lambda i, total: bar.update(task, completed=i))
    table = Table("", "within ±10 %", "MAPE %", "Kendall τ")
    table.add_row("table sum", f"{report.raw.within_10pct:.1%}", f"{report.raw.mape:.2f}", f"{report.raw.kendall_tau:.3f}")
    if report.calibrated:
        c = report.calibrated
        table.add_row("calibrated", f"{c.within_10pct:.1%}", f"{c.mape:.2f}", f"{c.kendall_tau:.3f}")
    console.print(table)
    if plot:
        console.print(f"plot: {plot_validation(report, plot)}")
    if json_out:
        write_json_atomic(json_out, report.to_dict())


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="profile")
