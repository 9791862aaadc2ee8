"""``ofa2 search``: multi-objective search of one hardware profile; writes ``front.json``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..defaults import DEFAULT_ALGORITHM, DEFAULT_GENERATIONS, DEFAULT_POPULATION, DEFAULT_PROFILE, DEFAULT_SEED
from ._ui import QUIET, Col, console, print_table, progress


def print_summary(front, title: str, selected: set[int] | None = None) -> None:
    """Table of a front's members (shared with ``ofa2 front show``); ``selected`` adds a
    column marking those members."""
    names = list(front.objective_meta)
    columns = [Col("k", "num"), Col("arch"), *(Col(f"{n} ({front.objective_meta[n]['unit']})", "num") for n in names)]
    columns += [Col("packaged", "num")] if selected is not None else []
    rows = []
    for k, m in enumerate(front.members):
        mark = ["*" if k in selected else ""] if selected is not None else []
        rows.append([str(k), m.arch.to_string(), *(f"{m.objectives[n]:.3f}" for n in names), *mark])
    print_table(columns, rows, title=title)


def search_command(
    profile: str = typer.Option(DEFAULT_PROFILE, "--profile", "-p",
                                help="Hardware profile id (see `ofa2 profile list`) or path of a profile YAML; "
                                     "default: digits-cpu, the embedded digits supernet."),
    supernet: Optional[str] = typer.Option(None, help="Supernet / space name; must match the profile's "
                                                      "(default: the profile's)."),
    algorithm: str = typer.Option(DEFAULT_ALGORITHM, "--algorithm", "-a",
                                  help="pals (Pareto archive local search), nsga2, smsemoa, spea2, nsga3, moead, "
                                       "agemoea, random or ofa-evolution."),
    population: int = typer.Option(DEFAULT_POPULATION, help="Population size (OFA²: 100)."),
    generations: int = typer.Option(DEFAULT_GENERATIONS, help="Generations (OFA²: 1000)."),
    seed: int = typer.Option(DEFAULT_SEED, help="Random seed: the same seed gives the same front.json (timing aside)."),
    assets: Optional[Path] = typer.Option(None, help="Folder with the official OFA files (predictor, Note10 "
                                                     "tables); default: $OFA2_ASSETS, the cache, or download."),
    out: Path = typer.Option(Path("front"), "--out", "-o", help="Output folder for front.json (+ timing.json)."),
    objective: Optional[List[str]] = typer.Option(None, "--objective", help="Objective to optimise (repeat); "
                                                  "default: the profile's. latency_ms, top1, macs_m, params_m."),
    executor: str = typer.Option("inprocess", help="Where expensive objectives run: inprocess, process, ray."),
    workers: Optional[int] = typer.Option(None, help="Workers of the process / ray executor."),
    cache: Optional[Path] = typer.Option(None, help="Folder that keeps evaluated (arch, objective) values "
                                                    "between runs."),
    engine: str = typer.Option("auto", help="auto (vectorised where available), vectorised, or pymoo."),
    plot: bool = typer.Option(True, help="Also write front.png beside front.json."),
    quiet: bool = QUIET,
) -> None:
    """Search a profile's supernet for the Pareto front of its objectives and write front.json."""
    from contextlib import nullcontext

    from .._io import check_out_dir
    from .._plot import BackgroundPlot
    from . import take_early_plot

    # The plot's process imports matplotlib while this one imports the search and searches (on
    # another core, if free): started before anything heavy is imported here (by main(), when
    # this runs as the `ofa2` command).
    early = take_early_plot()
    if early is not None and not plot:
        early.close()
    with (early or BackgroundPlot()) if plot else nullcontext() as plotter:
        check_out_dir(out, "--out")
        if cache is not None:
            check_out_dir(cache, "--cache")
        from ..front.plot import front_chart
        from ..search import search
        from .profile import check_this_machine

        check_this_machine(profile, assets)
        with progress(quiet, "hv") as bar:
            task = bar.add_task(f"{algorithm} on {profile}", total=generations, hv="")
            front = search(profile=profile, supernet=supernet, algorithm=algorithm, population=population,
                           generations=generations, seed=seed, assets=assets, objectives=objective or None,
                           executor=executor, workers=workers, cache=cache, engine=engine,
                           progress=lambda step, g, total, hv: bar.update(task, completed=g, hv=f"HV {hv:.5g}"))
        path = front.save(out)
        if plotter is not None:
            plotter.send(front_chart(front), out / "front.png")  # drawn while the summary prints
        print_summary(front, f"{front.profile_id} front: {len(front.members)} members")
        ref = ", ".join(f"{k} {v:g}" for k, v in front.reference_point.items())
        console.print(f"hypervolume {front.hypervolume:.6g} (reference point: {ref}); {front.evaluations} "
                      f"evaluations; {front.timing['wall_time_s']:.2f} s")
        if plotter is not None:
            plotter.wait()
    console.print(f"front: {path}" + (f" (plot: {out / 'front.png'})" if plot else ""))


def register(app: typer.Typer) -> None:
    app.command("search")(search_command)
