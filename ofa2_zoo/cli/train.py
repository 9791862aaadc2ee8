"""``ofa2 train-supernet`` and ``ofa2 fit-predictor``: the embedded default, or your own data."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from ._ui import QUIET, console, progress


def _space(value: str | None):
    """A registered space name, or a JSON file holding a space dict (``SearchSpace.to_dict()``)."""
    from .._io import json_loads
    from ..errors import Ofa2Error
    from ..space import resolve_space

    if value is None:
        return None
    if value.endswith(".json"):
        try:
            return resolve_space(json_loads(Path(value).read_text()))
        except (OSError, json.JSONDecodeError, TypeError) as exc:
            raise Ofa2Error(f"cannot read the space file {value}: {exc}") from None
    return resolve_space(value)


def train_supernet_cmd(
    dataset: str = typer.Argument(..., help="'fashion-mnist' or 'digits' (built in), or an image folder with "
                                            "train/<class>/ and val/<class>/ sub-folders."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: <space>.safetensors, training_report.json, "
                                                       "checkpoints/ (a rerun resumes from these)."),
    space: str = typer.Option(None, help="Search space of the supernet: a registered name or a JSON file with a "
                                         "space dict (channels, widths, resolutions ...). Default: the dataset's "
                                         "shipped space (ofa2_fmnist, ofa2_digits), else ofa2_digits."),
    resolutions: str = typer.Option(None, help="Train only these resolutions of the space, e.g. '8,12,16'."),
    seed: int = typer.Option(0, help="Seed (same seed, same weights)."),
    epochs_scale: float = typer.Option(1.0, min=0.01, max=100.0,
                                       help="Multiply every phase's epochs (quick trials), 0.01-100."),
    data: Path = typer.Option(None, "--data", help="Folder with the Fashion-MNIST IDX files (default: $OFA2_DATA, "
                                                   "Debian's /usr/share/datasets/fashion-mnist, the ofa2 cache)."),
    quiet: bool = QUIET,
) -> None:
    """Train a supernet with OFA's progressive shrinking (largest → kernel → depth → expand).

    Each epoch ends with a checkpoint in OUT/checkpoints: rerun the same command to resume.
    Output to a log instead of a terminal (a run in the background) gets one line per epoch.
    The shipped Fashion-MNIST supernet is `ofa2 train-supernet fashion-mnist --out DIR`.

    Several processes or machines: run the module ofa2_zoo.training.distributed under torchrun.
    """
    import os

    # Training is long and meant to run beside other work: torch's OpenMP threads must yield the
    # cores when they idle, or a busy neighbour slows every step ten-fold. Read when torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if data is not None:
        os.environ["OFA2_DATA"] = str(data)  # --data wins over $OFA2_DATA, for this process and its children
    from .._io import check_out_dir
    from ..catalog import BUILTIN_DATASETS, check_dataset_folder

    check_out_dir(out, "--out")  # the cheap checks first: a typo fails before torch is imported
    if dataset not in BUILTIN_DATASETS:
        check_dataset_folder(Path(dataset).expanduser())
    from ..training.data import DatasetError, check_fits, check_resolution, get_dataset
    from ..training.progressive import (
        PHASES,
        TrainConfig,
        train_supernet,
        write_outputs,
    )

    cfg = TrainConfig.for_dataset(dataset, seed=seed)
    if space is None:
        space = cfg.space
    sp = _space(space)
    if resolutions:
        try:
            rs = [int(r) for r in resolutions.split(",")]
        except ValueError:
            raise DatasetError(f"--resolutions must be comma-separated integers, got {resolutions!r}") from None
        for r in rs:
            check_resolution(sp, r)
        sp = sp.restrict(resolutions=rs)
    cfg.space = sp if (resolutions or space.endswith(".json")) else space
    cfg.epochs = {k: max(1, round(v * epochs_scale)) for k, v in cfg.epochs.items()}
    check_fits(sp, get_dataset(dataset, "train", min(sp.resolutions)))  # fail early on bad data
    with progress(quiet, "info") as bar:
        tasks = {p: bar.add_task(p, total=None, info="") for p in PHASES}
        log_epochs = bar.disable and not quiet  # a log (e.g. a background run's): one line per epoch
        start = time.monotonic()

        def show(phase: str, step: int, total: int, loss: float) -> None:
            bar.update(tasks[phase], completed=step, total=total, info=f"loss {loss:.3f}")
            per_epoch = total // cfg.epochs[phase]
            if log_epochs and step % per_epoch == 0:
                minutes, seconds = divmod(round(time.monotonic() - start), 60)
                console.print(f"{phase}: epoch {step // per_epoch} of {cfg.epochs[phase]} done, loss {loss:.3f} "
                              f"({minutes} min {seconds:02d} s)", highlight=False)

        net = train_supernet(cfg, out, progress=show)
        for task in tasks.values():
            if bar.tasks[task].total is None:  # finished by an earlier run
                bar.update(task, total=1, completed=1, info="from checkpoint")
    console.print(f"wrote {write_outputs(net, cfg, out)}")


def fit_predictor_cmd(
    weights: Path = typer.Argument(..., help="Trained supernet weights (.safetensors from train-supernet)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output prefix: writes <prefix>.safetensors, <prefix>.json "
                                                       "and <prefix>.measurements.json."),
    space: str = typer.Option(None, help="Search space of the supernet (name or JSON file); default: the space "
                                          "recorded in the weights file."),
    dataset: str = typer.Option("digits", help="Dataset the accuracy is measured on."),
    n_train: int = typer.Option(250, min=10, max=100_000, help="Measured archs to fit on (10-100,000)."),
    n_test: int = typer.Option(100, min=10, max=100_000, help="Held-out measured archs to score on (10-100,000)."),
    seed: int = typer.Option(0, help="Seed of the sampled archs and of the fit."),
    measurements: Path = typer.Option(None, help="Reuse the measurements file of an earlier run "
                                                 "(<prefix>.measurements.json) instead of measuring again."),
    workers: int = typer.Option(1, min=1, max=64, help="Processes measuring in parallel (one thread each; the "
                                                       "results do not depend on it), 1-64."),
    quiet: bool = QUIET,
) -> None:
    """Measure random sub-networks, fit an accuracy predictor, report Kendall τ / RMSE / MAE."""
    from .._io import check_out_dir, write_json_atomic
    from ..errors import Ofa2Error
    from ..objectives.fitting import fit_from_measurements
    from ..supernet import load_supernet
    from ..supernet.checkpoint import read_supernet_file

    check_out_dir(out.parent, "--out's folder")
    sp = _space(space) or read_supernet_file(weights)[1]
    if sp is None:
        raise Ofa2Error(f"{weights} records no search space; pass --space")
    net = load_supernet(sp, weights=weights)
    reuse = None
    if measurements is not None:
        try:
            reuse = json.loads(measurements.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise Ofa2Error(f"cannot read measurements {measurements}: {exc}") from None
    with progress(quiet, "info") as bar:
        task = bar.add_task("measuring sub-networks", total=None if reuse else n_train + n_test, info="")
        fit = bar.add_task("fitting the predictor", total=None, info="")
        pred, report, data = fit_from_measurements(
            net, dataset, n_train, n_test, seed, progress=lambda step, i, n: bar.update(task, completed=i, total=n),
            measurements=reuse, fit_progress=lambda step, e, n: bar.update(fit, completed=e, total=n), workers=workers)
        if reuse:
            bar.update(task, total=1, completed=1, info="from the measurements file")
    pred.save(out)
    write_json_atomic(out.with_suffix(".measurements.json"), data)
    console.print(f"held-out ({report.n_test} archs): Kendall τ {report.kendall_tau:.3f}, RMSE {report.rmse:.3f} %, "
                  f"MAE {report.mae:.3f} %")
    console.print(f"wrote {out.with_suffix('.safetensors')} and {out.with_suffix('.json')}")


def register(app: typer.Typer) -> None:
    app.command("train-supernet")(train_supernet_cmd)
    app.command("fit-predictor")(fit_predictor_cmd)
