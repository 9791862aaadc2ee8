"""``ofa2 run``: the whole pipeline on one profile — search, save the front, package it.

Both ``front/`` and ``package/front/`` get ``front.png`` and the explorer page ``index.html``
(with the packaged members highlighted).

With no arguments it runs on the embedded default (the small digits supernet shipped in the
wheel, its fitted accuracy predictor and the ``digits-cpu`` profile), fully offline.
``profile="fmnist-cpu"`` runs on the shipped Fashion-MNIST supernet; its packaging reads the
Fashion-MNIST images (see :mod:`ofa2_zoo.training.fashion_mnist`), checked before the search.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ._io import write_bytes_atomic
from .catalog import EMBEDDED
from .errors import Interrupted, Ofa2Error
from .explorer import FILENAME as EXPLORER_FILENAME
from .front import Front, plot_front
from .progress import ProgressFn
from .profiles import DEFAULT_PROFILE, load_profile
from .defaults import DEFAULT_ALGORITHM, DEFAULT_POPULATION, DEFAULT_SEED, RUN_GENERATIONS
from .search import search


@dataclass
class RunResult:
    front: Front
    front_dir: Path
    package_dir: Path
    seconds: dict[str, float]


def run_pipeline(out_dir: str | os.PathLike, *, profile: str = DEFAULT_PROFILE, algorithm: str = DEFAULT_ALGORITHM,
                 population: int = DEFAULT_POPULATION, generations: int = RUN_GENERATIONS, seed: int = DEFAULT_SEED,
                 members: int | None = None,
                 weights: str | None = None, data: str | None = None, assets: str | os.PathLike | None = None,
                 on_stage: Callable[[str], None] | None = None,
                 search_progress: ProgressFn | None = None, package_progress: ProgressFn | None = None) -> RunResult:
    """Search ``profile`` and package its front under ``out_dir`` (``front/`` and ``package/``).

    ``on_stage(text)`` announces each stage; ``search_progress("search", generation, generations,
    hv=...)`` and ``package_progress(step, members done, members)`` report within the two long ones.

    Args:
        out_dir: The output folder (``front/`` and ``package/`` are written under it).
        profile: The hardware profile to search.
        algorithm: The search algorithm.
        population: Population size of the search.
        generations: Generations of the search.
        seed: Seed of the search.
        members: How many front members to package (default: the profile's ``package.members``).
        weights: The supernet's weights: a file, ``embedded`` or ``official`` (default: embedded for
            an ``ofa2_*`` supernet, else OFA's official checkpoint).
        data: The dataset packaging reads (default: the embedded supernet's).
        assets: Where OFA's assets are (default: the assets folder or cache).
        on_stage: Called with a line announcing each stage; ``None`` for none.
        search_progress: Called with ("search", generation, generations, hv=hypervolume); ``None`` for none.
        package_progress: Called with (step, members done, members); ``None`` for none.
    """
    from ._io import check_out_dir
    from .search import SearchError, check_algorithm, check_budget

    # Every option is checked before any work (nothing is written for a bad one).
    out = check_out_dir(out_dir, "output folder")
    check_out_dir(out / "front", "front folder")
    check_out_dir(out / "package", "package folder")
    check_algorithm(algorithm)
    check_budget(algorithm, population, generations)
    if members is not None and (isinstance(members, bool) or not isinstance(members, int) or members < 1):
        raise SearchError(f"members must be a whole number of at least 1, got {members!r}")
    say = on_stage or (lambda s: None)
    seconds: dict[str, float] = {}
    prof = load_profile(profile, assets)
    if data is None and prof.spec.supernet in EMBEDDED:
        data = EMBEDDED[prof.spec.supernet].dataset
    if data == "fashion-mnist":  # packaging needs the images: say so before any work, not after the search
        from .training.fashion_mnist import data_folder

        data_folder()
    if prof.spec.latency.source == "lut":
        try:
            prof.table_files()
        except Ofa2Error:
            if prof.measurement is None or prof.measurement.backend == "tensorrt":
                raise
            from .profiles.build import build_lut

            say(f"measuring the lookup table of {prof.id} on this machine (first run only)")
            t0 = time.perf_counter()
            build_lut(prof, calibration_archs=0)
            seconds["build_lut"] = time.perf_counter() - t0
            prof = load_profile(profile, assets)
    if weights is None:
        weights = "embedded" if prof.spec.supernet.startswith("ofa2_") else "official"
    # torch and timm load only now, once every option has been checked
    from .package import package_front
    from .supernet import load_supernet

    net = load_supernet(prof.spec.supernet, weights=weights, assets=assets)
    say(f"searching {prof.id} with {algorithm} (population {population}, {generations} generations)")
    t0 = time.perf_counter()
    front = search(prof, algorithm=algorithm, population=population, generations=generations, seed=seed,
                   assets=assets, supernet_sha256=net.weights_sha256, progress=search_progress)
    seconds["search"] = time.perf_counter() - t0
    front_dir = out / "front"
    front.save(front_dir)
    say(f"packaging {members or prof.spec.package.members} members of {len(front.members)}")
    t0 = time.perf_counter()
    try:
        result = package_front(front_dir, out / "package", supernet=net, data=data, members=members,
                               assets=assets, profile=prof, measure_latency=prof.measurement is not None,
                               progress=package_progress)
    except KeyboardInterrupt:
        raise Interrupted(_kept_note(front_dir, out / "package")) from None
    seconds["package"] = time.perf_counter() - t0
    plot_front(front, front_dir / "front.png", packaged=[m.front_index for m in result.manifest.members])
    page = result.path / result.manifest.front_folder / EXPLORER_FILENAME
    write_bytes_atomic(front_dir / EXPLORER_FILENAME, page.read_bytes())  # the same explorer beside front.json
    return RunResult(front, front_dir, result.path, seconds)


def _kept_note(front_dir: Path, package_dir: Path) -> str:
    """What a Ctrl-C while packaging leaves: the finished search's files (kept), no package."""
    kept = sorted(p.name for p in front_dir.iterdir() if p.is_file()) if front_dir.is_dir() else []
    return (f"while packaging; the finished search was kept in {front_dir} ({', '.join(kept) or 'no files'}); no "
            f"package was written to {package_dir} (package the kept front with `ofa2 package {front_dir} --out "
            f"{package_dir}`)")
