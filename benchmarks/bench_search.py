"""OFA² reproduction benchmark: our search vs the authors' pymoo problem, side by side.

Setup (BRIEF §4): supernet ofa_mbv3_w1.2, OFA's accuracy predictor, Note10 lookup tables,
population 100, 1,000 generations, seeds 1-3, NSGA-II / SMS-EMOA / SPEA2, hypervolume with
reference point (100 ms, 25 % error). Every run is a fresh process; the two implementations
alternate per (algorithm, seed) so both see the same machine load. Wall time is the search
call alone (imports and asset loading excluded on both sides).

Both sides run as users run them: the default environment (no ``OMP_WAIT_POLICY``, no thread
settings beyond what each product sets itself). Scenario ``busy`` repeats the runs while
this script keeps one other process busy (a pure-Python loop at normal priority), the
situation in which spinning thread pools collapse.

    python benchmarks/bench_search.py --assets ../shared/ofa-assets \\
        --peer-python /work/ofa2-peer-venv/bin/python          # the full experiment
    python benchmarks/bench_search.py --algorithms nsga2 --seeds 1 --scenarios idle busy

``--generations``, ``--seeds``, ``--algorithms`` and ``--peer-generations`` shrink it. The
peer environment is built by ``benchmarks/setup_ofa2_peer.sh``. Writes
``benchmarks/results/search.json`` (numbers), ``search_front.png`` (our fronts, OFA's published
nets) and ``search_convergence.png`` (HV vs evaluations); prints the tables used in
``benchmarks/results/search.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REF = np.array([100.0, 25.0])  # latency ms, top-1 error %
PEER_ALGORITHMS = ("nsga2", "smsemoa", "spea2")


def run_ours(args) -> dict:
    """One search in this process (called with --one): JSON on the last stdout line."""
    from ofa2_zoo.profiles import load_profile
    from ofa2_zoo.search import search

    prof = load_profile(args.profile, assets=args.assets)
    prof.compiled  # load the tables before timing, as the peer does in its constructor
    from ofa2_zoo.objectives.accuracy import load_accuracy_predictor

    acc = load_accuracy_predictor(prof.spec.supernet, assets=args.assets, space=prof.space)
    t0, c0 = time.perf_counter(), time.process_time()
    front = search(prof, algorithm=args.one, population=args.population, generations=args.generations,
                   seed=args.seed, assets=args.assets, accuracy=acc,
                   reference_point={"latency_ms": 100.0, "top1": 75.0} if args.profile == "note10" else None)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    F = np.column_stack([front.values("latency_ms"), 100 - front.values("top1")])
    out = {"wall_time_s": wall, "cpu_time_s": cpu, "hypervolume": front.hypervolume, "evaluations": front.evaluations,
           "front_F": F.tolist(), "archs": [m.arch.to_dict() for m in front.members],
           "history": [[r["evaluations"], r["hypervolume"]] for r in front.history],
           "engine": front.algorithm.get("engine"), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "reference_F": [front.reference_point["latency_ms"], 100 - front.reference_point["top1"]],
           "profile_sha256": {"yaml": prof.sha256, "table": prof.lut_sha256}}
    print(json.dumps(out))
    return out


def hv(F, ref=REF) -> float:
    from ofa2_zoo.search.metrics import hypervolume

    return hypervolume(np.asarray(F, dtype=float).reshape(-1, 2), np.asarray(ref, dtype=float))


def _last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON in output:\n{text[-2000:]}")


def ours(args, algorithm: str, seed: int) -> dict:
    cmd = [sys.executable, __file__, "--one", algorithm, "--seed", str(seed), "--assets", str(args.assets),
           "--generations", str(args.generations), "--population", str(args.population), "--profile", args.profile]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return _last_json(res.stdout)


def theirs(args, algorithm: str, seed: int) -> dict | None:
    if algorithm not in args.peer_algorithms or seed not in (args.peer_seeds or args.seeds):
        return None  # the authors' package has NSGA-II, SMS-EMOA and SPEA2; --peer-* limit its runs
    cmd = [args.peer_python, str(HERE / "ofa2_peer.py"), "--algorithm", algorithm, "--seed", str(seed),
           "--assets", str(args.assets), "--generations", str(args.peer_generations),
           "--population", str(args.population)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    d = _last_json(res.stdout)
    d["hypervolume"] = hv(d["front_F"])
    d["history"] = [[h["evaluations"], hv(h["F"])] for h in d.pop("history")]
    return d


def hv_at(history, evaluations: int) -> float:
    """HV of the first recorded generation with at least ``evaluations`` evaluations."""
    for n, h in history:
        if n >= evaluations:
            return h
    return history[-1][1]


@contextlib.contextmanager
def scenario(name: str):
    """``idle``: nothing else from this script; ``busy``: one other process burns a core meanwhile."""
    if name == "idle":
        yield
        return
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)  # let it get scheduled
        yield
    finally:
        burner.kill()
        burner.wait()


def thread_environment() -> dict:
    """Thread-related environment variables (none are set by this benchmark)."""
    return {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "MKL_", "OPENBLAS_", "KMP_", "GOMP_"))}


def predictor_throughput(assets, n=100_000, repeats=3) -> float:
    from ofa2_zoo.objectives.accuracy import load_accuracy_predictor

    pred = load_accuracy_predictor("ofa_mbv3_w1.2", assets=assets)
    genes = pred.space.sample_genes(n, 0)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        pred.predict_genes(genes)
        times.append(time.perf_counter() - t0)
    return n / float(np.median(times))


def specialized_comparison(front_archs: list, front_F: np.ndarray, assets) -> tuple[list[dict], object]:
    """OFA's published Note10 nets vs our union front (predicted space)."""
    from ofa2_zoo.front import reference_points
    from ofa2_zoo.search import search

    # a small real front object carries the profile / predictor identity for reference_points
    probe = search("note10", population=4, generations=1, seed=0, assets=assets,
                   reference_point={"latency_ms": 100.0, "top1": 75.0})
    refs = reference_points(probe, assets)
    rows = []
    for r in refs:
        row = {"id": r.net.id, "space": r.net.space, "r": r.net.arch.r, "published_latency_ms": r.net.published_latency_ms,
               "published_top1": r.net.published_top1, "pred_latency_ms": r.latency_ms,
               "pred_latency_ms_high": r.latency_ms_high, "pred_top1": r.top1}
        if r.latency_ms is not None and r.top1 is not None:
            ok = (front_F[:, 0] <= r.latency_ms) & (100 - front_F[:, 1] >= r.top1)
            row["dominating_members"] = int(ok.sum())
            faster = front_F[100 - front_F[:, 1] >= r.top1, 0]
            row["fastest_as_accurate_ms"] = float(faster.min()) if len(faster) else None
            better = 100 - front_F[front_F[:, 0] <= r.latency_ms, 1]
            row["best_top1_within_latency"] = float(better.max()) if len(better) else None
        rows.append(row)
    return rows, refs


def main() -> None:
    ap = argparse.ArgumentParser(description="OFA² reproduction benchmark (ours vs the ofa2 package)")
    ap.add_argument("--assets", type=Path, default=HERE.parents[1] / "shared" / "ofa-assets")
    ap.add_argument("--peer-python", default="/work/ofa2-peer-venv/bin/python")
    ap.add_argument("--algorithms", nargs="+", default=["nsga2", "smsemoa", "spea2"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--population", type=int, default=100)
    ap.add_argument("--generations", type=int, default=1000)
    ap.add_argument("--peer-generations", type=int, default=None)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--scenarios", nargs="+", choices=["idle", "busy"], default=["idle"],
                    help="idle: as the machine is; busy: with one other process burning a core")
    ap.add_argument("--peer-seeds", nargs="+", type=int, default=None, help="seeds the peer runs (default: --seeds)")
    ap.add_argument("--peer-algorithms", nargs="+", choices=PEER_ALGORITHMS, default=PEER_ALGORITHMS,
                    help="algorithms the peer runs (default: all it has)")
    ap.add_argument("--profile", default="note10", help="another profile (id or YAML path): our algorithms only "
                    "(no peer), writes search_<profile>.json and search_<profile>_convergence.png")
    ap.add_argument("--target-hv", type=float, default=750.8,
                    help="report the evaluations each run needs to reach this HV (default: the peer's NSGA-II mean)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--throughput-only", action="store_true",
                    help="only the predictor's throughput on a batch of 100,000 archs, in this fresh process "
                         "(as a user's first call sees it), per scenario")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        run_ours(args)
        return
    if args.throughput_only:
        for name in args.scenarios:
            with scenario(name):
                load = os.getloadavg()[0]
                print(f"[{name}] predictor archs/s (batch 100,000, median of 3): "
                      f"{predictor_throughput(args.assets):,.0f} | load {load:.2f}", flush=True)
        return
    args.peer_generations = args.peer_generations or args.generations
    args.no_peer = args.no_peer or args.profile != "note10"
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    load_before = os.getloadavg()
    all_runs, throughput = [], {}
    for name in args.scenarios:
        with scenario(name):
            for alg in args.algorithms:
                for seed in args.seeds:
                    load = os.getloadavg()
                    o = ours(args, alg, seed)
                    t = None if args.no_peer else theirs(args, alg, seed)
                    all_runs.append({"scenario": name, "algorithm": alg, "seed": seed,
                                     "load_avg": [load, os.getloadavg()], "ours": o, "theirs": t})
                    msg = f"[{name}] {alg} seed {seed}: ours {o['wall_time_s']:.2f} s HV {o['hypervolume']:.3f}"
                    if t:
                        msg += (f" | theirs {t['wall_time_s']:.2f} s HV {t['hypervolume']:.3f} "
                                f"({t['wall_time_s'] / o['wall_time_s']:.1f}x)")
                    cpu = f" | CPU/wall ours {o['cpu_time_s'] / o['wall_time_s']:.2f}" + (
                        f", theirs {t['cpu_time_s'] / t['wall_time_s']:.2f}" if t else "")
                    print(msg + cpu + f" | load {load[0]:.2f}", flush=True)
            throughput[name] = predictor_throughput(args.assets)
    load_after = os.getloadavg()
    runs = [r for r in all_runs if r["scenario"] == args.scenarios[0]]  # fronts do not depend on the load
    if args.profile != "note10":
        _other_profile(args, runs, started, load_before, load_after)
        return
    # best-known front: union of every final front
    allF = np.concatenate([np.asarray(r[s]["front_F"]) for r in runs for s in ("ours", "theirs") if r[s]])
    from ofa2_zoo.search.metrics import non_dominated

    best = allF[non_dominated(allF)]
    hv_best = hv(best)
    summary = {}
    for alg in args.algorithms:
        row = {}
        for side in ("ours", "theirs"):
            rs = [r for r in runs if r["algorithm"] == alg and r[side]]  # the peer may run fewer seeds
            if not rs:
                continue
            row[side] = {
                "hv": [r[side]["hypervolume"] for r in rs], "wall_s": [r[side]["wall_time_s"] for r in rs],
                "share_10k": float(np.mean([hv_at(r[side]["history"], 10_000) for r in rs]) / hv_best),
                "share_25k": float(np.mean([hv_at(r[side]["history"], 25_000) for r in rs]) / hv_best),
            }
        if "theirs" in row:
            row["speedup"] = [r["theirs"]["wall_time_s"] / r["ours"]["wall_time_s"] for r in runs
                              if r["algorithm"] == alg and r["theirs"]]
            row["hv_ratio_of_means"] = float(np.mean(row["ours"]["hv"]) / np.mean(row["theirs"]["hv"]))
        summary[alg] = row
    best_alg = max(args.algorithms, key=lambda a: np.mean(summary[a]["ours"]["hv"]))
    curve_n = sorted({n for r in runs if r["algorithm"] == best_alg for n, _ in r["ours"]["history"]})
    curve = [[n, float(np.mean([hv_at(r["ours"]["history"], n) for r in runs if r["algorithm"] == best_alg]))]
             for n in curve_n]
    # our union front vs OFA's published nets
    ours_F = np.concatenate([np.asarray(r["ours"]["front_F"]) for r in runs])
    union = ours_F[non_dominated(ours_F)]
    spec_rows, refs = specialized_comparison([], union, args.assets)
    result = {
        "command": " ".join(sys.argv), "started": started, "machine": {
            "cpu": _cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
            "load_avg_before": load_before, "load_avg_after": load_after},
        "environment": {"thread_variables": thread_environment(), "scenarios": args.scenarios},
        "settings": {"population": args.population, "generations": args.generations,
                     "peer_generations": args.peer_generations, "seeds": args.seeds, "reference_point": REF.tolist()},
        "runs": [{k: v for k, v in r.items() if k not in ("ours", "theirs")} | {
            s: ({k: v for k, v in r[s].items() if k not in ("front_F", "archs", "history", "X")} if r[s] else None)
            for s in ("ours", "theirs")} for r in all_runs],
        "summary": summary, "wall_by_scenario": wall_by_scenario(all_runs, args),
        "best_known_hv": hv_best, "best_configuration": best_alg,
        "hv_vs_evaluations_best": curve[:: max(1, len(curve) // 50)] + [curve[-1]],
        "predictor_archs_per_s_100k": throughput,
        "peak_rss_mb_max": max(r["ours"]["peak_rss_mb"] for r in all_runs),
        "specialized": spec_rows, "union_front_size": int(len(union)), "union_front_hv": hv(union),
    }
    result["algorithms"] = algorithm_table(runs, args)
    result["best_known_front"] = best_known_front(runs)
    (args.out / "search.json").write_text(json.dumps(result, indent=2) + "\n")
    _plots(args, runs, union, refs, best_alg)
    _print_tables(result)
    _print_algorithm_table(result["algorithms"], args)


def evaluations_to(history, target: float) -> int | None:
    """Evaluations of the first recorded generation whose HV reaches ``target`` (None: never)."""
    return next((n for n, h in history if h >= target), None)


def algorithm_table(runs: list[dict], args) -> dict:
    """Per algorithm, ours and the peer's: HV mean/min/max over the seeds, mean HV after 25,000
    evaluations, evaluations to reach ``--target-hv`` (per seed), mean wall time."""
    table = {}
    for alg in args.algorithms:
        for side in ("ours", "theirs"):
            rs = [r[side] for r in runs if r["algorithm"] == alg and r[side]]
            if not rs:
                continue
            hvs = [r["hypervolume"] for r in rs]
            to_target = [evaluations_to(r["history"], args.target_hv) for r in rs]
            table[f"{alg} ({'ours' if side == 'ours' else 'OFA² package'})"] = {
                "runs": len(rs), "hv_mean": float(np.mean(hvs)), "hv_min": min(hvs), "hv_max": max(hvs),
                "hv_mean_at_25k": float(np.mean([hv_at(r["history"], 25_000) for r in rs])),
                "evaluations_to_target": to_target, "wall_s_mean": float(np.mean([r["wall_time_s"] for r in rs])),
                "wall_s_max": max(r["wall_time_s"] for r in rs)}
    return table


def best_known_front(runs: list[dict]) -> dict:
    """The non-dominated union of every final front of every run (ours and the peer's)."""
    from ofa2_zoo.search.metrics import non_dominated

    F = np.concatenate([np.asarray(r[s]["front_F"]) for r in runs for s in ("ours", "theirs") if r[s]])
    archs = [a for r in runs for s in ("ours", "theirs") if r[s] for a in r[s].get("archs") or [None] * len(r[s]["front_F"])]
    keep = non_dominated(F)
    keep = keep[np.lexsort((F[keep, 1], F[keep, 0]))]
    return {"hypervolume": hv(F[keep], runs[0]["ours"].get("reference_F", REF)),
            "members": [{"latency_ms": float(F[i, 0]), "top1": float(100 - F[i, 1]), "arch": archs[i]} for i in keep]}


def _print_algorithm_table(table: dict, args) -> None:
    print(f"\n| algorithm | runs | mean HV | min HV | max HV | mean HV @25k | evaluations to {args.target_hv:g} "
          f"(max over runs; runs reaching it) | mean wall s | max wall s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, t in table.items():
        reached = [n for n in t["evaluations_to_target"] if n is not None]
        to = f"{max(reached):,} ({len(reached)}/{t['runs']})" if reached else f"never (0/{t['runs']})"
        print(f"| {name} | {t['runs']} | {t['hv_mean']:.3f} | {t['hv_min']:.3f} | {t['hv_max']:.3f} | "
              f"{t['hv_mean_at_25k']:.3f} | {to} | {t['wall_s_mean']:.2f} | {t['wall_s_max']:.2f} |")


def _other_profile(args, runs, started, load_before, load_after) -> None:
    """``--profile`` other than note10: our algorithms side by side, no peer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args.target_hv = max(np.mean([r["ours"]["hypervolume"] for r in runs if r["algorithm"] == a])
                         for a in args.algorithms if a != args.algorithms[0]) if len(args.algorithms) > 1 \
        else args.target_hv  # here: the best mean of the other algorithms
    table = algorithm_table(runs, args)
    result = {"command": " ".join(sys.argv), "started": started, "profile": args.profile,
              "machine": {"cpu": _cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
                          "load_avg_before": load_before, "load_avg_after": load_after},
              "settings": {"population": args.population, "generations": args.generations, "seeds": args.seeds,
                           "reference_point": runs[0]["ours"]["reference_F"], "target_hv": args.target_hv},
              "runs": [{"algorithm": r["algorithm"], "seed": r["seed"], "hypervolume": r["ours"]["hypervolume"],
                        "wall_time_s": r["ours"]["wall_time_s"], "evaluations": r["ours"]["evaluations"]}
                       for r in runs],
              "algorithms": table, "best_known_front": best_known_front(runs)}
    name = Path(args.profile).stem  # a profile id, or the name of its YAML file
    result["profile_sha256"] = runs[0]["ours"].get("profile_sha256")
    (args.out / f"search_{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for alg in args.algorithms:
        rs = [r["ours"] for r in runs if r["algorithm"] == alg]
        ns = [n for n, _ in rs[0]["history"]]
        ax.plot(ns, [np.mean([hv_at(r["history"], n) for r in rs]) for n in ns], lw=1, label=alg)
    ax.set(xlabel="evaluations", ylabel="hypervolume", xscale="log",
           title=f"{Path(args.profile).stem}: HV vs evaluations (mean of {len(args.seeds)} seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / f"search_{name}_convergence.png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    _print_algorithm_table(table, args)
    print(f"\nbest-known front ({name}): HV {result['best_known_front']['hypervolume']:.6g}, "
          f"{len(result['best_known_front']['members'])} members")


def wall_by_scenario(all_runs: list[dict], args) -> list[dict]:
    """Per (algorithm, seed): wall time of each side in each scenario, and busy / idle."""
    rows = []
    for alg in args.algorithms:
        for seed in args.seeds:
            row = {"algorithm": alg, "seed": seed}
            for r in all_runs:
                if r["algorithm"] == alg and r["seed"] == seed:
                    for side in ("ours", "theirs"):
                        if r[side]:
                            row[f"{side}_{r['scenario']}_s"] = r[side]["wall_time_s"]
            for side in ("ours", "theirs"):
                if f"{side}_idle_s" in row and f"{side}_busy_s" in row:
                    row[f"{side}_busy_over_idle"] = row[f"{side}_busy_s"] / row[f"{side}_idle_s"]
            rows.append(row)
    return rows


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _plots(args, runs, union, refs, best_alg) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 4.8))
    ax.step(union[np.argsort(union[:, 0]), 0], 100 - union[np.argsort(union[:, 0]), 1], where="post", color="tab:blue",
            lw=1, label=f"ours: union of final fronts ({len(union)})")
    for r in runs:
        if r["theirs"] and r["algorithm"] == best_alg:
            F = np.asarray(r["theirs"]["front_F"])
            ax.scatter(F[:, 0], 100 - F[:, 1], s=5, color="tab:green", alpha=0.4)
    ax.scatter([], [], s=5, color="tab:green", label=f"OFA² package, {best_alg}, final fronts")
    for ref in refs:
        if ref.latency_ms is not None and ref.top1 is not None:
            hi = ref.latency_ms_high or ref.latency_ms
            ax.plot([ref.latency_ms, hi], [ref.top1, ref.top1], color="tab:orange", lw=1.5)
            ax.scatter([ref.latency_ms], [ref.top1], marker="*", s=110, color="tab:orange", zorder=5)
            ax.annotate(ref.label, (ref.latency_ms, ref.top1), textcoords="offset points", xytext=(4, -10),
                        fontsize=7, color="tab:orange")
    ax.scatter([], [], marker="*", color="tab:orange", label="OFA specialized Note10 nets (predicted)")
    ax.set(xlabel="Note10 latency (ms, lookup table)", ylabel="top-1 (%, OFA predictor)", xlim=(0, 100),
           title="Note10 fronts (w1.2 space)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(args.out / "search_front.png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for alg in args.algorithms:
        for side, style in (("ours", "-"), ("theirs", "--")):
            rs = [r for r in runs if r["algorithm"] == alg and r[side]]
            if not rs:
                continue
            ns = [n for n, _ in rs[0][side]["history"]]
            mean = [np.mean([hv_at(r[side]["history"], n) for r in rs]) for n in ns]
            ax.plot(ns, mean, style, lw=1, label=f"{alg} ({'ours' if side == 'ours' else 'OFA² package'})")
    ax.axhline(args.target_hv, color="grey", lw=0.8, ls=":", label=f"HV {args.target_hv:g}")
    ax.set(xlabel="evaluations", ylabel="hypervolume (ms × %)", xscale="log", title="HV vs evaluations (mean of seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "search_convergence.png", dpi=110, metadata={"Software": None})
    plt.close(fig)


def _print_tables(r: dict) -> None:
    print(f"\nthread variables: {r['environment']['thread_variables'] or 'none'}")
    print("\n| scenario | algorithm | seed | load avg (1 min) | ours HV | ours s | ours CPU/wall | OFA² pkg HV | "
          "OFA² pkg s | OFA² pkg CPU/wall | speed-up |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for run in r["runs"]:
        o, t = run["ours"], run["theirs"]
        line = (f"| {run['scenario']} | {run['algorithm']} | {run['seed']} | {run['load_avg'][0][0]:.2f} | "
                f"{o['hypervolume']:.3f} | {o['wall_time_s']:.2f} | {o['cpu_time_s'] / o['wall_time_s']:.2f} |")
        line += (f" {t['hypervolume']:.3f} | {t['wall_time_s']:.2f} | {t['cpu_time_s'] / t['wall_time_s']:.2f} | "
                 f"{t['wall_time_s'] / o['wall_time_s']:.1f}× |") if t else " – | – | – | – |"
        print(line)
    print("\n| algorithm | mean HV ours | mean HV OFA² pkg | HV ratio | mean speed-up | ours HV share @10k / @25k |")
    print("| --- | --- | --- | --- | --- | --- |")
    for alg, s in r["summary"].items():
        o, t = s["ours"], s.get("theirs")
        print(f"| {alg} | {np.mean(o['hv']):.3f} | {np.mean(t['hv']) if t else float('nan'):.3f} | "
              f"{s.get('hv_ratio_of_means', float('nan')):.4f} | {np.mean(s['speedup']) if t else float('nan'):.1f}× | "
              f"{o['share_10k']:.4f} / {o['share_25k']:.4f} |")
    if any("ours_busy_over_idle" in row for row in r["wall_by_scenario"]):
        print("\n| algorithm | seed | ours idle s | ours busy s | ours busy/idle | OFA² pkg idle s | OFA² pkg busy s | "
              "OFA² pkg busy/idle |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in r["wall_by_scenario"]:
            cells = [f"{row[k]:.2f}" if k in row else "–" for k in
                     ("ours_idle_s", "ours_busy_s", "ours_busy_over_idle", "theirs_idle_s", "theirs_busy_s",
                      "theirs_busy_over_idle")]
            print(f"| {row['algorithm']} | {row['seed']} | " + " | ".join(cells) + " |")
    thr = ", ".join(f"{k} {v:.0f}" for k, v in r["predictor_archs_per_s_100k"].items())
    print(f"\nbest-known front HV {r['best_known_hv']:.3f}; best configuration {r['best_configuration']}; "
          f"predictor archs/s (100k batch): {thr}; peak RSS {r['peak_rss_mb_max']:.0f} MB")
    for s in r["specialized"]:
        print(s)


if __name__ == "__main__":
    main()
