"""How much the zoo adds to start-up, in fresh processes, with an empty zoo, the embedded zoo
only, and the embedded zoo plus a local zoo of 20 recorded packages (20 profiles, 100 member
names, all registered):

- ``import timm`` then ``import ofa2_zoo`` (which registers every zoo name at once, timm being
  imported): the zoo's own cost, separate from timm's;
- ``import ofa2_zoo, timm`` as a whole (registration happens inside timm's import).

Each figure is the median over ``--repeats`` fresh interpreters, timed inside the process
(interpreter start excluded), the set-ups interleaved so drift hits them alike. Target (issue
10): the 20-package local zoo adds at most 0.2 s over the empty zoo.

    python benchmarks/bench_zoo_import.py [--repeats 15] [--out benchmarks/results/zoo_import.json]
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
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Timed inside a fresh interpreter; "empty" points the embedded zoo at an empty folder first.
TIMED = """
import sys, time
t0 = time.perf_counter()
import timm
t1 = time.perf_counter()
import ofa2_zoo, ofa2_zoo.registry
t2 = time.perf_counter()
print(t1 - t0, t2 - t1, len(timm.list_pretrained("ofa2_*")))
"""
TOGETHER = """
import time
t0 = time.perf_counter()
import ofa2_zoo, timm
print(time.perf_counter() - t0)
"""


def copy_without_embedded_zoo(dest: Path) -> Path:
    """This checkout's ofa2_zoo without ``data/zoo``: an installation with an empty zoo (on PYTHONPATH)."""
    def ignore(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if n == "__pycache__" or (Path(folder).name == "data" and n == "zoo")]

    shutil.copytree(ROOT / "ofa2_zoo", dest / "ofa2_zoo", ignore=ignore)
    return dest


def make_local_zoo(work: Path, n: int) -> Path:
    """``n`` copies of the embedded package, each as its own profile, recorded in a user index."""
    from ofa2_zoo.zoo import record_package
    from ofa2_zoo.zoo.index import EMBEDDED_ZOO_DIR

    index = work / "user_index.json"
    for i in range(n):
        dest = work / f"pkg{i:02d}"
        shutil.copytree(EMBEDDED_ZOO_DIR / "digits-cpu", dest)
        manifest = json.loads((dest / "package.json").read_text())
        manifest["profile"] = f"bench-p{i:02d}"
        for m in manifest["members"]:
            m["name"] = m["name"].replace("digits_cpu", f"bench_p{i:02d}")
        (dest / "package.json").write_text(json.dumps(manifest))
        record_package(dest, index)
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--packages", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ofa2-bench-zoo-") as tmp:
        work = Path(tmp)
        empty_install = copy_without_embedded_zoo(work / "no-embedded")
        local = make_local_zoo(work / "local", args.packages) if args.packages else None
        base = {k: v for k, v in os.environ.items() if not k.startswith("OFA2_")}
        setups = {
            "empty zoo": {"OFA2_USER_INDEX": str(work / "none.json"), "PYTHONPATH": str(empty_install)},
            "embedded zoo only": {"OFA2_USER_INDEX": str(work / "none.json")},
            f"embedded + {args.packages} local packages": {"OFA2_USER_INDEX": str(local)},
        }
        rows: dict[str, dict[str, list[float]]] = {k: {"timm": [], "zoo": [], "together": []} for k in setups}
        names: dict[str, int] = {}
        load = [os.getloadavg()]
        for i in range(args.repeats + 1):  # the first round warms the caches (byte code) and is dropped
            for label, env in setups.items():
                run = lambda code: subprocess.run([sys.executable, "-c", code], capture_output=True,  # noqa: E731
                                                  text=True, env={**base, **env}, cwd=work, check=True).stdout.split()
                t_timm, t_zoo, n = run(TIMED)
                if i == 0:
                    continue
                rows[label]["timm"].append(float(t_timm))
                rows[label]["zoo"].append(float(t_zoo))
                rows[label]["together"].append(float(run(TOGETHER)[0]))
                names[label] = int(n)
        load.append(os.getloadavg())
    med = {k: {part: statistics.median(v) for part, v in r.items()} for k, r in rows.items()}
    empty = med["empty zoo"]
    print(f"median of {args.repeats} fresh processes per figure (load avg {load[0][0]:.1f} -> {load[1][0]:.1f}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()})")
    print(f"{'set-up':30s} {'names':>6s} {'import timm':>12s} {'then ofa2_zoo':>14s} {'(vs empty)':>11s} "
          f"{'ofa2_zoo, timm':>15s} {'(vs empty)':>11s}")
    for k, m in med.items():
        print(f"{k:30s} {names[k]:6d} {m['timm']:11.3f}s {m['zoo']:13.3f}s {m['zoo'] - empty['zoo']:+10.3f}s "
              f"{m['together']:14.3f}s {m['together'] - empty['together']:+10.3f}s")
    local = med[f"embedded + {args.packages} local packages"]
    added = local["zoo"] - empty["zoo"]
    print(f"{args.packages}-package local zoo adds {added:.3f} s to the zoo's start-up over the empty zoo "
          f"(target <= 0.2 s): " + ("OK" if added <= 0.2 else "OVER"))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"repeats": args.repeats, "packages": args.packages, "times_s": rows,
                                        "median_s": med, "names": names, "load_avg": load,
                                        "python": platform.python_version()}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
