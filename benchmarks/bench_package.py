"""Packaging benchmark: per-member packaging time and onnxruntime vs torch eager latency.

For every member of a packaged front it reports the wall time of each packaging step
(extract, BN re-calibration, save + reload, measured accuracy, ONNX export, parity, card) and
the latency of the packaged model in onnxruntime (CPU provider, all graph optimisations) and
in torch eager (``inference_mode``), at batch 1 and 32, with the same thread count, timed
side by side in interleaved rounds. Target: onnxruntime at least 3x faster than torch eager
at batch 1.

Default: the embedded default (``digits-cpu`` profile, embedded digits supernet), searched
here first. Or pass ``--front DIR`` (a ``front.json`` folder) with ``--weights``/``--data``.

    python benchmarks/bench_package.py --out benchmarks/results/package.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import timm
import torch

import ofa2_zoo  # noqa: F401
from ofa2_zoo.package import package_front, read_manifest
from ofa2_zoo.package.onnx_export import INPUT_NAME, OUTPUT_NAME, ort_session
from ofa2_zoo.profiles.machine import machine_info
from ofa2_zoo.profiles.measure import time_interleaved

STEPS = ("extract", "calibrate", "save", "evaluate", "onnx_export", "parity", "card")


def latency(member_dir: Path, batch: int, threads: int, repeats: int, rounds: int) -> dict[str, float]:
    """Median ms of the packaged model in onnxruntime and torch eager, timed interleaved."""
    model = timm.create_model(f"local-dir:{member_dir}", pretrained=True).eval()
    c, h, w = model.pretrained_cfg["input_size"]
    x = torch.randn(batch, c, h, w, generator=torch.Generator().manual_seed(0))
    sess = ort_session(member_dir / "model.onnx", threads=threads)
    feed = {INPUT_NAME: x.numpy()}
    prev = torch.get_num_threads()
    torch.set_num_threads(threads)

    def torch_run() -> None:
        with torch.inference_mode():
            model(x)

    try:
        t_ort, t_torch = time_interleaved([lambda: sess.run([OUTPUT_NAME], feed), torch_run], warmup=10,
                                          repeats=repeats, rounds=rounds)
    finally:
        torch.set_num_threads(prev)
    # torch as a user runs it: its default thread count (nothing set by us)
    _, t_default = time_interleaved([lambda: sess.run([OUTPUT_NAME], feed), torch_run], warmup=10,
                                    repeats=repeats, rounds=rounds)
    return {"ort_ms": t_ort.median_ms, "ort_iqr_ms": t_ort.iqr_ms, "torch_ms": t_torch.median_ms,
            "torch_iqr_ms": t_torch.iqr_ms, "speedup": t_torch.median_ms / t_ort.median_ms,
            "torch_default_threads": prev, "torch_default_ms": t_default.median_ms,
            "speedup_vs_default": t_default.median_ms / t_ort.median_ms}


def simplify_effect(member_dir: Path, threads: int, repeats: int, rounds: int) -> dict[str, float] | None:
    """onnxruntime batch-1 latency of model.onnx before/after onnxslim (None if not installed)."""
    try:
        import onnx
        import onnxslim
    except ImportError:
        return None
    raw = (member_dir / "model.onnx").read_bytes()
    slim = onnxslim.slim(onnx.load_from_string(raw)).SerializeToString()
    cfg = json.loads((member_dir / "config.json").read_text())["pretrained_cfg"]
    x = {INPUT_NAME: np.random.default_rng(0).standard_normal((1, *cfg["input_size"])).astype(np.float32)}
    a, b = ort_session(raw, threads), ort_session(slim, threads)
    diff = float(np.abs(a.run(None, x)[0] - b.run(None, x)[0]).max())
    t_raw, t_slim = time_interleaved([lambda: a.run(None, x), lambda: b.run(None, x)], 10, repeats, rounds)
    return {"nodes": len(onnx.load_from_string(raw).graph.node), "nodes_slim": len(onnx.load_from_string(slim).graph.node),
            "ort_ms": t_raw.median_ms, "ort_slim_ms": t_slim.median_ms, "max_abs_diff": diff}


def embedded_front(folder: Path, population: int, generations: int, seed: int) -> Path:
    from ofa2_zoo.search import search
    from ofa2_zoo.supernet import load_supernet

    net = load_supernet("ofa2_digits", weights="embedded")
    front = search("digits-cpu", algorithm="nsga2", population=population, generations=generations, seed=seed,
                   supernet_sha256=net.weights_sha256)
    front.save(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--front", type=Path, help="front folder (default: search the embedded default first)")
    ap.add_argument("--weights", help="supernet weights for --front (default: embedded)")
    ap.add_argument("--data", help="dataset name or folder for --front (default: the space's embedded dataset)")
    ap.add_argument("--members", type=int, default=None, help="members to package (default: the profile's)")
    ap.add_argument("--threads", type=int, default=1, help="threads for both runtimes")
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--population", type=int, default=50)
    ap.add_argument("--generations", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--simplify-check", action="store_true",
                    help="also time each model.onnx after onnxslim (pip install onnxslim) at batch 1")
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args(argv)
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        front_dir = args.front or embedded_front(tmp / "front", args.population, args.generations, args.seed)
        search_s = time.perf_counter() - t0 if args.front is None else None
        t0 = time.perf_counter()
        result = package_front(front_dir, tmp / "package", weights=args.weights, data=args.data,
                               members=args.members)
        package_s = time.perf_counter() - t0
        manifest = read_manifest(result.path)
        rows = []
        for m, timing in zip(manifest.members, result.timings):
            row = {"k": m.k, "name": m.name, "arch": m.arch, "resolution": m.arch["r"][0],
                   "macs_m": m.objectives.get("macs_m"), "top1_measured": m.measured["top1"],
                   "parity_max_abs_diff": m.parity.max_abs_diff, "steps_s": timing.steps, "total_s": timing.total}
            for batch in (1, 32):
                row[f"batch{batch}"] = latency(result.path / m.folder, batch, args.threads, args.repeats, args.rounds)
            if args.simplify_check:
                row["simplify"] = simplify_effect(result.path / m.folder, args.threads, args.repeats, args.rounds)
            rows.append(row)

    speedups = [r["batch1"]["speedup"] for r in rows]
    print(f"packaged {len(rows)} members of {manifest.profile} in {package_s:.1f} s"
          + (f" (search {search_s:.1f} s)" if search_s is not None else ""))
    print("\nper-member packaging time (s)")
    print("k  " + " ".join(f"{s:>11}" for s in STEPS) + "       total")
    for r in rows:
        print(f"{r['k']:<2} " + " ".join(f"{r['steps_s'].get(s, 0.0):11.3f}" for s in STEPS) + f" {r['total_s']:11.3f}")
    print(f"\nlatency (median ms, {args.threads} thread(s); speedup = torch / onnxruntime)")
    print("k  res  MACs(M)  ort b1  torch b1  speedup b1   ort b32  torch b32  speedup b32"
          "  torch b1 (default threads)  torch b32 (default threads)")
    for r in rows:
        b1, b32 = r["batch1"], r["batch32"]
        print(f"{r['k']:<2} {r['resolution']:<4} {r['macs_m']:8.2f} {b1['ort_ms']:7.3f} {b1['torch_ms']:9.3f} "
              f"{b1['speedup']:10.1f}x {b32['ort_ms']:9.3f} {b32['torch_ms']:10.3f} {b32['speedup']:11.1f}x"
              f" {b1['torch_default_ms']:27.3f} {b32['torch_default_ms']:28.3f}")
    if args.simplify_check:
        print("\ngraph simplification (onnxslim) at batch 1, onnxruntime median ms")
        for r in rows:
            sim = r.get("simplify")
            print(f"{r['k']:<2} " + ("onnxslim not installed" if sim is None else
                  f"nodes {sim['nodes']} -> {sim['nodes_slim']}, {sim['ort_ms']:.4f} -> {sim['ort_slim_ms']:.4f} ms "
                  f"({100 * (sim['ort_slim_ms'] / sim['ort_ms'] - 1):+.1f} %), max diff {sim['max_abs_diff']:.1e}"))
    target = min(speedups) >= 3.0
    print(f"\ntarget onnxruntime >= 3x torch eager at batch 1: {'met' if target else 'NOT met'} "
          f"(min {min(speedups):.1f}x, median {float(np.median(speedups)):.1f}x)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({
            "command": "python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])]), "machine": machine_info(),
            "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
            "torch_threads_while_packaging": torch.get_num_threads(),
            "python": platform.python_version(), "threads": args.threads, "profile": manifest.profile,
            "front_version_id": manifest.front_version_id, "package_s": package_s, "search_s": search_s,
            "members": rows, "target_ort_3x_batch1_met": target}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
