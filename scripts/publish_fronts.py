#!/usr/bin/env python
"""Search, package and publish hardware profiles' fronts: the steps of the CI workflow
``.github/workflows/publish-fronts.yml``, runnable by hand.

    # one profile: search + package into OUT, publish OUT/package, record it in INDEX
    python scripts/publish_fronts.py run --profile digits-cpu --namespace my-org --out fronts/digits-cpu \
        --index zoo-index/digits-cpu.json [--population 100 --generations 200] [--dry-run]

    # merge the per-profile index files of a CI run into the shipped zoo index
    python scripts/publish_fronts.py merge-index --into ofa2_zoo/data/zoo_index.json zoo-index/*.json

The Hub endpoint is ``HF_ENDPOINT`` (default: the real Hub) and the token ``HF_TOKEN`` or the
saved Hugging Face login. ``run`` writes ``OUT/publish.json`` (what was published) and exits
non-zero when any step fails; an unchanged front publishes nothing and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_profile(profile: str, namespace: str, out: str | os.PathLike, *, index: str | os.PathLike | None = None,
                population: int = 100, generations: int = 200, seed: int = 1, members: int | None = None,
                algorithm: str = "nsga2", weights: str | None = None, data: str | None = None,
                assets: str | os.PathLike | None = None, dry_run: bool = False,
                say=print) -> dict[str, Any]:
    """Search + package + publish one profile; returns a JSON-able summary (also written to OUT/publish.json)."""
    from ofa2_zoo.publish import publish
    from ofa2_zoo.run import run_pipeline

    out = Path(out)
    t0 = time.perf_counter()
    say(f"[{profile}] search + package (population {population}, {generations} generations, seed {seed})")
    result = run_pipeline(out, profile=profile, algorithm=algorithm, population=population, generations=generations,
                          seed=seed, members=members, weights=weights, data=data, assets=assets,
                          on_stage=lambda s: say(f"[{profile}] {s}"))
    seconds = {**result.seconds, "pipeline_total": time.perf_counter() - t0}
    say(f"[{profile}] publish {result.package_dir} to namespace {namespace}" + (" (dry run)" if dry_run else ""))
    t1 = time.perf_counter()
    published = publish(result.package_dir, namespace, dry_run=dry_run, index_path=index,
                        say=lambda line: say(f"[{profile}] {line}"))
    seconds["publish"] = time.perf_counter() - t1
    summary = {
        "profile": profile, "status": published.status, "version": published.version,
        "previous": published.previous, "front_version_id": published.front_version_id,
        "endpoint": published.endpoint, "index": str(published.index_path) if published.index_path else None,
        "repos": [{"repo_id": r.repo_id, "role": r.role, "commit": r.commit, "committed": r.committed,
                   "tagged": r.tagged, "already_tagged": r.already_tagged, "created": r.create_repo}
                  for r in published.repos],
        "front_dir": str(result.front_dir), "package_dir": str(result.package_dir),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }
    (out / "publish.json").write_text(json.dumps(summary, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return summary


def merge_indexes(into: str | os.PathLike, fragments: list[str | os.PathLike]) -> list[str]:
    """Add to ``into`` every version the fragment index files have and it lacks; returns what was added."""
    from ofa2_zoo.registry import ZooIndex

    into = Path(into)
    base = ZooIndex.load(into) if into.exists() else ZooIndex()
    added = []
    for frag in fragments:
        other = ZooIndex.load(frag)
        for profile in other.fronts:
            have = {v.version: v.front_version_id for v in base.versions(profile)}
            for v in other.versions(profile):
                if v.version in have:
                    if have[v.version] != v.front_version_id:
                        raise SystemExit(f"{frag}: {profile} {v.version} is front {v.front_version_id[:12]}, "
                                         f"{into} says {have[v.version][:12]}: versions are immutable")
                    continue
                base.add_version(profile, v.front_version_id, v.members, version=v.version)
                added.append(f"{profile} {v.version}")
    if added:
        base.save(into)
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="search + package + publish one profile")
    run.add_argument("--profile", required=True)
    run.add_argument("--namespace", required=True, help="Hub user or organization owning the repos")
    run.add_argument("--out", required=True, help="folder for front/, package/ and publish.json")
    run.add_argument("--index", help="zoo index file to record the version in (copied from the shipped one if "
                                     "missing; CI merges these into ofa2_zoo/data/zoo_index.json). Default: the "
                                     "user zoo index, never the installed package's")
    run.add_argument("--population", type=int, default=100)
    run.add_argument("--generations", type=int, default=200)
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--members", type=int, default=None)
    run.add_argument("--algorithm", default="nsga2")
    run.add_argument("--weights", default=None, help="supernet weights: 'embedded', 'official' or a file")
    run.add_argument("--data", default=None, help="dataset name or image folder for packaging (BN re-calibration, "
                                                  "parity, accuracy); official profiles need ImageNet-style images")
    run.add_argument("--assets", default=None, help="folder with the official OFA files")
    run.add_argument("--dry-run", action="store_true")
    merge = sub.add_parser("merge-index", help="merge per-profile index files into one")
    merge.add_argument("--into", required=True)
    merge.add_argument("fragments", nargs="+")
    args = parser.parse_args(argv)

    from ofa2_zoo.errors import Ofa2Error
    from ofa2_zoo.publish import PublishFailed

    try:
        if args.command == "merge-index":
            added = merge_indexes(args.into, args.fragments)
            print(f"zoo index {args.into}: " + (f"added {', '.join(added)}" if added else "nothing new"))
            return 0
        if args.index and not Path(args.index).exists():
            Path(args.index).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / "ofa2_zoo" / "data" / "zoo_index.json", args.index)
        summary = run_profile(args.profile, args.namespace, args.out, index=args.index, population=args.population,
                              generations=args.generations, seed=args.seed, members=args.members,
                              algorithm=args.algorithm, weights=args.weights, data=args.data, assets=args.assets,
                              dry_run=args.dry_run)
    except PublishFailed as exc:  # the Hub failed part-way: say what is and isn't published
        print("\n".join(exc.result.lines()), file=sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Ofa2Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{summary['profile']}: {summary['status']} {summary['version']} "
          f"({len(summary['repos'])} repos; {summary['seconds']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
