"""``ofa2 front show|plot|diff``: look at a searched front and compare two versions."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console()
front_app = typer.Typer(help="Show, plot and compare Pareto fronts (front.json).", no_args_is_help=True)


@front_app.command("show")
def show(front_dir: Path = typer.Argument(..., help="Folder with front.json, or the file itself."),
         select: Optional[int] = typer.Option(None, help="Also mark the K members `ofa2 package` would pick.")) -> None:
    """Print a front's members, hypervolume and provenance as a table."""
    from ..front import Front
    from .search import summary_table

    front = Front.load(front_dir)
    picked = set(front.select(select)) if select else None
    console.print(summary_table(front, f"{front.profile_id} front ({front.algorithm.get('name')}, seed {front.seed})",
                                picked))
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
    table = Table("change", "arch", "objectives", title=f"{old} → {new}")
    for arch in d.added:
        table.add_row("[green]added", arch.to_string(), _fmt(next(m.objectives for m in b.members if m.arch == arch)))
    for arch in d.removed:
        table.add_row("[red]removed", arch.to_string(), _fmt(next(m.objectives for m in a.members if m.arch == arch)))
    for arch, before, after in d.moved:
        table.add_row("[yellow]moved", arch.to_string(), f"{_fmt(before)} → {_fmt(after)}")
    console.print(table)
    console.print(f"members: {len(a.members)} → {len(b.members)}; hypervolume {a.hypervolume:.6g} → "
                  f"{b.hypervolume:.6g} ({d.hypervolume_change:+.6g})")


def _fmt(obj: dict) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in sorted(obj.items()))


def register(app: typer.Typer) -> None:
    app.add_typer(front_app, name="front")
