"""The timm way reproduces the cards: each member of a package (default: the embedded zoo) loaded
by name, scored on the digits validation split through ``resolve_data_config`` +
``create_transform`` of its own pretrained_cfg, next to the top-1 its card states.

Two image formats: PIL ``F`` images (the split's values exactly, what packaging measured on) and
8-bit grey ``L`` images (what most image files hold). Acceptance (issue 10): within 1 point of
the card for every member; the largest member >= 97 %, the fastest >= 75 %.

    python benchmarks/bench_zoo_accuracy.py [PACKAGE_DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("package", nargs="?", type=Path, help="a package folder (default: the embedded zoo)")
    args = parser.parse_args(argv)
    # the package under test is the only local one (the embedded zoo is registered as .embedded anyway)
    os.environ["OFA2_USER_INDEX"] = str(Path(tempfile.mkdtemp(prefix="ofa2-bench-")) / "zoo_index.json")
    import timm
    import torch
    from PIL import Image

    from ofa2_zoo.package import read_manifest
    from ofa2_zoo.registry import register_front
    from ofa2_zoo.training.data import source_images
    from ofa2_zoo.zoo.index import EMBEDDED_ZOO_DIR

    package = args.package or EMBEDDED_ZOO_DIR / "digits-cpu"
    tag = "local" if args.package else "embedded"
    if args.package:
        register_front(package)
    val = source_images("digits", "val")
    labels = torch.tensor(val.labels)
    images = {"F": [val.image(i) for i in range(len(val))]}
    images["L"] = [Image.fromarray(np.round(np.asarray(im) * 255).astype(np.uint8), "L") for im in images["F"]]
    print(f"{package} ({tag}): top-1 % on the {len(val)} digits validation images")
    print(f"{'name':28s} {'input':>7s} {'card':>7s} {'timm F':>7s} {'timm L':>7s} {'max |diff|':>10s}")
    worst = 0.0
    for m in read_manifest(package).members:
        model = timm.create_model(f"{m.name}.{tag}", pretrained=True).eval()
        transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
        got = {}
        with torch.no_grad():
            for kind, ims in images.items():
                logits = model(torch.stack([transform(im) for im in ims]))
                got[kind] = 100 * (logits.argmax(1) == labels).float().mean().item()
        card = m.measured["top1"]
        diff = max(abs(v - card) for v in got.values())
        worst = max(worst, diff)
        r = m.arch["r"][0]
        print(f"{m.name:28s} {f'{r}x{r}':>7s} {card:7.2f} {got['F']:7.2f} {got['L']:7.2f} {diff:10.2f}")
    print(f"largest difference to a card: {worst:.2f} points (target <= 1): " + ("OK" if worst <= 1 else "OVER"))
    return 0 if worst <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
