"""CLI start-up benchmark: wall time of ``ofa2`` commands that should start instantly.

Each command runs ``--runs`` times in a fresh process (the installed ``ofa2`` console script,
the default environment), interleaved so all see the same machine load; the table gives the
median and the range, the load average, and which heavy modules (torch, timm, onnx,
onnxruntime, matplotlib) the command imported (``python -X importtime``). Targets: ``ofa2
--help`` <= 0.5 s and ``ofa2 profile list`` <= 1 s median on an idle machine.

    python benchmarks/bench_cli.py --out benchmarks/results/cli.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = [["--help"], ["search", "--help"], ["profile", "--help"], ["profile", "list"], ["zoo", "list"],
            ["front", "--help"]]
HEAVY = ("torch", "timm", "onnx", "onnxruntime", "matplotlib")


def heavy_imports(argv: list[str]) -> list[str]:
    """Top-level heavy packages the command imports (from ``-X importtime``)."""
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "ofa2_zoo", *argv], capture_output=True,
                         text=True)
    names = {line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")}
    return sorted(n for n in names if n in HEAVY)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args()
    exe = shutil.which("ofa2")
    if exe is None:
        raise SystemExit("the ofa2 command is not installed (pip install -e .)")
    load_before = os.getloadavg()
    # baseline: a bare interpreter start, which no command can beat (shows what the load costs)
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                **{f"ofa2 {' '.join(c)}": [exe, *c] for c in COMMANDS}}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            t0 = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, text=True)
            times[name].append(time.perf_counter() - t0)
            if res.returncode != 0:
                raise SystemExit(f"{name} failed: {res.stderr[-2000:]}")
    rows = [{"command": name, "median_s": statistics.median(t), "min_s": min(t), "max_s": max(t),
             "heavy_imports": heavy_imports(commands[name][1:]) if name.startswith("ofa2") else []}
            for name, t in times.items()]
    result = {"command": "python " + " ".join(sys.argv), "runs": args.runs, "python": platform.python_version(),
              "cores": os.cpu_count(), "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
              "rows": rows}
    print(f"{args.runs} runs each, interleaved; load average {load_before[0]:.2f} before, "
          f"{result['load_avg_after'][0]:.2f} after")
    print("\n| command | median s | min s | max s | heavy modules imported |")
    print("| --- | ---: | ---: | ---: | --- |")
    for r in rows:
        print(f"| `{r['command']}` | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['max_s']:.3f} | "
              f"{', '.join(r['heavy_imports']) or 'none'} |")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
