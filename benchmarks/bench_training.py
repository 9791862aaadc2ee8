"""The embedded default: training time per phase, accuracy table, predictor fit figures.

Usage: python benchmarks/bench_training.py [--random 100]
Reads the shipped files in ofa2_zoo/data/embedded and measures top-1 (BN re-calibrated on the
training split, scored on the 797-image validation split) of the largest and smallest
sub-networks at every resolution, and of random sub-networks.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import ofa2_zoo
from ofa2_zoo import load_supernet
from ofa2_zoo.embedded import DATA_DIR, DIGITS_SPACE as space
from ofa2_zoo.objectives.measured import MeasuredAccuracy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--random", type=int, default=100, help="random sub-networks to measure")
    args = ap.parse_args()
    report = json.loads((DATA_DIR / "training_report.json").read_text())
    print("phase      epochs  steps  seconds  final loss")
    for phase in ("largest", "kernel", "depth", "expand"):
        p = report["phases"][phase]
        print(f"{phase:9} {p['epochs']:7} {p['steps']:6} {p['seconds']:8.1f}  {p['final_loss']:.3f}")
    print(f"total training time: {sum(p['seconds'] for p in report['phases'].values()):.1f} s")
    net = load_supernet("ofa2_digits", weights="embedded")
    m = MeasuredAccuracy(net, "digits")
    print("\nresolution  largest top-1 %  smallest top-1 %")
    for r in space.resolutions:
        print(f"{r:10} {m.evaluate(space.largest(r)):16.2f} {m.evaluate(space.smallest(r)):17.2f}")
    acc = m.predict_genes(space.sample_genes(args.random, np.random.default_rng(123)))
    q = np.percentile(acc, [0, 25, 50, 75, 100])
    print(f"\n{args.random} random sub-networks: min {q[0]:.2f}, q25 {q[1]:.2f}, median {q[2]:.2f}, "
          f"q75 {q[3]:.2f}, max {q[4]:.2f} %")
    fit = json.loads((DATA_DIR / "ofa2_digits_predictor.json").read_text())["fit"]
    print(f"\npredictor: fitted on {fit['n_train']} measured archs, held-out {fit['n_test']}: "
          f"Kendall tau {fit['kendall_tau']:.3f}, RMSE {fit['rmse']:.3f} %, MAE {fit['mae']:.3f} %")


if __name__ == "__main__":
    main()
