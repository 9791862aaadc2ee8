"""Foundation timings: supernet build, set_active, extraction, vectorised MACs.

Usage: python benchmarks/bench_foundation.py [--json OUT.json]
Prints a table; numbers are wall-clock seconds on this machine (medians of a few repeats).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch

from ofa2_zoo import efficiency_model, extract_subnet, get_space, load_supernet


def timed(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    load = os.getloadavg()
    rows = []
    for name in ("ofa_mbv3_w1.0", "ofa_mbv3_w1.2"):
        space = get_space(name)
        net = load_supernet(space)
        archs = space.sample(1000, 0)
        build = timed(lambda: load_supernet(space))
        set_1000 = timed(lambda: [net.set_active(a) for a in archs])
        extract_20 = timed(lambda: [extract_subnet(net, a) for a in archs[:20]], repeats=1)
        em = efficiency_model(space)
        genes = space.sample_genes(100_000, 1)
        macs_100k = timed(lambda: em.macs_genes(genes))
        rows.append({"space": name, "build_s": build, "set_active_1000_s": set_1000,
                     "extract_20_s": extract_20, "macs_100k_s": macs_100k,
                     "macs_archs_per_s": 100_000 / macs_100k})
    header = f"{'space':16} {'build (s)':>10} {'set 1000 (s)':>13} {'extract 20 (s)':>15} {'MACs 100k (s)':>14} {'archs/s':>12}"
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads, default environment); load average {load[0]:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after")
    print(header)
    for r in rows:
        print(f"{r['space']:16} {r['build_s']:10.3f} {r['set_active_1000_s']:13.3f} {r['extract_20_s']:15.3f} "
              f"{r['macs_100k_s']:14.4f} {r['macs_archs_per_s']:12.3g}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
