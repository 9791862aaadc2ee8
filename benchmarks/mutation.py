"""Mutation testing of the core modules with mutmut, one module at a time against its own tests.

    nice -n 10 python benchmarks/mutation.py space              # mutate ofa2_zoo/space.py, run its tests
    nice -n 10 python benchmarks/mutation.py --all               # every module, one after the other
    python benchmarks/mutation.py space --report                 # score and survivors (with diffs) of the last run
    python benchmarks/mutation.py --list                         # the modules and the tests mapped to each

Why a driver: mutmut reads one configuration per folder, and a mutant is checked by every
selected test that calls the mutated function. Selecting all tests for every module would run
the packaging and publishing tests for each mutant of ``space.py``; mapping each module to the
tests written for it keeps a module's run within minutes to an hour on two cores. The map and
mutmut's shared settings live in ``pyproject.toml`` (``[tool.mutmut]``, ``[tool.ofa2-mutation]``);
each module runs in its own folder ``.mutation/<module>/`` (git-ignored) holding links to the
sources and tests and a ``setup.cfg`` with that module's ``[mutmut]`` section, so each keeps its
own ``mutants/`` cache: a re-run re-checks only functions that changed since.

The score is ``killed / (all mutants - skipped)``: a timeout counts as killed (the mutant made
the tests hang), a mutant no selected test reaches counts as surviving. Equivalent mutants are
listed one by one in ``benchmarks/mutation.md``, never left out of the count here.

A module may name ``functions`` in its map entry: then only the mutants of those functions are
run and counted (``package/package.py``'s config.json writing, without the whole packaging run).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
KILLED = {"killed", "timeout", "caught by type check"}


def load_config() -> tuple[dict, dict[str, dict]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data["tool"]["mutmut"], data["tool"]["ofa2-mutation"]["modules"]


def _cfg_value(value) -> str:
    if isinstance(value, list):
        return "".join(f"\n    {v}" for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def prepare(name: str, module: dict, shared: dict) -> Path:
    """``.mutation/<name>/`` with links to the checkout and the module's ``setup.cfg``."""
    folder = WORK / name
    folder.mkdir(parents=True, exist_ok=True)
    links = {"ofa2_zoo": ROOT / "ofa2_zoo", "tests": ROOT / "tests", "hardware_profiles": ROOT / "hardware_profiles",
             "shared": ROOT.parent / "shared",
             ".github": ROOT / ".github", "scripts": ROOT / "scripts"}
    for link, target in links.items():
        path = folder / link
        if target.exists() and not path.is_symlink():
            path.symlink_to(target)
    settings = {**shared, "only_mutate": [module["path"]], "pytest_add_cli_args_test_selection": module["tests"]}
    pytest_ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    lines = ["# written by benchmarks/mutation.py from pyproject.toml; do not edit", "[mutmut]"]
    lines += [f"{k} = {_cfg_value(v)}" for k, v in settings.items()]
    lines += ["", "[tool:pytest]"]
    lines += [f"{k} = {_cfg_value(v)}" for k, v in pytest_ini.items() if k != "testpaths"]
    (folder / "setup.cfg").write_text("\n".join(lines) + "\n")
    return folder


def results(folder: Path) -> dict[str, str]:
    """Mutant name -> status, from ``mutmut results --all true``."""
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=folder,
                         capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"^\s+(\S+): (.+)$", out, flags=re.M))


def patterns(module: dict) -> list[str]:
    """mutmut name patterns of the mutants of ``module["functions"]`` (none: every mutant); a
    method is named ``Class.method``."""
    dotted = module["path"].removesuffix(".py").replace("/", ".")
    return [f"{dotted}." + (f"x\u01c1{fn.replace('.', chr(0x1c1))}" if "." in fn else f"x_{fn}") + "__mutmut_*"
            for fn in module.get("functions", [])]


def report(name: str, folder: Path, diffs: bool = True, only: list[str] | None = None) -> dict:
    status = results(folder)
    if only:
        status = {k: v for k, v in status.items() if any(fnmatch.fnmatch(k, p) for p in only)}
    counted = {k: v for k, v in status.items() if v != "skipped"}
    killed = sum(v in KILLED for v in counted.values())
    summary = {"module": name, "mutants": len(status), "killed": killed,
               "survived": sorted(k for k, v in counted.items() if v not in KILLED),
               "by_status": {s: sum(v == s for v in status.values()) for s in sorted(set(status.values()))},
               "score": round(100 * killed / len(counted), 1) if counted else None}
    print(f"{name}: {killed}/{len(counted)} killed, score {summary['score']} % {summary['by_status']}")
    for mutant in summary["survived"]:
        print(f"  {status[mutant]}: {mutant}")
        if diffs:
            shown = subprocess.run([sys.executable, "-m", "mutmut", "show", mutant], cwd=folder, capture_output=True,
                                   text=True).stdout
            print("    " + "\n    ".join(shown.strip().splitlines()[1:]))
    (folder / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def run(name: str, module: dict, shared: dict, children: int, survivors: bool = False) -> dict:
    """Mutate and test; mutmut keeps earlier verdicts of unchanged functions unless ``survivors``
    asks to re-check the last run's survivors (mutmut re-runs mutants it is given by name)."""
    folder = prepare(name, module, shared)
    only = patterns(module)
    names = [k for k, v in results(folder).items() if v not in KILLED and (not only or any(
        fnmatch.fnmatch(k, p) for p in only))] if survivors else only
    if survivors and not names:  # nothing to re-check (an empty list would run every mutant)
        return report(name, folder, diffs=False, only=only)
    if survivors:  # map the tests to the functions they call again: an edited test may reach new ones
        (folder / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if module.get("share_test_packages"):  # built once for all mutants (packaging is not mutated here)
        env["OFA2_TEST_PACKAGE_CACHE"] = str(folder / "test-packages")
    # mutate_decorated: also mutate @property methods and pydantic validators (benchmarks/_mutmut_decorated.py)
    mutmut = [str(ROOT / "benchmarks" / "_mutmut_decorated.py")] if module.get("mutate_decorated") else ["-m", "mutmut"]
    subprocess.run([sys.executable, *mutmut, "run", "--max-children", str(children), *names], cwd=folder,
                   env=env, check=False)
    return report(name, folder, diffs=False, only=only)


def main(argv: list[str] | None = None) -> int:
    shared, modules = load_config()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*", help=f"modules to run: {', '.join(modules)}")
    ap.add_argument("--all", action="store_true", help="every module, one after the other")
    ap.add_argument("--list", action="store_true", help="print the modules and their tests")
    ap.add_argument("--report", action="store_true", help="only report the last run (survivors with diffs)")
    ap.add_argument("--survivors", action="store_true",
                    help="re-check only the mutants that survived the last run (after adding tests)")
    ap.add_argument("--max-children", type=int, default=2, help="parallel mutant workers (default 2)")
    args = ap.parse_args(argv)
    names = list(modules) if args.all else args.modules
    unknown = [n for n in names if n not in modules]
    if unknown or not (names or args.list):
        ap.error(f"choose modules from {', '.join(modules)}" + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    if args.list:
        for n, m in modules.items():
            print(f"{n}: {m['path']}" + (f" ({', '.join(m['functions'])})" if m.get("functions") else "")
                  + "\n  " + "\n  ".join(m["tests"]))
        return 0
    for n in names:
        if args.report:
            report(n, prepare(n, modules[n], shared), only=patterns(modules[n]))
        else:
            run(n, modules[n], shared, args.max_children, args.survivors)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
