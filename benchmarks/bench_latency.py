"""Latency prediction throughput (vectorised lookup tables) and, optionally, table validation.

Usage:
    python benchmarks/bench_latency.py --assets ../shared/ofa-assets [--validate 100] [--json OUT.json]

1. Batch prediction: ``profile.latency_genes`` on 100,000 random gene vectors per profile
   (best and median of 7 runs, archs/s), ``profile.latency`` on 10,000 ArchSpec objects
   (includes converting the objects to genes), and OFA's own estimator (``ofa`` package,
   one arch at a time) on 2,000 archs side by side as the peer, with the ratio.
2. ``--validate N``: ``validate_profile`` for cpu-onnxruntime (N random w1.2 networks at
   mixed resolutions measured end to end with onnxruntime on this machine): share within
   ±10 %, MAPE, Kendall τ, raw table sum and calibrated. Also writes a scatter PNG.
3. ``--noise N``: measurement noise on this machine: N random w1.2 networks timed in two
   passes (interleaved: 10 rounds x 5 calls; sequential: 50 calls per network in a row), each
   call read on the wall clock and on the thread's CPU clock, and how well each statistic
   (median, p10, min) of one pass reproduces the other pass. This is what chose the
   cpu-onnxruntime profile's ``statistic: min`` and ``clock: cpu``.
4. ``--drift N``: this machine's own speed over time: the same 5 random w1.2 networks measured
   N times in a row, each time exactly as the cpu-onnxruntime profile measures (its rounds,
   clock and statistic), and their mean measured / table-sum ratio. The table does not change,
   so the spread of that ratio is how much the machine's speed moves; a calibration cannot
   predict any better than that (issue 26).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import types
from pathlib import Path

import yaml

from ofa2_zoo.profiles import load_profile


def timed(fn, repeats: int = 7) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def ofa_estimator(assets: Path):
    """OFA's tutorial estimator over the Note10 tables (loaded by path; yaml.load given a safe Loader)."""
    import importlib.util

    import ofa

    path = Path(ofa.__file__).parent / "tutorial" / "latency_table.py"
    spec = importlib.util.spec_from_file_location("_ofa_latency_table", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.yaml = types.SimpleNamespace(load=lambda fp: yaml.load(fp, Loader=yaml.CSafeLoader))
    table = object.__new__(mod.LatencyTable)
    table.latency_tables = {r: mod.LatencyEstimator(url=str(assets / "note10" / f"{r}_lookup_table.yaml"))
                            for r in (160, 176, 192, 208, 224)}
    return table


def throughput(assets: Path) -> list[dict]:
    rows = []
    for name in ("note10", "cpu-onnxruntime"):
        p = load_profile(name, assets=assets)
        genes = p.space.sample_genes(100_000, 0)
        p.latency_genes(genes[:10])  # compile the table once (not part of the per-batch cost)
        best, med = timed(lambda: p.latency_genes(genes))
        archs = p.space.genes_to_archs(genes[:10_000])
        obj_best, _ = timed(lambda: p.latency(archs), repeats=3)
        rows.append({"profile": name, "archs": 100_000, "best_s": best, "median_s": med,
                     "archs_per_s": 100_000 / best, "archspec_10k_s": obj_best,
                     "archspec_per_s": 10_000 / obj_best})
    try:
        oracle = ofa_estimator(assets)
    except ImportError:
        return rows
    p = load_profile("note10", assets=assets)
    archs = [a.to_dict() for a in p.space.sample(2000, 1)]
    best, _ = timed(lambda: [oracle.predict_efficiency(a) for a in archs], repeats=3)
    rows.append({"profile": "note10 (OFA's estimator, per arch)", "archs": 2000, "best_s": best, "median_s": best,
                 "archs_per_s": 2000 / best})
    return rows


def noise(n: int, seed: int = 7) -> list[dict]:
    """Test-retest agreement of median / p10 / min latency between two passes over the same networks.

    Every timed call is read on two clocks at once: wall (elapsed) time and the calling thread's
    CPU time (what ``clock: cpu`` in a profile uses). Timing is interleaved (10 rounds x 5 calls
    per network) or sequential (50 calls per network in a row).
    """
    import numpy as np

    from ofa2_zoo.profiles.measure import arch_input_shape, make_runner
    from ofa2_zoo.profiles.validate import Agreement
    from ofa2_zoo.supernet import create_subnet

    p = load_profile("cpu-onnxruntime")
    m = p.measurement
    archs = p.space.sample(n, seed)
    runners = [make_runner(create_subnet(a, p.space), arch_input_shape(a, p.space, m), m) for a in archs]

    def one_pass(interleaved: bool) -> dict[str, np.ndarray]:
        times = {"wall": [[] for _ in runners], "cpu": [[] for _ in runners]}
        for r in runners:
            for _ in range(5):
                r()
        order = [(i, 5) for _ in range(10) for i in range(len(runners))] if interleaved else \
            [(i, 50) for i in range(len(runners))]
        for i, calls in order:
            for _ in range(calls):
                w0, c0 = time.perf_counter(), time.thread_time()
                runners[i]()
                c1, w1 = time.thread_time(), time.perf_counter()
                times["wall"][i].append((w1 - w0) * 1e3)
                times["cpu"][i].append((c1 - c0) * 1e3)
        return {k: np.array(v) for k, v in times.items()}

    rows = []
    for interleaved in (True, False):
        a, b = one_pass(interleaved), one_pass(interleaved)
        for clock in ("wall", "cpu"):
            for stat, fn in (("median", lambda x: np.median(x, 1)), ("p10", lambda x: np.percentile(x, 10, 1)),
                             ("min", lambda x: x.min(1))):
                rows.append({"timing": "interleaved" if interleaved else "sequential", "clock": clock,
                             "statistic": stat, **Agreement.of(fn(a[clock]), fn(b[clock])).to_dict()})
    return rows


def drift(n: int, seed: int = 3) -> list[dict]:
    """The mean measured / table-sum ratio of 5 fixed networks, measured ``n`` times in a row."""
    import numpy as np

    from ofa2_zoo.profiles.measure import measure_archs

    p = load_profile("cpu-onnxruntime")
    genes = p.space.sample_genes(5, np.random.default_rng(seed))
    archs = p.space.genes_to_archs(genes)
    raw = p.table.compile(p.space, calibrated=False).latency_genes(genes)
    rows, start = [], time.perf_counter()
    for i in range(n):
        measured = measure_archs(archs, p.space, p.measurement)
        rows.append({"pass": i, "at_s": round(time.perf_counter() - start, 2),
                     "ratio": float(np.mean(measured / raw)), "measured_ms": measured.tolist()})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assets", default=str(Path(__file__).resolve().parents[2] / "shared" / "ofa-assets"))
    ap.add_argument("--validate", type=int, default=0, help="also validate cpu-onnxruntime on N random networks")
    ap.add_argument("--noise", type=int, default=0, help="also measure test-retest noise on N networks")
    ap.add_argument("--drift", type=int, default=0, help="also measure the same 5 networks N times in a row")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plot", default="benchmarks/results/latency_bench_validation.png")
    ap.add_argument("--json", help="write all results to this file")
    args = ap.parse_args()
    from ofa2_zoo.profiles.machine import machine_info

    out = {"machine": machine_info(), "load_avg_start": os.getloadavg(), "throughput": throughput(Path(args.assets))}
    print(f"machine: {out['machine']['cpu']}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"{'profile':38} {'archs':>8} {'best (s)':>9} {'median (s)':>10} {'archs/s':>12}")
    for r in out["throughput"]:
        print(f"{r['profile']:38} {r['archs']:8d} {r['best_s']:9.4f} {r['median_s']:10.4f} {r['archs_per_s']:12.3g}")
    ofa_row = out["throughput"][-1] if "OFA" in out["throughput"][-1]["profile"] else None
    if ofa_row:
        print(f"speed-up over OFA's per-arch estimator: {out['throughput'][0]['archs_per_s'] / ofa_row['archs_per_s']:.0f}x")
    if args.noise:
        out["noise"] = noise(args.noise)
        out["load_avg_after_noise"] = os.getloadavg()
        print(f"\ntest-retest, {args.noise} random w1.2 networks, two passes (load avg "
              f"{out['load_avg_start'][0]:.1f} -> {os.getloadavg()[0]:.1f}):")
        for r in out["noise"]:
            print(f"  {r['timing']:11} {r['clock']:4} {r['statistic']:6}  within ±10 %: {r['within_10pct']:4.0%}  "
                  f"MAPE {r['mape']:6.2f} %  Kendall τ {r['kendall_tau']:.3f}")
    if args.drift:
        out["drift"] = drift(args.drift)
        ratios = [r["ratio"] for r in out["drift"]]
        print(f"\nthe machine's speed: 5 w1.2 networks measured {args.drift} times in a row (load avg "
              f"{out['load_avg_start'][0]:.1f} -> {os.getloadavg()[0]:.1f}); measured / table sum:")
        for r in out["drift"]:
            print(f"  {r['at_s']:7.1f} s  {r['ratio']:.3f}")
        print(f"  range {min(ratios):.3f} .. {max(ratios):.3f} (max / min {max(ratios) / min(ratios):.3f})")
    if args.validate:
        from ofa2_zoo.profiles.validate import plot_validation, validate_profile

        p = load_profile("cpu-onnxruntime")
        t0 = time.perf_counter()
        report = validate_profile(p, args.validate, args.seed)
        out["validation"] = {**report.to_dict(), "seconds": time.perf_counter() - t0,
                             "load_avg_end": os.getloadavg()}
        plot_validation(report, args.plot)
        print(f"\ncpu-onnxruntime validation, {report.n} random networks (seed {report.seed}):")
        for label, a in (("table sum", report.raw), ("calibrated", report.calibrated)):
            if a is not None:
                print(f"  {label:11} within ±10 %: {a.within_10pct:.0%}  MAPE {a.mape:.2f} %  "
                      f"Kendall τ {a.kendall_tau:.3f}  bias {a.bias:+.2f} %")
        print(f"  plot: {args.plot}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
