#!/usr/bin/env python
"""End-to-end check of the publication path, for ``.ci/run``: the steps of
``scripts/publish_fronts.py`` (search + package + publish) on the embedded default profile at a
small budget, against the loopback Hub of ``tests/hub_server.py`` with the real huggingface_hub
and timm clients. Nothing leaves 127.0.0.1; the user's HF cache, token and zoo index are not
touched (everything lives in a temporary folder).

It checks that v1 is published (a commit and a v1 tag on every repo), that every member loads
through ``timm.create_model("ofa2_<profile>_front_<k>", pretrained=True)`` with exactly the
packaged weights, that ``ofa2 pull NAME.v1`` works and that publishing again is "unchanged" (no
new commit). Prints one summary line; exits 1 on any failure.

    python scripts/ci_publish_smoke.py [--profile digits-cpu] [--population 16] [--generations 5] [--members 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "ofa2-ci"
TOKEN = "hf_ciSmokeLoopbackToken0000000000"  # accepted by the loopback Hub only


def _start_hub(home: Path):
    """Start the loopback Hub and point huggingface_hub at it (before it is imported)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from hub_server import HubServer  # the test fixture (imports no huggingface_hub)

    if "huggingface_hub" in sys.modules:
        raise RuntimeError("huggingface_hub was imported before HF_ENDPOINT was set")
    server = HubServer(tokens={TOKEN: "ci"}).start()
    (home / "hub").mkdir(parents=True)
    (home / ".agent_harnesses.json").write_text('{"standardEnvVars": [], "harnesses": {}}')
    os.environ.update({
        "HF_ENDPOINT": server.endpoint, "HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub"), "HF_TOKEN": TOKEN,
        "HF_HUB_DISABLE_XET": "1",  # the loopback Hub speaks the LFS upload protocol, not Xet
        "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_OFFLINE": "0",
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        # a user zoo of its own: a package recorded on this machine (tag `local`) would be the default
        "OFA2_USER_INDEX": str(home / "user_zoo_index.json"),
    })
    os.environ.pop("HUGGING_FACE_HUB_TOKEN", None)
    return server


def smoke(args: argparse.Namespace, work: Path) -> str:
    server = _start_hub(work / "hf")
    try:
        sys.path.insert(0, str(ROOT / "scripts"))
        import publish_fronts

        import timm
        import torch
        from safetensors.torch import load_file

        from ofa2_zoo.package import read_manifest
        from ofa2_zoo.publish import publish, pull
        from ofa2_zoo.registry import ZooIndex, register_index

        index = work / "zoo_index.json"
        summary = publish_fronts.run_profile(args.profile, NAMESPACE, work / "out", index=index,
                                             population=args.population, generations=args.generations, seed=1,
                                             members=args.members, say=lambda line: None)
        if summary["status"] != "published" or summary["version"] != "v1":
            raise AssertionError(f"expected a published v1, got {summary['status']} {summary['version']}")
        pkg = Path(summary["package_dir"])
        manifest = read_manifest(pkg)
        repos = [r["repo_id"] for r in summary["repos"]]
        for repo in repos:
            if "v1" not in server.tags(repo):
                raise AssertionError(f"{repo} has no v1 tag")
        commits = {r: len(server.commits(r)) for r in repos}

        register_index(ZooIndex.load(index))
        for m in manifest.members:
            model = timm.create_model(m.name, pretrained=True)
            expected = load_file(str(pkg / m.folder / "model.safetensors"))
            got = model.state_dict()
            if set(got) != set(expected) or not all(torch.equal(got[k], v) for k, v in expected.items()):
                raise AssertionError(f"{m.name}: weights loaded from the Hub differ from the package")
        pulled = pull(f"{manifest.members[-1].name}.v1", index_path=index)
        if pulled.commit != server.tags(pulled.target.repo_id)["v1"]:
            raise AssertionError("ofa2 pull did not fetch the v1 commit")

        again = publish(pkg, NAMESPACE, index_path=index)
        if again.status != "unchanged" or {r: len(server.commits(r)) for r in repos} != commits:
            raise AssertionError(f"re-publishing an identical front was {again.status}, not unchanged")
        return (f"{args.profile} {summary['version']} published to the loopback Hub: {len(repos)} repos, "
                f"{server.request_count} requests; {len(manifest.members)} members load identical weights through "
                f"timm; pull .v1 ok; re-publish unchanged (search+package {summary['seconds']['pipeline_total']:.0f} "
                f"s, publish {summary['seconds']['publish']:.1f} s)")
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="digits-cpu")
    parser.add_argument("--population", type=int, default=16)
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--members", type=int, default=3)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ofa2-ci-publish-") as tmp:
        try:
            line = smoke(args, Path(tmp))
        except Exception as exc:  # noqa: BLE001 - CI wants one line and a non-zero exit
            traceback.print_exc()
            print(f"ci publish smoke: FAILED ({type(exc).__name__}: {exc})")
            return 1
    print(f"ci publish smoke: OK: {line}; {time.perf_counter() - t0:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
