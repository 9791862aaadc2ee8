"""CLI benchmark: wall time of ``ofa2`` commands, cold, as users run them.

Start-up (always): each command runs ``--runs`` times in a fresh process (the installed ``ofa2``
console script, the default environment), interleaved so all see the same machine load; the
table gives the median and the range, the load average, and which heavy modules (torch, timm,
onnx, onnxruntime, matplotlib) the command imported (``python -X importtime``). Targets:
``ofa2 --help`` <= 0.5 s and ``ofa2 profile list`` <= 1 s median on an idle machine.

Workloads (``--workloads``, issue 24), each a fresh process in a fresh output folder, run
``--workload-runs`` times interleaved: ``ofa2 search --profile note10`` at the default budget
(10,000 evaluations; target <= 1.0 s median) and at 100,000 (``--generations 1000``; <= 2.5 s),
both also with ``--no-plot`` (what the plot costs), and ``ofa2 run`` (digits; <= 15 s). The
searches' heavy imports are listed too (target: no torch). ``--tests`` adds the README's test
command (``python -m pytest -q -n auto`` in the checkout, run once; <= 5 min on an idle 2-core machine).
``--peer-python`` adds the OFA² comparison, side by side and each one command: the authors'
package (``benchmarks/ofa2_peer.py`` in its environment, ``setup_ofa2_peer.sh``) and ``ofa2
search --algorithm nsga2`` with the same population and generations (target: ours >= 15x faster).
Before timing, the package's modules are byte-compiled (``compileall``), as ``pip install`` does
for a wheel and as Python does by itself on a user's first run: an editable checkout on a
machine with ``PYTHONDONTWRITEBYTECODE=1`` (this development VM sets it) would otherwise
recompile every module on every command, which no user's install does.
The note10 searches read OFA's files from ``--assets`` (default ``../shared/ofa-assets``), as a
user with them on disk passes them. The user's cache is used as it is (a first search converts OFA's predictor once; see
docs/search.md), so run any command once beforehand when measuring steady state.

    python benchmarks/bench_cli.py --out benchmarks/results/cli.json
    python benchmarks/bench_cli.py --workloads --tests --out benchmarks/results/cli_workloads.json
    python benchmarks/bench_cli.py --workloads --dry-run     # print the commands, run nothing
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

COMMANDS = [["--help"], ["search", "--help"], ["profile", "--help"], ["profile", "list"], ["zoo", "list"],
            ["front", "--help"]]
HEAVY = ("torch", "timm", "onnx", "onnxruntime", "matplotlib")


def heavy_imports(argv: list[str]) -> list[str]:
    """Top-level heavy packages the command imports (from ``-X importtime``)."""
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "ofa2_zoo", *argv], capture_output=True,
                         text=True)
    names = {line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")}
    return sorted(n for n in names if n in HEAVY)


def workloads(exe: str, args: argparse.Namespace) -> dict[str, list[str]]:
    """The cold workloads: name -> argv (``{out}`` is replaced by a fresh folder per run)."""
    # note10 reads OFA's predictor and tables: from --assets (this machine cannot download them)
    search = [exe, "search", "--profile", "note10", "--quiet", "--out", "{out}", "--assets", str(args.assets)]
    cmds = {"ofa2 search --profile note10 (10k evaluations)": search,
            "ofa2 search --profile note10 --no-plot (10k)": [*search, "--no-plot"],
            "ofa2 search --profile note10 --generations 1000 (100k evaluations)": [*search, "--generations", "1000"],
            "ofa2 search --profile note10 --generations 1000 --no-plot (100k)": [*search, "--generations", "1000",
                                                                                  "--no-plot"],
            "ofa2 run (digits)": [exe, "run", "--quiet", "--out", "{out}"]}
    if args.peer_python:
        g, assets = str(args.peer_generations), str(args.assets)
        cmds[f"OFA2 peer: authors' package, nsga2, {g} generations"] = [
            args.peer_python, str(HERE / "ofa2_peer.py"), "--algorithm", "nsga2", "--seed", "1", "--assets", assets,
            "--generations", g]
        cmds[f"OFA2 peer: ofa2 search --algorithm nsga2, {g} generations"] = [
            *search, "--algorithm", "nsga2", "--generations", g, "--no-plot"]
    return cmds


def run_timed(cmd: list[str], cwd: Path | None = None) -> float:
    """Wall seconds of one run of ``cmd`` in a fresh output folder; a failure stops the benchmark."""
    with tempfile.TemporaryDirectory(prefix="ofa2-bench-cli-") as tmp:
        argv = [a.replace("{out}", str(Path(tmp) / "out")) for a in cmd]
        # `ofa2 run` records its package in the user zoo: a zoo index of its own inside the temp folder,
        # deleted with the package, so the benchmark leaves no record of a vanished folder behind
        env = {**os.environ, "OFA2_USER_INDEX": str(Path(tmp) / "user_zoo_index.json")}
        t0 = time.perf_counter()
        res = subprocess.run(argv, capture_output=True, text=True, cwd=cwd or tmp, env=env)
        elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}): {(res.stderr or res.stdout)[-2000:]}")
    return elapsed


def heavy_imports_of(cmd: list[str]) -> list[str]:
    """Heavy packages an ``ofa2`` command imports (run once more with ``-X importtime``)."""
    with tempfile.TemporaryDirectory(prefix="ofa2-bench-cli-") as tmp:
        return heavy_imports([a.replace("{out}", str(Path(tmp) / "out")) for a in cmd[1:]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="runs of each start-up command")
    ap.add_argument("--workloads", action="store_true", help="also time the searches and `ofa2 run`, cold")
    ap.add_argument("--workload-runs", type=int, default=5, help="runs of each workload")
    ap.add_argument("--tests", action="store_true", help="also time the README's test command once (minutes)")
    ap.add_argument("--peer-python", help="python of the OFA2 peer environment: adds the side-by-side run")
    ap.add_argument("--peer-generations", type=int, default=1000, help="generations of the side-by-side run "
                                                                       "(OFA2: 1000, population 100)")
    ap.add_argument("--assets", type=Path, default=Path(os.environ.get("OFA2_ASSETS", ROOT.parent / "shared" /
                                                                       "ofa-assets")),
                    help="official OFA files for the side-by-side run")
    ap.add_argument("--dry-run", action="store_true", help="print the commands and exit")
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args()
    exe = shutil.which("ofa2")
    if exe is None:
        raise SystemExit("the ofa2 command is not installed (pip install -e .)")
    compileall.compile_dir(str(ROOT / "ofa2_zoo"), quiet=1)  # as an installed wheel has it (module docstring)
    load_before = os.getloadavg()
    # baseline: a bare interpreter start, which no command can beat (shows what the load costs)
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                **{f"ofa2 {' '.join(c)}": [exe, *c] for c in COMMANDS}}
    heavy = workloads(exe, args) if args.workloads else {}
    tests = {"README test command: python -m pytest -q -n auto": [sys.executable, "-m", "pytest", "-q", "-n", "auto"]} if args.tests else {}
    if args.dry_run:
        for runs, group in ((args.runs, commands), (args.workload_runs, heavy), (1, tests)):
            for name, cmd in group.items():
                print(f"{runs} x {name}: {' '.join(cmd)}")
        return
    times: dict[str, list[float]] = {name: [] for name in {**commands, **heavy, **tests}}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            times[name].append(run_timed(cmd))
    for _ in range(args.workload_runs if heavy else 0):
        for name, cmd in heavy.items():
            times[name].append(run_timed(cmd))
    for name, cmd in tests.items():
        times[name].append(run_timed(cmd, cwd=ROOT))
    rows = []
    for name, t in times.items():
        cmd = {**commands, **heavy, **tests}[name]
        imports = heavy_imports_of(cmd) if cmd[0] == exe and (name in commands or "search" in name) else None
        rows.append({"command": name, "argv": cmd, "runs": len(t), "median_s": statistics.median(t), "min_s": min(t),
                     "max_s": max(t), "heavy_imports": imports})
    result = {"command": "python " + " ".join(sys.argv), "runs": args.runs, "workload_runs": args.workload_runs,
              "python": platform.python_version(), "cores": os.cpu_count(), "load_avg_before": load_before,
              "load_avg_after": os.getloadavg(), "rows": rows}
    print(f"interleaved runs; load average {load_before[0]:.2f} before, {result['load_avg_after'][0]:.2f} after")
    print("\n| command | runs | median s | min s | max s | heavy modules imported |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        imports = "not checked" if r["heavy_imports"] is None else ", ".join(r["heavy_imports"]) or "none"
        print(f"| `{r['command']}` | {r['runs']} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['max_s']:.3f} | "
              f"{imports} |")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
