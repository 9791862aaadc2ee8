"""Flakiness check (issue 22): the README's test command, run several times in a row with one CPU
core kept busy by another process.

A test whose outcome depends on timing or machine load shows up here as a failure in some runs
and not in others. Each run is the README's command, ``python -m pytest -q -n auto``, in this checkout and
the default environment; a second process (``python -c "while True: pass"``, normal priority)
keeps one core busy for the whole time. Writes the summary line, the failing tests, the wall time
and the load average of every run to ``--out`` (JSON) and the tail of each run's output to
``--log``.

    python benchmarks/busy_suite.py --runs 5 --out benchmarks/results/busy_suite.json \
        --log benchmarks/results/busy_suite.log
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "pytest", "-q", "-n", "auto"]  # the README's test command
_SUMMARY = re.compile(r"^=*\s*(.*\b(?:passed|failed|error)\b.*\bin [0-9.]+s.*?)\s*=*$")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def one_run(i: int) -> tuple[dict, str]:
    """Run the suite once; the record and the tail of its output."""
    load_before = os.getloadavg()
    start, t0 = _now(), time.perf_counter()
    proc = subprocess.run(COMMAND, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    out = proc.stdout + proc.stderr
    summary = next((m.group(1) for line in reversed(out.splitlines()) if (m := _SUMMARY.match(line.strip()))), None)
    failed = sorted({line.split(" ", 2)[1] for line in out.splitlines() if line.startswith(("FAILED ", "ERROR "))})
    record = {"run": i, "started": start, "wall_s": round(wall, 1), "exit_code": proc.returncode,
              "summary": summary, "failed": failed, "load_before": [round(x, 2) for x in load_before],
              "load_after": [round(x, 2) for x in os.getloadavg()]}
    return record, out[-6000:]


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="consecutive runs of the suite (default 5)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "busy_suite.json")
    ap.add_argument("--log", type=Path, default=ROOT / "benchmarks" / "results" / "busy_suite.log")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    runs, log = [], []
    result = {"command": " ".join(["python", *COMMAND[1:]]), "busy": "one core: python -c 'while True: pass'",
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
              "runs": runs}
    try:
        for i in range(1, args.runs + 1):
            record, tail = one_run(i)
            runs.append(record)
            log.append(f"===== run {i}: {record['summary']} (exit {record['exit_code']}, {record['wall_s']} s, "
                       f"load {record['load_before']} -> {record['load_after']})\n{tail}\n")
            print(f"run {i}/{args.runs}: {record['summary']} exit={record['exit_code']} {record['wall_s']} s "
                  f"failed={record['failed']}", flush=True)
            result["failures"] = sum(r["exit_code"] != 0 for r in runs)
            _write(args.out, json.dumps(result, indent=2) + "\n")
            _write(args.log, "".join(log))
    finally:
        busy.kill()
        busy.wait()
    return 0 if result["failures"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
