#!/usr/bin/env python
"""Run timm's own model tests on the zoo's names: ``tests/test_models.py -k ofa2`` from the sdist
of the installed timm version, with the embedded zoo and a freshly packaged front registered.

timm tests every registered model the same way (forward, backward, TorchScript, features,
default cfgs, pretrained loading); names are collected when the test module is imported, so
pytest loads ``ofa2_zoo`` as a plugin (``-p ofa2_zoo``) and the zoo registers when timm is
imported. Steps:

1. ``pip download --no-binary :all: --no-deps timm==<installed version>`` (or ``--sdist FILE``);
   only its ``tests/`` and ``pyproject.toml`` are unpacked, so the installed timm is tested;
2. ``ofa2 run`` at a small budget records a fresh package in a user zoo index of its own (or
   ``--package DIR`` records an existing one), so its members register with tag ``local``;
3. ``python -m pytest -p ofa2_zoo tests/test_models.py -k ofa2``, offline (``HF_HUB_OFFLINE=1``).

Prints the counts and which kinds of names were tested; exits non-zero when a test failed or
when ``ofa2_subnet``, the embedded or the local names were not tested at all.

    python scripts/timm_conformance.py [--sdist timm-1.0.31.tar.gz] [--package out/package] [--keep DIR]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path


def fetch_sdist(version: str, dest: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "-q",
                    f"timm=={version}", "-d", str(dest)], check=True)
    (sdist,) = dest.glob(f"timm-{version}.tar.gz")
    return sdist


def unpack_tests(sdist: Path, dest: Path) -> Path:
    """``tests/`` and ``pyproject.toml`` (timm's pytest markers) of the sdist, not its ``timm/``."""
    with tarfile.open(sdist) as tar:
        root = tar.getnames()[0].split("/")[0]
        members = [m for m in tar.getmembers()
                   if m.name == f"{root}/pyproject.toml" or m.name.startswith(f"{root}/tests/")]
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 (and 3.8-3.10 security releases)
            tar.extractall(dest, members=members, filter="data")
        else:  # older: only plain files and folders inside dest
            for m in members:
                if not (m.isfile() or m.isdir()) or m.name.startswith("/") or ".." in m.name.split("/"):
                    raise SystemExit(f"refusing {m.name!r} in {sdist.name}")
            tar.extractall(dest, members=members)
    return dest / root


def fresh_package(work: Path, env: dict[str, str]) -> None:
    """``ofa2 run`` at a small budget; it records its package in ``env``'s user zoo index."""
    subprocess.run([sys.executable, "-m", "ofa2_zoo", "run", "--out", str(work / "run"), "--population", "16",
                    "--generations", "5", "--members", "3"], check=True, env=env, stdout=subprocess.DEVNULL)


def kind(test_name: str) -> str:
    """Which zoo source a test's model name comes from (``test_x[ofa2_front_0.local-1]``)."""
    param = test_name.split("[", 1)[-1]
    if "ofa2_subnet" in param:
        return "ofa2_subnet"
    for tag in ("local", "embedded"):
        if f".{tag}" in param:
            return tag
    return "default version"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sdist", type=Path, help="timm sdist to take the tests from (default: download it)")
    parser.add_argument("--package", type=Path, help="package to register as the local one (default: ofa2 run)")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one)")
    args = parser.parse_args(argv)
    version = importlib.metadata.version("timm")
    with tempfile.TemporaryDirectory(prefix="ofa2-timm-tests-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OFA2_")}
        env.update(OFA2_USER_INDEX=str(work / "user_zoo_index.json"), HF_HUB_OFFLINE="1")
        t0 = time.perf_counter()
        sdist = args.sdist or fetch_sdist(version, work)
        tests = unpack_tests(sdist, work / "sdist")
        if args.package:
            subprocess.run([sys.executable, "-m", "ofa2_zoo", "zoo", "add", str(args.package)], check=True, env=env)
        else:
            fresh_package(work, env)
        report = work / "junit.xml"
        proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "ofa2_zoo", "tests/test_models.py", "-k", "ofa2",
                               "-q", "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnknownMarkWarning",
                               "-rfE", f"--junitxml={report}"], cwd=tests, env=env)
        cases = ET.parse(report).getroot().iter("testcase") if report.is_file() else []
        outcome: Counter[str] = Counter()
        kinds: Counter[str] = Counter()
        for case in cases:
            result = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed")
            outcome[result] += 1
            kinds[kind(case.get("name", ""))] += 1
        print(f"timm {version} tests/test_models.py -k ofa2: " + ", ".join(f"{n} {k}" for k, n in outcome.items())
              + f" ({', '.join(f'{n} on {k}' for k, n in sorted(kinds.items()))}; {time.perf_counter() - t0:.0f} s)")
        missing = [k for k in ("ofa2_subnet", "embedded", "local") if not kinds[k]]
        if missing:
            print(f"timm conformance: FAILED: no test ran on {', '.join(missing)} names")
            return 1
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
