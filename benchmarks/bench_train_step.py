"""Training step time of the Fashion-MNIST supernet: channels-last (what ``ofa2 train-supernet``
uses in one process) against PyTorch's default contiguous layout, side by side.

Each case is one optimiser step (forward, backward, AdamW) on a batch of the preset's size
(256 random 1-channel images; the time does not depend on their values) as the trainer takes it:
the largest network alone (phase ``largest``), and the sandwich of the largest, the smallest and
one random network (phases ``kernel`` and ``expand``), at each resolution of the space. Both
layouts run in interleaved rounds on the preset's thread count, so they see the same machine
load; the table gives the median step time of each and their ratio.

    python benchmarks/bench_train_step.py [--rounds 5] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from ofa2_zoo.space import get_space
from ofa2_zoo.supernet import load_supernet
from ofa2_zoo.training.progressive import TrainConfig, _sample, _SandwichStep, _smallest

LAYOUTS = {"contiguous": torch.contiguous_format, "channels-last": torch.channels_last}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (steps per case and layout)")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    cfg = TrainConfig.for_dataset("fashion-mnist")
    torch.set_num_threads(cfg.threads)
    space = get_space(cfg.space)
    steps = {}
    for name, layout in LAYOUTS.items():
        torch.manual_seed(0)
        net = load_supernet(space, num_classes=10).train().to(memory_format=layout)
        steps[name] = (net, _SandwichStep(net, cfg), torch.optim.AdamW(net.parameters(), lr=1e-3))
    rng = np.random.default_rng(0)
    cases = []
    for phase in ("largest", "kernel", "expand"):
        for r in space.resolutions:
            archs = [space.largest(r)]
            if phase != "largest":
                archs += [_smallest(space, phase, r), _sample(space, phase, rng, r)]
            cases.append((phase, r, archs))
    x_all = {r: torch.randn(cfg.batch_size, space.in_chans, r, r) for r in space.resolutions}
    y = torch.randint(0, 10, (cfg.batch_size,))
    times: dict[tuple, dict[str, list[float]]] = {(p, r): {n: [] for n in LAYOUTS} for p, r, _ in cases}
    for rnd in range(args.rounds + 1):  # round 0 warms up (oneDNN builds its kernels)
        for phase, r, archs in cases:
            for name, layout in LAYOUTS.items():
                _, step, opt = steps[name]
                x = x_all[r].contiguous(memory_format=layout)
                t0 = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                step(x, y, archs).backward()
                opt.step()
                if rnd:
                    times[(phase, r)][name].append(time.perf_counter() - t0)
    rows = []
    print(f"{'phase':8} {'px':>3} {'contiguous s':>13} {'channels-last s':>16} {'speed-up':>9}")
    for (phase, r), t in times.items():
        a, b = statistics.median(t["contiguous"]), statistics.median(t["channels-last"])
        rows.append({"phase": phase, "resolution": r, "contiguous_s": round(a, 4), "channels_last_s": round(b, 4),
                     "speedup": round(a / b, 2)})
        print(f"{phase:8} {r:3d} {a:13.3f} {b:16.3f} {a / b:8.2f}x")
    result = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(), "torch": torch.__version__,
              "threads": cfg.threads, "batch_size": cfg.batch_size, "rounds": args.rounds,
              "load_average": [round(v, 2) for v in os.getloadavg()], "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
