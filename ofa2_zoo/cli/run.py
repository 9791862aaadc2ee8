"""``ofa2 run``: search + package one profile (the embedded default when given nothing)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..defaults import DEFAULT_ALGORITHM, DEFAULT_POPULATION, DEFAULT_PROFILE, DEFAULT_SEED, RUN_GENERATIONS
from ._ui import QUIET, Col, console, print_table, progress
from .zoo import RECORD, record_in_local_zoo


def run(
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Folder for the front (front/) and the package (package/)."),
    profile: str = typer.Option(DEFAULT_PROFILE, help="Hardware profile; the default searches the embedded digits "
                                                      "supernet offline; fmnist-cpu the Fashion-MNIST one."),
    algorithm: str = typer.Option(DEFAULT_ALGORITHM, help="Search algorithm (see `ofa2 search --help`)."),
    population: int = typer.Option(DEFAULT_POPULATION, min=2, help="Population size."),
    generations: int = typer.Option(RUN_GENERATIONS, min=1, help="Generations."),
    seed: int = typer.Option(DEFAULT_SEED, help="Random seed (same seed, same front)."),
    members: Optional[int] = typer.Option(None, min=1, help="Members to package (default: the profile's)."),
    assets: Optional[Path] = typer.Option(None, help="Folder with the official OFA files (official profiles only)."),
    record: bool = RECORD,
    quiet: bool = QUIET,
) -> None:
    """Search a profile's supernet for a Pareto front and package it as timm models, offline."""
    from ..profiles import load_profile

    load_profile(profile, assets)  # a wrong profile fails in a fraction of a second, before torch loads
    from .profile import check_this_machine

    check_this_machine(profile, assets)
    from ..run import run_pipeline
    from ..space import ArchSpec

    def stage(text: str) -> None:
        if not quiet:
            bar.console.print(f"[bold]>[/] {text}")

    package_task: list = []  # added when packaging starts

    def packaging(step: str, done: int, total: int) -> None:
        if not package_task:
            package_task.append(bar.add_task("package", total=total, info=""))
        bar.update(package_task[0], description=f"package: {step}", completed=done, total=total)

    with progress(quiet, "info") as bar:
        search_task = bar.add_task("search", total=generations, info="")
        result = run_pipeline(
            out, profile=profile, algorithm=algorithm, population=population, generations=generations, seed=seed,
            members=members, assets=assets, on_stage=stage,
            search_progress=lambda step, g, total, hv: bar.update(search_task, completed=g, info=f"HV {hv:.4g}"),
            package_progress=packaging)
    from ..package.manifest import read_manifest

    manifest = read_manifest(result.package_dir)
    names = result.front.objective_names
    rows = []
    for m in manifest.members:
        lat = m.measured.get("latency") or {}
        rows.append([m.name, ArchSpec.from_dict(m.arch, result.front.space).to_string(),
                     *(f"{m.objectives[o]:.4g}" for o in names),
                     f"{m.measured['top1']:.2f}" if "top1" in m.measured else "-",
                     f"{lat['median_ms']:.4g}" if "median_ms" in lat else "-"])
    print_table([Col("timm name", "key"), Col("arch"), *(Col(o, "num") for o in names),
                 Col("measured top-1 %", "num"), Col("measured ms", "num")], rows,
                title=f"packaged members of the {result.front.profile_id} front ({len(result.front.members)} members)")
    console.print(f"front:   {result.front_dir / 'front.json'} (plot: {result.front_dir / 'front.png'})")
    console.print(f"explore: {result.front_dir / 'index.html'} (open it in a browser)")
    console.print(f"package: {result.package_dir}")
    record_in_local_zoo(result.package_dir, record)
    console.print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()))


def register(app: typer.Typer) -> None:
    app.command("run")(run)
