"""Distributed supernet training: ``torchrun --nproc_per_node N -m ofa2_zoo.training.distributed``.

Each process trains on an equal share of every global batch; DistributedDataParallel averages
the gradients and BatchNorm statistics are synchronised across processes, so N processes give
the weights one process gives with the same global batch (up to floating-point summation
order). Uses the gloo backend on CPU (nccl on GPUs).
"""

from __future__ import annotations

import argparse
import json
import os

import torch
import torch.distributed as dist

from .progressive import TrainConfig, train_supernet


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dataset", help="'digits' or an image folder")
    ap.add_argument("--out", required=True, help="output folder (checkpoints written by rank 0)")
    ap.add_argument("--space", default="ofa2_digits")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", help="JSON file with TrainConfig fields to override (epochs, lr, batch_size ...)")
    args = ap.parse_args(argv)
    backend = "nccl" if torch.cuda.is_available() and os.environ.get("OFA2_BACKEND") != "gloo" else "gloo"
    dist.init_process_group(backend)
    try:
        overrides = json.loads(open(args.config).read()) if args.config else {}
        cfg = TrainConfig(dataset=args.dataset, space=args.space, seed=args.seed, **overrides)
        train_supernet(cfg, args.out)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
