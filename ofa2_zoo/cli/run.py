"""``ofa2 run``: search + package one profile (the embedded default when given nothing)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .zoo import record_in_local_zoo

console = Console()


def run(
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Folder for the front (front/) and the package (package/)."),
    profile: str = typer.Option("digits-cpu", help="Hardware profile; the default is the embedded digits supernet."),
    algorithm: str = typer.Option("nsga2", help="Search algorithm (see `ofa2 search --help`)."),
    population: int = typer.Option(100, min=2, help="Population size."),
    generations: int = typer.Option(200, min=1, help="Generations."),
    seed: int = typer.Option(1, help="Random seed (same seed, same front)."),
    members: Optional[int] = typer.Option(None, min=1, help="Members to package (default: the profile's)."),
    assets: Optional[Path] = typer.Option(None, help="Folder with the official OFA files (official profiles only)."),
) -> None:
    """Search a profile's supernet for a Pareto front and package it as timm models, offline."""
    from ..run import run_pipeline
    from ..space import ArchSpec

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[hv]}"), console=console) as bar:
        task = bar.add_task("search", total=generations, hv="")
        result = run_pipeline(
            out, profile=profile, algorithm=algorithm, population=population, generations=generations, seed=seed,
            members=members, assets=assets, on_stage=lambda s: bar.console.print(f"[bold]>[/] {s}"),
            search_progress=lambda g, total, hv: bar.update(task, completed=g, hv=f"HV {hv:.4g}"))
    from ..package.manifest import read_manifest

    manifest = read_manifest(result.package_dir)
    table = Table("name", "arch", *result.front.objective_names, "measured",
                  title=f"packaged members of the {result.front.profile_id} front ({len(result.front.members)} members)")
    for m in manifest.members:
        lat = m.measured.get("latency") or {}
        measured = (f"top-1 {m.measured['top1']:.2f} %" if "top1" in m.measured else "") + \
            (f", {lat['median_ms']:.4g} ms" if "median_ms" in lat else "")
        table.add_row(m.name, ArchSpec.from_dict(m.arch, result.front.space).to_string(),
                      *(f"{m.objectives[o]:.4g}" for o in result.front.objective_names), measured)
    console.print(table)
    console.print(f"front:   {result.front_dir / 'front.json'} (plot: {result.front_dir / 'front.png'})")
    console.print(f"package: {result.package_dir}")
    record_in_local_zoo(result.package_dir)
    console.print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()))


def register(app: typer.Typer) -> None:
    app.command("run")(run)
