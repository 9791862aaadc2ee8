"""Front plots for packages: the whole front, packaged members numbered by their ``k``.

The search's own plot (:func:`ofa2_zoo.front.plot_front`) labels points by their index in the
front; a package names members ``..._front_<k>`` with ``k`` counting packaged members only, so
its plots label those. One member can be circled (for its own model card). The interactive
explorer page (``front/index.html``, :mod:`ofa2_zoo.explorer`) gets the packaged members from
``package.json`` here: timm names, measured values and the snippet that loads each one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .._plot import figure, save_png
from ..explorer import PackagedMember, timm_snippet, write_explorer
from ..front import Front, ReferencePoint
from .manifest import PackageManifest


def axis_names(front: Front) -> tuple[str, str]:
    x = "latency_ms" if "latency_ms" in front.objective_meta else front.objective_names[0]
    y = "top1" if "top1" in front.objective_meta else front.objective_names[1]
    return x, y


def plot_package_front(front: Front, selected: Sequence[int], path: str | os.PathLike, *,
                       highlight: int | None = None, title: str | None = None) -> Path:
    """PNG of ``front`` with the members at front indices ``selected`` numbered 0, 1, ...;
    ``highlight`` (a position in ``selected``) is circled. Deterministic bytes.

    Args:
        front: The front to draw.
        selected: Front indices of the packaged members, in package order.
        path: The PNG file to write (atomically).
        highlight: A position in ``selected`` to circle, or ``None``.
        title: The plot title (default ``"<profile id> front"``).
    """
    x_name, y_name = axis_names(front)
    xs, ys = front.values(x_name), front.values(y_name)
    fig, ax = figure(6.4, 4.4)
    ax.step(xs, ys, where="post", color="tab:blue", lw=1, alpha=0.6)
    ax.scatter(xs, ys, s=10, color="tab:blue", alpha=0.6, label=f"front ({len(xs)} members)")
    sx, sy = xs[list(selected)], ys[list(selected)]
    ax.scatter(sx, sy, s=30, color="tab:green", zorder=3, label=f"packaged ({len(selected)})")
    for k, (x, y) in enumerate(zip(sx, sy)):
        ax.annotate(str(k), (x, y), textcoords="offset points", xytext=(5, -11), fontsize=9, color="tab:green")
    if highlight is not None:
        ax.scatter([sx[highlight]], [sy[highlight]], s=160, facecolors="none", edgecolors="red", lw=2, zorder=4,
                   label=f"member {highlight}")
    meta = front.objective_meta
    ax.set(xlabel=f"{x_name} ({meta[x_name]['unit']}, {meta[x_name]['source']})",
           ylabel=f"{y_name} ({meta[y_name]['unit']}, {meta[y_name]['source']})",
           title=title or f"{front.profile_id} front")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return save_png(fig, path, dpi=100)


def packaged_members(manifest: PackageManifest, *, tag: str | None = None,
                     repo_ids: dict[int, str] | None = None) -> list[PackagedMember]:
    """The explorer's view of a package's members: measured top-1 and latency under the front's
    objective names, the latency in each runtime, and the snippet that loads each one (``name.<tag>`` and its Hub repo at
    ``tag`` once published)."""
    out = []
    for m in manifest.members:
        measured = {}
        if isinstance(m.measured.get("top1"), (int, float)):
            measured["top1"] = float(m.measured["top1"])
        latency = m.measured.get("latency")
        if isinstance(latency, dict) and isinstance(latency.get("median_ms"), (int, float)):
            measured["latency_ms"] = float(latency["median_ms"])
        name = f"{m.name}.{tag}" if tag else m.name
        hub = f"{repo_ids[m.k]}@{tag}" if repo_ids and tag else None
        out.append(PackagedMember(m.front_index, m.k, name, timm_snippet(name, hub), measured, hub,
                                  m.runtime_latency_ms()))
    return out


def write_package_explorer(front: Front, manifest: PackageManifest, path: str | os.PathLike, *,
                           references: Sequence[ReferencePoint] = (), previous: tuple[str, Front] | None = None,
                           title: str | None = None) -> Path:
    """``index.html`` for a package's front: the explorer with the packaged members highlighted
    (and ``previous`` = ``(label, front)`` in grey).

    Args:
        front: The packaged front.
        manifest: The package's ``package.json`` (it must belong to ``front``'s version).
        path: The HTML file to write.
        references: OFA's published nets placed in the front's objective space.
        previous: ``(label, front)`` of an earlier version, or ``None``.
        title: The page title (default: the profile and the number of packaged members).
    """
    if manifest.front_version_id != front.version_id:
        from .errors import PackageError

        raise PackageError(f"package.json belongs to front version {manifest.front_version_id[:12]}, not to "
                           f"this front ({front.version_id[:12]})")
    return write_explorer(front, path, packaged=packaged_members(manifest), references=references,
                          previous=previous, title=title or f"{front.profile_id} front ({len(manifest.members)} packaged)")
