"""The timm way reproduces the cards, and the front is a real trade-off.

Each member of a package (default: the embedded zoo of the default profile) is loaded by name
and scored on the split its card was measured on (``top1_split`` in ``package.json``: the
Fashion-MNIST test split, the digits validation split) through ``resolve_data_config`` +
``create_transform`` of its own pretrained_cfg, next to the top-1 its card states. Images are
8-bit grey PIL ``L`` images (what image files hold; Fashion-MNIST's own format); for the digits
also PIL ``F`` images (the split's values exactly).

Then every member's ONNX export runs in onnxruntime (batch 1, one thread), all members timed
side by side in interleaved rounds, and the table gives each member's latency relative to the
most accurate one.

    python benchmarks/bench_zoo_accuracy.py [PACKAGE_DIR] [--profile fmnist-cpu] [--tolerance 0.3]
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
    parser.add_argument("--profile", default=None, help="embedded zoo of this profile (default: the zoo's default)")
    parser.add_argument("--tolerance", type=float, default=0.3, help="largest allowed |timm - card| (points)")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved latency rounds")
    args = parser.parse_args(argv)
    # the package under test is the only local one (the embedded zoo is registered as .embedded anyway)
    os.environ["OFA2_USER_INDEX"] = str(Path(tempfile.mkdtemp(prefix="ofa2-bench-")) / "zoo_index.json")
    import timm
    import torch
    from PIL import Image

    from ofa2_zoo.package import read_manifest
    from ofa2_zoo.package.onnx_export import export_onnx_bytes, ort_session
    from ofa2_zoo.profiles.measure import time_interleaved
    from ofa2_zoo.registry import register_front
    from ofa2_zoo.training.data import source_images
    from ofa2_zoo.zoo.index import EMBEDDED_ZOO_DIR, read_or_warn, shipped_index_path

    profile = args.profile or read_or_warn(shipped_index_path(), "reinstall ofa2-zoo").default_profile
    package = args.package or EMBEDDED_ZOO_DIR / profile
    tag = "local" if args.package else "embedded"
    if args.package:
        register_front(package)
    members = read_manifest(package).members
    dataset, split = members[0].measured["top1_dataset"], members[0].measured["top1_split"]
    src = source_images(dataset, split)
    labels = torch.tensor(src.labels)
    first = src.image(0)
    images = {first.mode: [src.image(i) for i in range(len(src))]}
    if first.mode == "F":  # digits: also as 8-bit files hold them
        images["L"] = [Image.fromarray(np.round(np.asarray(im) * 255).astype(np.uint8), "L") for im in images["F"]]
    kinds = list(images)
    print(f"{package} ({tag}): top-1 % on the {len(src)} images of the {dataset} {split} split, and onnxruntime "
          f"latency (batch 1, 1 thread, {args.rounds} interleaved rounds, median)")
    rows, sessions, worst = [], [], 0.0
    for m in members:
        model = timm.create_model(f"{m.name}.{tag}", pretrained=True).eval()
        transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
        got = {}
        with torch.no_grad():
            for kind, ims in images.items():
                logits = torch.cat([model(torch.stack([transform(im) for im in ims[s:s + 1000]]))
                                    for s in range(0, len(ims), 1000)])
                got[kind] = 100 * (logits.argmax(1) == labels).float().mean().item()
        card = m.measured["top1"]
        diff = max(abs(v - card) for v in got.values())
        worst = max(worst, diff)
        r = m.arch["r"][0]
        x = np.zeros((1, model.pretrained_cfg["input_size"][0], r, r), dtype=np.float32)
        session = ort_session(export_onnx_bytes(model, x.shape))
        name = session.get_inputs()[0].name
        sessions.append(lambda s=session, n=name, x=x: s.run(None, {n: x}))
        rows.append((m.name, r, card, got, diff))
    timings = time_interleaved(sessions, warmup=50, repeats=200 * args.rounds, rounds=args.rounds, min_seconds=4)
    lat = [t.median_ms for t in timings]
    best = int(np.argmax([row[2] for row in rows]))
    header = f"{'name':30s} {'input':>7s} {'card':>7s} " + " ".join(f"{'timm ' + k:>7s}" for k in kinds)
    print(header + f" {'|diff|':>7s} {'latency ms':>10s} {'vs best':>8s}")
    for (name, r, card, got, diff), ms in zip(rows, lat):
        print(f"{name:30s} {f'{r}x{r}':>7s} {card:7.2f} " + " ".join(f"{got[k]:7.2f}" for k in kinds)
              + f" {diff:7.2f} {ms:10.4f} {lat[best] / ms:7.2f}x")
    fastest = int(np.argmin(lat))
    print(f"most accurate: {rows[best][0]} {rows[best][2]:.2f} %; fastest: {rows[fastest][0]} {rows[fastest][2]:.2f} %, "
          f"{lat[best] / lat[fastest]:.2f}x faster")
    print(f"largest difference to a card: {worst:.2f} points (target <= {args.tolerance}): "
          + ("OK" if worst <= args.tolerance else "OVER"))
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
