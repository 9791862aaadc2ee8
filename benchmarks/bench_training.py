"""The embedded default: training time per phase, accuracy table, predictor fit figures.

Usage: python benchmarks/bench_training.py [--random 100] [--weights DIR] [--json OUT.json]

Reads the shipped files in ofa2_zoo/data/embedded (or a training output folder given with
--weights, e.g. a fresh `ofa2 train-supernet digits --out DIR`) and measures top-1 (BN
re-calibrated on the training split, scored on the 797-image validation split) of the largest
and smallest sub-networks at every resolution, and of random sub-networks per resolution.
With --weights it also compares the weights with the shipped ones (reproducibility).
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from ofa2_zoo import load_supernet
from ofa2_zoo.catalog import EMBEDDED_DIR as DATA_DIR
from ofa2_zoo.space import DIGITS_SPACE as space
from ofa2_zoo.objectives.measured import MeasuredAccuracy
from ofa2_zoo.training.progressive import PHASES


def compare_weights(a: Path, b: Path) -> dict:
    sa, sb = load_file(str(a)), load_file(str(b))
    diffs = [float((sa[k].double() - sb[k].double()).abs().max()) for k in sa if sa[k].is_floating_point()]
    return {"same_keys": sa.keys() == sb.keys(), "identical": all(torch.equal(sa[k], sb[k]) for k in sa),
            "max_abs_diff": max(diffs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--random", type=int, default=100, help="random sub-networks to measure")
    ap.add_argument("--weights", type=Path, help="a train-supernet output folder instead of the shipped files")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    folder = args.weights or DATA_DIR
    result: dict = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
                    "torch": torch.__version__, "threads": torch.get_num_threads(), "weights": str(folder)}
    report = json.loads((folder / "training_report.json").read_text())
    result["phases"] = {p: report["phases"][p] for p in PHASES}
    print("phase      epochs  steps  seconds  final loss")
    for phase in PHASES:
        p = report["phases"][phase]
        print(f"{phase:9} {p['epochs']:7} {p['steps']:6} {p['seconds']:8.1f}  {p['final_loss']:.3f}")
    total = sum(p["seconds"] for p in report["phases"].values())
    result["training_seconds"] = total
    print(f"total training time: {total:.1f} s")
    weights = folder / "ofa2_digits.safetensors"
    if args.weights:
        result["vs_shipped"] = compare_weights(weights, DATA_DIR / "ofa2_digits.safetensors")
        print(f"\nweights vs the shipped ones: {result['vs_shipped']}")
    net = load_supernet("ofa2_digits", weights=weights)
    m = MeasuredAccuracy(net, "digits")
    rows = {r: {"largest": m.evaluate(space.largest(r)), "smallest": m.evaluate(space.smallest(r))}
            for r in space.resolutions}
    result["accuracy"] = rows
    genes = space.sample_genes(args.random, np.random.default_rng(123))
    acc = m.predict_genes(genes)
    r_of = np.asarray(space.resolutions)[genes[:, -1]]
    print(f"\nresolution  largest top-1 %  smallest top-1 %  random nets (n, median, min-max) of {args.random}")
    for r in space.resolutions:
        sel = acc[r_of == r]
        spread = f"{len(sel):3d}, {np.median(sel):6.2f}, {sel.min():.2f}-{sel.max():.2f}" if len(sel) else "-"
        rows[r]["random"] = sel.tolist()
        print(f"{r:10} {rows[r]['largest']:16.2f} {rows[r]['smallest']:17.2f}  {spread}")
    q = np.percentile(acc, [0, 25, 50, 75, 100])
    result["random_quantiles"] = dict(zip(["min", "q25", "median", "q75", "max"], q.round(2).tolist()))
    print(f"\n{args.random} random sub-networks (seed 123): min {q[0]:.2f}, q25 {q[1]:.2f}, median {q[2]:.2f}, "
          f"q75 {q[3]:.2f}, max {q[4]:.2f} %")
    fit_file = folder / "ofa2_digits_predictor.json"
    if fit_file.is_file():
        fit = json.loads(fit_file.read_text())["fit"]
        result["predictor_fit"] = fit
        print(f"\npredictor: fitted on {fit['n_train']} measured archs, held-out {fit['n_test']}: "
              f"Kendall tau {fit['kendall_tau']:.3f}, RMSE {fit['rmse']:.3f} %, MAE {fit['mae']:.3f} %")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=float))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
