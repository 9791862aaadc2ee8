"""``ofa2 zoo``: what ``import ofa2_zoo`` registers, and the user's local zoo.

Reads the zoo index files and package manifests as JSON only (no torch, timm or onnx), so it
answers at once.
"""

from __future__ import annotations

import fnmatch
import re
import warnings
from pathlib import Path
from typing import Mapping, Optional

import typer

from ._ui import AS_JSON, Col, console, err_console, print_json, print_table


app = typer.Typer(help="The model zoo: list the registered ofa2_* names, add or forget local packages.",
                  no_args_is_help=True)


def _collect():
    """The zoo, with its warnings (a bad index, a moved package) printed as one line each."""
    from ..zoo import ZooWarning, collect

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ZooWarning)
        zoo = collect()
    for w in caught:
        err_console.print(f"[yellow]warning:[/] {w.message}")
    return zoo


def _fmt(value: Optional[float], digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def runtime_latency_text(latencies: Mapping[str, float]) -> str:
    """``onnxruntime 0.046, litert 0.021``: each runtime's measured latency in ms, fastest first."""
    if not latencies:
        return "-"
    return ", ".join(f"{name} {ms:.3f}" for name, ms in sorted(latencies.items(), key=lambda kv: (kv[1], kv[0])))


@app.command("list")
def list_(
    pattern: Optional[str] = typer.Argument(None, help="Only names matching this pattern (wildcards as in "
                                                      "timm.list_models, e.g. 'ofa2_digits_cpu_*')."),
    source: Optional[str] = typer.Option(None, help="Only this source: local, hub or embedded."),
    as_json: bool = AS_JSON,
) -> None:
    """List every ofa2_* model name and version that `import ofa2_zoo` registers, default versions first."""
    from ..errors import Ofa2Error
    from ..zoo import SOURCES, suggest, tag_order, user_index_path
    from ..zoo.index import shipped_index_path

    if source is not None and source not in SOURCES:
        raise Ofa2Error(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")
    zoo = _collect()
    table = zoo.by_name()
    rows = []
    for e in zoo.entries:
        names = [e.name, *zoo.aliases(e)]
        if table[e.name].get(e.tag) is not e:  # shadowed by another entry with the same tag
            continue
        if pattern and not any(fnmatch.fnmatch(n, pattern) or fnmatch.fnmatch(f"{n}.{e.tag}", pattern)
                               for n in names):
            continue
        if source and e.source != source:
            continue
        rows.append(e)
    if pattern and not rows and not as_json:
        known = [n for n in table] + [f"{n}.{t}" for n, tags in table.items() for t in tags]
        raise Ofa2Error(f"no registered name matches {pattern!r}{suggest(pattern, known)}; "
                        f"{len(table)} names are registered (`ofa2 zoo list`)")
    rows.sort(key=lambda e: (e.profile != zoo.default_profile, e.profile, e.k, tag_order(table[e.name]).index(e.tag)))
    defaults = zoo.default_tags()
    if as_json:
        print_json([{"name": e.name, "aliases": zoo.aliases(e), "tag": e.tag, "default": defaults[e.name] == e.tag,
                     "source": e.source, "profile": e.profile, "k": e.k, "input_size": list(e.input_size),
                     "top1": e.top1, "latency_ms": e.latency_ms, "runtime_latency_ms": dict(e.runtime_latency_ms),
                     "where": e.where} for e in rows])
        return
    print_table([Col("name", "key"), Col("tag", "key"), Col("source", "key"), Col("input", "num"),
                 Col("top-1 %", "num"), Col("latency ms", "num"), Col("measured ms, batch 1")],
                [(e.name, e.tag + ("*" if defaults[e.name] == e.tag else ""), e.source,
                  "x".join(map(str, e.input_size)), _fmt(e.top1, 2), _fmt(e.latency_ms, 4),
                  runtime_latency_text(e.runtime_latency_ms)) for e in rows],
                title=f"ofa2 zoo: {len(rows)} model versions (* = default version of the name)")
    console.print("latency ms: the profile's (its table or measurement, what the search used); measured: each "
                  "runtime's, timed when the member was packaged", soft_wrap=True)
    if not pattern:
        console.print("also:       ofa2_subnet, the generic architecture (arch=..., space=...; no weights)",
                      soft_wrap=True)
    if any(zoo.aliases(e) for e in rows):
        console.print(f"ofa2_front_<k> = ofa2_{zoo.default_profile.replace('-', '_')}_front_<k> (the default "
                      f"profile, {zoo.default_profile})", soft_wrap=True)
    locations = {(e.profile, e.tag): re.sub(r"-\d+@", "-<k>@", e.where) if e.source == "hub" else e.where
                 for e in reversed(rows)}
    for (profile, tag), where in locations.items():
        console.print(f"{profile} {tag}: {where}", soft_wrap=True)
    console.print(f"user index: {user_index_path()} (local packages, versions you published; $OFA2_USER_INDEX)",
                  soft_wrap=True)
    console.print(f"zoo index:  {shipped_index_path()} (versions published on the Hub; $OFA2_ZOO_INDEX)",
                  soft_wrap=True)
    console.print('load one:   timm.create_model("<name>[.<tag>]", pretrained=True) after `import ofa2_zoo`',
                  soft_wrap=True)


@app.command("add")
def add(path: Path = typer.Argument(..., help="Package folder written by `ofa2 package` or `ofa2 run`.")) -> None:
    """Record a package in the user's local zoo: later `import ofa2_zoo` registers its names (tag local)."""
    from ..zoo import record_package, user_index_path

    record = record_package(path)
    _said_recorded(record, user_index_path())


def _names(record) -> list[str]:
    from ..package.manifest import timm_name

    return [timm_name(record.profile, m.k) for m in record.members]


def _said_recorded(record, index_path: Path) -> None:
    console.print(f"recorded in the local zoo ({index_path}): {', '.join(_names(record))} (tag local)")


@app.command("forget")
def forget(target: str = typer.Argument(..., help="A recorded package folder (it may be gone already) or a "
                                                  "profile id (forgets all its packages).")) -> None:
    """Remove packages from the user's local zoo (the package folders themselves are not touched)."""
    from ..zoo import forget as run_forget

    for record in run_forget(target):
        n = len(record.members)
        console.print(f"forgot {record.path} ({record.profile}, {n} member{'' if n == 1 else 's'})")


RECORD = typer.Option(True, "--record/--no-record",
                      help="Record the package in the local zoo: it becomes the default version of every "
                           "ofa2_<profile>_front_<k> name of its profile (`ofa2 zoo forget PATH` undoes it). "
                           "--no-record for a throwaway folder.")


def record_in_local_zoo(package_dir: Path, record: bool = True) -> None:
    """After `ofa2 package`/`ofa2 run`: record the package (unless ``record`` is False) and say
    which names it now stands for; a failure is a warning (the package is written)."""
    from ..errors import Ofa2Error
    from ..zoo import record_package, user_index_path

    if not record:
        console.print("not recorded in the local zoo (--no-record): its names load only through "
                      f"ofa2_zoo.register_front({str(package_dir)!r}) or after `ofa2 zoo add {package_dir}`",
                      soft_wrap=True)
        return
    try:
        recorded = record_package(package_dir)
    except Ofa2Error as exc:
        err_console.print(f"[yellow]warning:[/] the package was not recorded in the local zoo: {exc}")
        return
    _said_recorded(recorded, user_index_path())
    name = _names(recorded)[0]
    console.print(f"it is now the default version of profile {recorded.profile}'s names it has a member for "
                  f"(the others load their next version). Undo: `ofa2 zoo forget {recorded.path}`", soft_wrap=True)
    console.print(f'use it:  import ofa2_zoo, timm; timm.create_model("{name}", pretrained=True)  (in any new '
                  "process; `ofa2 zoo list` shows every name)", soft_wrap=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="zoo")
