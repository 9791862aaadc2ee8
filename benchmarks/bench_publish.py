"""Publish benchmark against the loopback Hub (tests/hub_server.py) with the real huggingface_hub.

Two fronts of the embedded default (``digits-cpu``, searched here with two seeds and packaged)
are published as v1 and v2. It reports

- wall time and request count of: publish v1 into an empty Hub, an unchanged re-publish, a dry
  run of v2, publish v2 (median of ``--repeats`` runs, the Hub restored between runs);
- an exhaustive fault sweep: a fault at **every request index** of the v2 publish, four kinds —
  an outage from that request on (HTTP 503, or connection resets) followed by a re-run, and a
  one-shot lost response (the server applies the request, then resets the connection) or stall —
  with the invariants checked after each point: no v2 tag unless every repo holds v2's files,
  v1 untouched, and after the (re-)run v2 complete with exactly the reference commits;
- 16 concurrent pulls (threads) of one member at v1 into an empty cache.

    python benchmarks/bench_publish.py --out benchmarks/results/publish.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _hub_helpers import NAMESPACE, fast_client_retries, make_server, use_hub  # noqa: E402

KINDS = {
    "outage-503": ({"kind": "status", "status": 503}, True),
    "outage-reset": ({"kind": "reset"}, True),
    "lost-response": ({"kind": "reset_after"}, False),
    "stall": ({"kind": "stall", "delay": 0.1}, False),
}


def _packages(work: Path, population: int, generations: int, members: int) -> tuple[Path, Path]:
    from ofa2_zoo.run import run_pipeline

    out = []
    for seed in (1, 2):
        r = run_pipeline(work / f"seed{seed}", population=population, generations=generations, seed=seed,
                         members=members)
        out.append(r.package_dir)
    return out[0], out[1]


def _timed(fn, repeats: int, before=None) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        if before:
            before()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--population", type=int, default=16)
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="ofa2-bench-publish-"))
    server = make_server()
    with use_hub(server, work / "hf"):
        from huggingface_hub.utils import disable_progress_bars

        from ofa2_zoo.publish import PublishError, RetryPolicy, publish, pull

        disable_progress_bars()
        pkg_a, pkg_b = _packages(work, args.population, args.generations, args.members)
        index = work / "zoo_index.json"
        retry = RetryPolicy(attempts=3, base_delay=0.0)

        def pub(pkg, **kw):
            return publish(pkg, NAMESPACE, index_path=index, retry=retry, **kw)

        def empty():
            server.reset()
            index.unlink(missing_ok=True)

        t_v1, _ = _timed(lambda: pub(pkg_a), args.repeats, empty)
        n_v1 = server.request_count
        v1_state = {"repos": server.snapshot(), "index": index.read_bytes()}

        def at_v1():
            server.restore(v1_state["repos"])
            index.write_bytes(v1_state["index"])

        t_same, _ = _timed(lambda: pub(pkg_a), args.repeats, at_v1)
        n_same = server.request_count
        t_dry, _ = _timed(lambda: pub(pkg_b, dry_run=True), args.repeats, at_v1)
        n_dry = server.request_count
        t_v2, _ = _timed(lambda: pub(pkg_b), args.repeats, at_v1)
        n_v2 = server.request_count
        ref_commits = {r: len(server.commits(r)) for r in server.repos}
        ref_files = {r: server.files(r, "v2") for r in server.repos}
        front = f"{NAMESPACE}/ofa2-digits-cpu-front"

        def complete() -> bool:
            return ({r: len(server.commits(r)) for r in server.repos} == ref_commits
                    and all(server.files(r, "v2") == f for r, f in ref_files.items()))

        def clean_failure(v1_tags) -> bool:
            if "v2" in server.tags(front):
                return False
            tagged = [r for r in server.repos if "v2" in server.tags(r)]
            if tagged and not all(r in server.repos and server.files(r, "main") == f for r, f in ref_files.items()):
                return False
            return all(server.tags(r).get("v1") == t for r, t in v1_tags.items())

        sweep = {}
        t0 = time.perf_counter()
        with fast_client_retries():
            for name, (fault, outage) in KINDS.items():
                ok = failed_runs = 0
                for i in range(n_v2):
                    at_v1()
                    v1_tags = {r: server.tags(r)["v1"] for r in server.repos}
                    server.fail((lambda info, i=i: info.index >= i) if outage else i, times=None if outage else 1,
                                **fault)
                    try:
                        pub(pkg_b)
                        good = complete()
                    except PublishError:
                        failed_runs += 1
                        good = clean_failure(v1_tags)
                        server.clear_faults()
                        good = good and pub(pkg_b).status == "published" and complete()
                    ok += good
                sweep[name] = {"points": n_v2, "invariants_held": ok, "publish_failed_then_rerun": failed_runs}
        t_sweep = time.perf_counter() - t0

        at_v1()
        barrier = threading.Barrier(16)
        fresh = work / "hf-pull"

        def one(_):
            barrier.wait()
            return pull("ofa2_digits_cpu_front_0.v1", index_path=index)

        with use_hub(server, fresh):
            t1 = time.perf_counter()
            with ThreadPoolExecutor(16) as pool:
                pulls = list(pool.map(one, range(16)))
            t_pull = time.perf_counter() - t1
        assert len({p.commit for p in pulls}) == 1

    server.stop()
    results = {
        "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "load_avg_end": os.getloadavg()},
        "settings": vars(args) | {"out": str(args.out) if args.out else None},
        "publish_s": {"v1_empty_hub": t_v1, "unchanged": t_same, "dry_run_v2": t_dry, "v2": t_v2},
        "requests": {"v1_empty_hub": n_v1, "unchanged": n_same, "dry_run_v2": n_dry, "v2": n_v2},
        "fault_sweep": sweep, "fault_sweep_s": t_sweep, "pull_16_threads_s": t_pull,
    }
    print(f"{'step':<22}{'median s':>10}{'requests':>10}")
    for k in results["publish_s"]:
        print(f"{k:<22}{results['publish_s'][k]:>10.3f}{results['requests'][k]:>10d}")
    print(f"fault sweep ({t_sweep:.0f} s): " + "; ".join(
        f"{k}: {v['invariants_held']}/{v['points']} held ({v['publish_failed_then_rerun']} failed + re-run)"
        for k, v in sweep.items()))
    print(f"16 concurrent pulls: {t_pull:.2f} s")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(v["invariants_held"] == v["points"] for v in sweep.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
