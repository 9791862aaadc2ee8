"""``ofa2 assets``: list, fetch and verify the official OFA files, and say where they are read from."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import AssetError, Ofa2Error
from ._ui import AS_JSON, QUIET, console, print_json
app = typer.Typer(help="The official OFA files (accuracy predictor, Note10 tables, published nets, supernets): "
                       "list, fetch, verify.", no_args_is_help=True)
ASSETS = typer.Option(None, "--assets", help="Assets folder (default: $OFA2_ASSETS, else the download cache).")
PROFILES = typer.Option(None, "--profile", "-p", help="Only the files this profile needs (repeat for several).")

#: What needs each kind of file besides the profiles (shown by `list`).
_COMMANDS = {
    "accuracy predictor": "ofa2 search / run (top-1 of OFA's spaces)",
    "latency table": "ofa2 search / run (latency)",
    "specialized net": "ofa2 front plot (OFA's published nets beside note10 fronts)",
    "supernet checkpoint": "ofa2 package / run --weights official",
}


def _needs() -> dict[str, list[str]]:
    """name -> ["note10 (search)", ...] over every known profile."""
    from ..profiles import list_profiles, load_profile

    needs: dict[str, list[str]] = {}
    for pid in list_profiles():
        try:
            prof = load_profile(pid)
        except Ofa2Error:
            continue  # `ofa2 profile list` says what is wrong with it
        for name, purposes in prof.official_files().items():
            needs.setdefault(name, []).append(f"{pid} ({', '.join(purposes)})")
    return needs


def _selected(profiles: list[str] | None) -> list[str]:
    from ..assets import OFFICIAL_FILES

    if not profiles:
        return list(OFFICIAL_FILES)
    from ..profiles import load_profile

    names: dict[str, None] = {}
    for pid in profiles:
        names.update(dict.fromkeys(load_profile(pid).official_files()))
    return list(names)


def _size(n: int | None) -> str:
    if n is None:
        return "unknown"
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB" if n >= 1e3 else f"{n} B"


_STATE_STYLE = {"present": "[green]present[/]", "unverified": "[yellow]present, unverified[/]",
                "missing": "[red]missing[/]", "corrupt": "[red]corrupt (sha256 differs)[/]"}


@app.command("list")
def list_cmd(assets: Optional[Path] = ASSETS, profile: Optional[List[str]] = PROFILES, as_json: bool = AS_JSON) -> None:
    """Every official file: size, pinned sha256, what needs it, and whether the assets folder has it."""
    from ..assets import OFFICIAL_FILES, asset_state, assets_folder

    folder = assets_folder(assets)
    needs = _needs()
    rows = []
    for name in _selected(profile):
        f = OFFICIAL_FILES[name]
        rows.append({"name": name, "kind": f.kind, "size": f.size, "sha256": f.sha256, "pinned": f.pinned,
                     "needed_by": needs.get(name, []), "commands": _COMMANDS[f.kind],
                     "state": asset_state(name, folder), "path": str(folder / name)})
    if as_json:
        print_json({"folder": str(folder), "files": rows})
        return
    console.print(f"official OFA files in {escape(str(folder))} (full sha256: --json)", soft_wrap=True)
    for kind in dict.fromkeys(r["kind"] for r in rows):
        group = [r for r in rows if r["kind"] == kind]
        needed = sorted({n for r in group for n in r["needed_by"]})
        console.print(f"\n[bold]{kind}s[/]: {escape(_COMMANDS[kind])}"
                      + (f"; needed by {escape(', '.join(needed))}" if needed else ""))
        table = Table("file", "size", "sha256", "state", show_header=False, box=None, padding=(0, 1, 0, 2))
        table.columns[0].overflow = "fold"
        for r in group:
            sha = r["sha256"][:12] + "…" if r["pinned"] else "not pinned (unreachable when this release was made)"
            table.add_row(escape(r["name"]), _size(r["size"]), sha, _STATE_STYLE[r["state"]])
        console.print(table)
    missing = sum(r["state"] in ("missing", "corrupt") for r in rows)
    if missing:
        console.print(f"{missing} of {len(rows)} missing or corrupt: ofa2 assets fetch"
                      + (f" --assets {escape(str(assets))}" if assets else ""), soft_wrap=True)


@app.command("fetch")
def fetch(profile: Optional[List[str]] = PROFILES, assets: Optional[Path] = ASSETS, quiet: bool = QUIET) -> None:
    """Download the missing files into the assets folder (pinned sha256, atomic, resumable)."""
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    from ..assets import (OFFICIAL_FILES, DownloadLimits, DownloadTimeout, asset_state, assets_folder, base_url,
                          download_asset)

    folder = assets_folder(assets)
    todo = [n for n in _selected(profile) if asset_state(n, folder) in ("missing", "corrupt")]
    if not todo:
        console.print(f"all {len(_selected(profile))} files are in {folder}", soft_wrap=True)
        return
    base_url()  # a bad $OFA2_ASSETS_URL is one error before anything starts
    limits = DownloadLimits.start()  # one deadline for all the files
    failed: list[str] = []
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=console, disable=quiet or not console.is_terminal) as bar:
        for name in todo:
            task = bar.add_task(name, total=OFFICIAL_FILES[name].size)
            try:
                download_asset(name, folder, progress=lambda step, done, total, t=task: bar.update(t, completed=done,
                                                                                              total=total),
                               limits=limits)
            except DownloadTimeout as exc:
                failed.append(str(exc))
                break  # a stalled mirror or a passed deadline: the other files would only wait the same
            except AssetError as exc:
                failed.append(str(exc))
                continue
            verified = "sha256 verified" if OFFICIAL_FILES[name].pinned else "NOT verified: no pinned sha256"
            bar.console.print(f"fetched {name} ({verified})", soft_wrap=True)
    if failed:
        done = sum(asset_state(n, folder) not in ("missing", "corrupt") for n in todo)
        raise AssetError(f"{len(todo) - done} of {len(todo)} files could not be fetched into {folder}; first: "
                         f"{failed[0]}")
    console.print(f"{len(todo)} files fetched into {folder}", soft_wrap=True)


@app.command("verify")
def verify(folder: Path = typer.Argument(..., help="Folder holding the official files in OFA's layout."),
           profile: Optional[List[str]] = PROFILES) -> None:
    """Check every file in FOLDER against its pinned sha256; exit 2 if a pinned file is missing or corrupt."""
    from ..assets import OFFICIAL_FILES, asset_state

    if not folder.is_dir():
        raise AssetError(f"assets folder {folder} does not exist")
    names = _selected(profile)
    states = {n: asset_state(n, folder) for n in names}
    table = Table("file", "state")
    for n, state in states.items():
        table.add_row(escape(n), _STATE_STYLE[state] + ("" if OFFICIAL_FILES[n].pinned else " (optional, not pinned)"))
    console.print(table)
    bad = [n for n, s in states.items() if s == "corrupt" or (s == "missing" and OFFICIAL_FILES[n].pinned)]
    if bad:
        only = "".join(f" --profile {p}" for p in profile or [])
        raise AssetError(f"{len(bad)} of {len(names)} files in {folder} are missing or corrupt (first: {bad[0]}); "
                         f"fix: ofa2 assets fetch{only} --assets {folder}")
    ok = sum(s == "present" for s in states.values())
    console.print(f"{folder}: all {ok} pinned files match their sha256", soft_wrap=True)


@app.command("path")
def path(assets: Optional[Path] = ASSETS) -> None:
    """Print the folder official files are read from and fetched into."""
    from ..assets import assets_folder

    print(assets_folder(assets))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="assets")
