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

import argparse
import json
import sys
from pathlib import Path

import torch.distributed as dist

from ..errors import Ofa2Error
from ..space import resolve_space
from .progressive import TrainConfig, train_supernet, write_outputs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m ofa2_zoo.training.distributed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", help="'digits' or an image folder")
    ap.add_argument("--out", required=True, help="output folder (written by rank 0)")
    ap.add_argument("--space", default="ofa2_digits", help="registered search space name or a JSON space file")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", help="JSON file with TrainConfig fields to override (epochs, lr, batch_size ...)")
    args = ap.parse_args(argv)
    try:
        overrides = json.loads(Path(args.config).read_text()) if args.config else {}
        space = resolve_space(json.loads(Path(args.space).read_text())) if args.space.endswith(".json") \
            else args.space
        cfg = TrainConfig(dataset=args.dataset, space=space, seed=args.seed, **overrides)
    except (OSError, ValueError, TypeError) as exc:
        ap.error(f"--config/--space: {exc}")  # one line, exit 2
    dist.init_process_group("gloo")
    try:
        net = train_supernet(cfg, args.out)
        if dist.get_rank() == 0:
            write_outputs(net, cfg, args.out)
    except Ofa2Error as exc:  # bad input: one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
