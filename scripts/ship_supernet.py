#!/usr/bin/env python
"""Copy a trained supernet into the wheel: ``ofa2_zoo/data/embedded/`` (the names ``ofa2_zoo.catalog`` lists).

    ofa2 train-supernet fashion-mnist --out DIR
    python scripts/ship_supernet.py DIR [--dtype float16]

Writes the catalog's weights file (by default with its floating-point tensors rounded to
float16: half the size in the wheel; loading casts them back to float32) and the training
report, to which a ``shipped`` record is added: the dtype and the sha256 of both the trained file
and the shipped one. Fit the predictor on the shipped file afterwards (``ofa2 fit-predictor``),
so that it scores the weights users get.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="output folder of ofa2 train-supernet")
    parser.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    args = parser.parse_args(argv)
    import torch

    from ofa2_zoo._io import write_json_atomic
    from ofa2_zoo.assets import sha256_file
    from ofa2_zoo.catalog import embedded
    from ofa2_zoo.supernet import load_supernet
    from ofa2_zoo.supernet.checkpoint import read_supernet_file, save_supernet

    report = json.loads((args.run / "training_report.json").read_text())
    space = report["config"]["space"]
    space_name = space if isinstance(space, str) else space["name"]
    entry = embedded(space_name)
    trained = args.run / f"{space_name}.safetensors"
    net = load_supernet(space_name, weights=trained)
    _, _, meta = read_supernet_file(trained)
    extra = {k: v for k, v in meta.items() if k not in ("format", "space", "num_classes")}
    save_supernet(net, entry.weights_path, extra, dtype=torch.float16 if args.dtype == "float16" else None)
    report["shipped"] = {"dtype": args.dtype, "trained_sha256": sha256_file(trained),
                         "shipped_sha256": sha256_file(entry.weights_path)}
    write_json_atomic(entry.report_path, report)
    print(f"wrote {entry.weights_path} ({entry.weights_path.stat().st_size / 1e6:.2f} MB, {args.dtype}) and "
          f"{entry.report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
