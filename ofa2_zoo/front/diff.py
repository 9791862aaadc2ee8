"""What changed between two versions of a front."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import FrontError, shorten
from ..space import ArchSpec
from .artifact import Front


# ---------------------------------------------------------------------------- diff
@dataclass
class FrontDiff:
    added: list[ArchSpec]
    removed: list[ArchSpec]
    moved: list[tuple[ArchSpec, dict[str, float], dict[str, float]]]
    hypervolume_change: float

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed or self.moved)

    def to_markdown(self) -> str:
        lines = [f"- hypervolume change: {self.hypervolume_change:+.4f}",
                 f"- members added: {len(self.added)}, removed: {len(self.removed)}, "
                 f"objective values changed: {len(self.moved)}"]
        lines += [f"  - added `{a.to_string()}`" for a in self.added]
        lines += [f"  - removed `{a.to_string()}`" for a in self.removed]
        lines += [f"  - moved `{a.to_string()}`: {old} → {new}" for a, old, new in self.moved]
        return "\n".join(lines)


def check_comparable(old: Front, new: Front, old_name: str = "old", new_name: str = "new") -> None:
    """Two fronts can be diffed only when they are versions of one thing: the same profile, the
    same search space and the same searched objectives with the same reference point (else the
    hypervolumes and member positions do not compare)."""
    checks = (("profile", old.profile_id, new.profile_id), ("space", old.space.to_dict(), new.space.to_dict()),
              ("objectives", old.searched_objectives, new.searched_objectives),
              ("reference point", old.reference_point, new.reference_point))
    for what, a, b in checks:
        if a != b:
            sa, sb = (shorten(x.get("name", x) if isinstance(x, dict) and what == "space" else x, 60) for x in (a, b))
            if sa == sb:
                sa, sb = f"{sa} (one definition)", f"{sb} (another definition)"
            raise FrontError(f"cannot compare {old_name} and {new_name}: their {what} differs ({sa} vs {sb}); "
                             "fix: diff two versions of the same profile's front")


def diff_fronts(old: Front, new: Front) -> FrontDiff:
    """What changed from ``old`` to ``new``: members by canonical arch, and the HV (meaningful
    when :func:`check_comparable` passes)."""
    a = {m.arch: m.objectives for m in old.members}
    b = {m.arch: m.objectives for m in new.members}
    moved = [(arch, a[arch], b[arch]) for arch in a.keys() & b.keys()
             if any(abs(a[arch][k] - b[arch].get(k, float("nan"))) > 1e-9 for k in a[arch])]
    order = lambda archs: sorted(archs, key=lambda x: x.to_string())  # noqa: E731
    return FrontDiff(order(b.keys() - a.keys()), order(a.keys() - b.keys()),
                     sorted(moved, key=lambda t: t[0].to_string()), new.hypervolume - old.hypervolume)
