"""Distributed supernet training: ``torchrun --nproc_per_node N -m ofa2_zoo.training.distributed DATASET --out DIR``.

Each process trains on its share of every global batch (``batch_size`` is the global batch);
DistributedDataParallel averages the gradients and BatchNorm statistics are synchronised
across processes, so N processes give the weights one process gives with the same global batch,
up to floating-point summation order (tested with 2 CPU processes). Exception: dropout masks
are drawn per process, so with dropout > 0 the weights agree in distribution only (the measured
differences are in ``benchmarks/RESULTS.md``). Training runs on CPU with the gloo backend; rank 0 writes the checkpoints,
``<space>.safetensors`` and ``training_report.json``, and a rerun resumes like
``ofa2 train-supernet``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import torch.distributed as dist
import typer

from ..errors import Ofa2Error
from ..space import resolve_space
from .progressive import TrainConfig, train_supernet, write_outputs


def _train_command(
    dataset: str = typer.Argument(..., help="'digits' or an image folder"),
    out: str = typer.Option(..., help="output folder (written by rank 0)"),
    space: str = typer.Option("ofa2_digits", help="registered search space name or a JSON space file"),
    seed: int = typer.Option(0),
    config: Optional[str] = typer.Option(None, help="JSON file with TrainConfig fields to override (epochs, lr, "
                                                    "batch_size ...)"),
) -> None:
    try:
        overrides = json.loads(Path(config).read_text()) if config else {}
        chosen = resolve_space(json.loads(Path(space).read_text())) if space.endswith(".json") else space
        cfg = TrainConfig(dataset=dataset, space=chosen, seed=seed, **overrides)
    except (OSError, ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--config/--space") from None
    dist.init_process_group("gloo")
    try:
        net = train_supernet(cfg, out)
        if dist.get_rank() == 0:
            write_outputs(net, cfg, out)
    finally:
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and train; bad input ends with one ``error:``
    line and exit code 2."""
    app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)
    app.command(help=__doc__)(_train_command)
    try:
        app(args=argv, prog_name="python -m ofa2_zoo.training.distributed")
    except Ofa2Error as exc:  # bad input: one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
