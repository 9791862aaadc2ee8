#!/usr/bin/env python
"""Build the embedded zoo: the packaged fronts shipped in the wheel.

Runs exactly what ``ofa2 run --profile PROFILE`` runs with its defaults (search the profile on its
embedded supernet, package its members) and copies the package into
``ofa2_zoo/data/zoo/<profile>/`` without the members' ONNX files and front plots, so the wheel
stays small (about 1.6 MB per front). ``package.json`` then lists only the files that are there,
and each member card says what was left out. ``import ofa2_zoo`` registers these members with the
tag ``embedded``; ``ofa2_front_<k>`` names those of the zoo's default profile (``fmnist-cpu``), so
``timm.create_model("ofa2_front_<k>", pretrained=True)`` works offline right after install.

    python scripts/build_embedded_zoo.py --profile fmnist-cpu [--keep DIR]
    python scripts/build_embedded_zoo.py --profile digits-cpu

Re-run it when the embedded supernet, the profile's lookup table or the packaging changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Left out of each member folder to keep the wheel small (<= 5 MB of data in all): the ONNX files
# (~1 MB for the five digits members) and the per-member front plots (~38 kB each; the card shows
# the front-level plot instead). `ofa2 run` writes them.
LEFT_OUT = ("model.onnx", "front.png")
CARD_NOTE = """
## This copy

This copy of the package ships inside the ofa2-zoo wheel (the `{tag}` version of
`{name}`) and leaves out {left_out} to keep the wheel small. `ofa2 run` writes the whole
package, ONNX included, with the same search and packaging settings.
"""


def _left_out(folder: str, names: list[str]) -> set[str]:
    """What copytree leaves out: LEFT_OUT inside member folders only (the front folder keeps its plot)."""
    return set(LEFT_OUT) & set(names) if Path(folder).parent.name == "members" else set()


def build(profile: str, dest_root: Path, work: Path) -> Path:
    from ofa2_zoo.run import run_pipeline
    from ofa2_zoo.zoo.entries import EMBEDDED_TAG

    result = run_pipeline(work, profile=profile, on_stage=lambda s: print(f"> {s}", flush=True))
    package = result.package_dir
    dest = dest_root / profile
    tmp = dest_root / f".{profile}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(package, tmp, ignore=_left_out)
    manifest = json.loads((tmp / "package.json").read_text())
    for m in manifest["members"]:
        card = tmp / m["folder"] / "README.md"
        text = card.read_text().replace("](front.png)", "](../../front/front.png)")
        card.write_text(text.rstrip("\n") + "\n" + CARD_NOTE.format(
            tag=EMBEDDED_TAG, name=m["name"], left_out=", ".join(f"`{f}`" for f in LEFT_OUT)))
        m["files"] = {f: hashlib.sha256((tmp / m["folder"] / f).read_bytes()).hexdigest()
                      for f in m["files"] if f not in LEFT_OUT}
        # a runtime whose file is left out is not in this copy (its record stays in config.json)
        m["runtimes"] = {n: r for n, r in m.get("runtimes", {}).items() if not set(r["files"]) & set(LEFT_OUT)}
    text = json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n"
    (tmp / "package.json").write_text(text)
    (tmp / manifest["front_folder"] / "package.json").write_text(text)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="digits-cpu")
    parser.add_argument("--keep", type=Path, help="also keep the whole `ofa2 run` output (front + package) here")
    args = parser.parse_args(argv)
    dest_root = ROOT / "ofa2_zoo" / "data" / "zoo"
    dest_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ofa2-embedded-zoo-") as tmp:
        # shipped fronts use the shipped table's calibration, never this machine's own
        # (`ofa2 profile calibrate` stores those under $OFA2_MACHINE_DIR; docs/profiles.md)
        os.environ["OFA2_MACHINE_DIR"] = str(Path(tmp) / "machine")
        work = args.keep or Path(tmp)
        dest = build(args.profile, dest_root, work)
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    print(f"embedded zoo: {dest} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
