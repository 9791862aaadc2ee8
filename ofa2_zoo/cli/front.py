"""``ofa2 front show|plot|diff|html``: look at a searched front, compare two versions, and write
the interactive explorer page."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._ui import AS_JSON, Col, console, print_json, print_table

front_app = typer.Typer(help="Show, plot, explore and compare Pareto fronts (front.json).", no_args_is_help=True)


@front_app.command("show")
def show(front_dir: Path = typer.Argument(..., help="Folder with front.json, or the file itself."),
         select: Optional[int] = typer.Option(None, min=1, help="Also mark the K members `ofa2 package` would pick."),
         as_json: bool = AS_JSON) -> None:
    """Print a front's members, hypervolume and provenance as a table."""
    from ..front import Front
    from .search import print_summary

    front = Front.load(front_dir)
    picked = set(front.select(select)) if select else None
    if as_json:
        print_json({
            "profile": front.profile_id, "algorithm": front.algorithm.get("name"), "seed": front.seed,
            "hypervolume": front.hypervolume, "reference_point": front.reference_point,
            "evaluations": front.evaluations, "version_id": front.version_id, "accuracy": front.accuracy,
            "profile_sha256": front.profile.get("sha256"), "objectives": front.objective_meta,
            "members": [{"k": k, "arch": m.arch.to_string(), "objectives": m.objectives,
                         **({"packaged": k in picked} if picked is not None else {})}
                        for k, m in enumerate(front.members)]})
        return
    print_summary(front, f"{front.profile_id} front ({front.algorithm.get('name')}, seed {front.seed})", picked)
    ref = ", ".join(f"{k} {v:g}" for k, v in front.reference_point.items())
    console.print(f"hypervolume {front.hypervolume:.6g} (reference point: {ref}); {front.evaluations} evaluations")
    console.print(f"version {front.version_id[:16]}; accuracy {front.accuracy.get('id')} "
                  f"({front.accuracy.get('source')}); profile sha256 {str(front.profile.get('sha256'))[:12]}")


@front_app.command("plot")
def plot(front_dir: Path = typer.Argument(..., help="Folder with front.json, or the file itself."),
         out: Optional[Path] = typer.Option(None, "--out", "-o", help="PNG path (default: front.png beside it)."),
         assets: Optional[Path] = typer.Option(None, help="Folder with the official OFA files, for OFA's "
                                                          "published specialized nets as reference markers."),
         references: bool = typer.Option(True, help="Draw OFA's published nets when the profile matches.")) -> None:
    """Plot a front: members, dominated points and OFA's published nets (Note10 profiles)."""
    from ..front import Front, plot_front, reference_points

    front = Front.load(front_dir)
    base = front_dir if front_dir.is_dir() else front_dir.parent
    refs = reference_points(front, assets) if references else []
    path = plot_front(front, out or base / "front.png", references=refs)
    console.print(f"wrote {path}")
    for r in refs:
        if r.top1 is None or r.latency_ms is None:
            continue
        dom = r.dominated_by(front)
        verdict = f"dominated or matched by {len(dom)} member(s)" if dom else "not dominated"
        console.print(f"  {r.net.id}: predicted {r.latency_ms:.2f} ms, {r.top1:.2f} %: {verdict}")


@front_app.command("diff")
def diff(old: Path = typer.Argument(..., help="Older front (folder or front.json)."),
         new: Path = typer.Argument(..., help="Newer front (folder or front.json).")) -> None:
    """What changed between two versions: members added, removed or moved, and the HV change."""
    from ..front import Front, check_comparable, diff_fronts

    a, b = Front.load(old), Front.load(new)
    check_comparable(a, b, str(old), str(new))
    d = diff_fronts(a, b)
    if a.version_id == b.version_id:
        console.print("identical fronts (same version id)")
        return
    rows = [["[green]added", arch.to_string(), _fmt(next(m.objectives for m in b.members if m.arch == arch))]
            for arch in d.added]
    rows += [["[red]removed", arch.to_string(), _fmt(next(m.objectives for m in a.members if m.arch == arch))]
             for arch in d.removed]
    rows += [["[yellow]moved", arch.to_string(), f"{_fmt(before)} → {_fmt(after)}"] for arch, before, after in d.moved]
    print_table([Col("change", "key"), Col("arch"), Col("objectives")], rows, title=f"{old} → {new}")
    console.print(f"members: {len(a.members)} → {len(b.members)}; hypervolume {a.hypervolume:.6g} → "
                  f"{b.hypervolume:.6g} ({d.hypervolume_change:+.6g})")


@front_app.command("html")
def html(front_dir: Path = typer.Argument(..., help="Folder with front.json (a search's output or a package's "
                                                    "front/ folder), or the file itself."),
         out: Optional[Path] = typer.Option(None, "--out", "-o", help="HTML path (default: index.html beside it)."),
         package: Optional[Path] = typer.Option(None, help="Package folder whose members to highlight (default: the "
                                                           "package.json beside front.json, or the package/ folder "
                                                           "beside it that `ofa2 run` wrote, if it packages this "
                                                           "front)."),
         previous: Optional[Path] = typer.Option(None, help="An earlier version of the front (folder or front.json), "
                                                            "drawn in grey."),
         previous_label: Optional[str] = typer.Option(None, help="Name of the earlier version in the legend "
                                                                 "(default: its folder name)."),
         assets: Optional[Path] = typer.Option(None, help="Folder with the official OFA files, for OFA's published "
                                                          "specialized nets as reference markers."),
         references: bool = typer.Option(True, help="Mark OFA's published nets when the profile matches."),
         title: Optional[str] = typer.Option(None, help="Page title (default: '<profile> front').")) -> None:
    """Write the interactive front explorer: one self-contained HTML file, no network needed to view it."""
    from ..explorer import write_explorer
    from ..front import Front, reference_points
    from ..package.errors import PackageError
    from ..package.manifest import MANIFEST_NAME, read_manifest
    from ..package.plots import packaged_members

    front = Front.load(front_dir)
    base = front_dir if front_dir.is_dir() else front_dir.parent
    if package is None and (base / MANIFEST_NAME).is_file():
        package = base
    elif package is None and (base.parent / "package" / MANIFEST_NAME).is_file():  # an `ofa2 run` folder
        sibling = base.parent / "package"
        if read_manifest(sibling).front_version_id == front.version_id:
            package = sibling
        else:
            console.print(f"{sibling} packages another front version: no packaged members to highlight")
    packaged = []
    if package is not None:
        manifest = read_manifest(package)
        if manifest.front_version_id != front.version_id:
            raise PackageError(f"{package} packages front version {manifest.front_version_id[:12]}, not this "
                               f"front ({front.version_id[:12]}); pass the package made from {front_dir}")
        packaged = packaged_members(manifest)
    prev = None
    if previous is not None:
        older = Front.load(previous)
        prev = (previous_label or (previous if previous.is_dir() else previous.parent).resolve().name, older)
        if older.version_id == front.version_id:
            console.print(f"{previous} is the same front version: no previous version to draw")
            prev = None
    refs = reference_points(front, assets) if references else []
    path = write_explorer(front, out or base / "index.html", packaged=packaged, references=refs, previous=prev,
                          title=title or (f"{front.profile_id} front ({len(packaged)} packaged)" if packaged else None))
    console.print(f"wrote {path} ({len(front.members)} members, {len(packaged)} packaged"
                  f"{', previous version ' + prev[0] if prev else ''}; open it in a browser)")


def _fmt(obj: dict) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in sorted(obj.items()))


def register(app: typer.Typer) -> None:
    app.add_typer(front_app, name="front")
