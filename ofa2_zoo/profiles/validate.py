"""``ofa2 profile validate``: how well does a profile's table predict measured latency?

``n`` random networks of the profile's space (mixed resolutions) are measured end to end
with the profile's measurement settings and compared with the table's prediction: share
within ±10 %, mean absolute percentage error and Kendall τ (ranking, which is what a search
needs). The raw additive sum and the calibrated prediction are reported side by side; an
optional step fits a fresh calibration on *other* random networks first (before/after).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .._plot import figure, save_png
from ..progress import ProgressFn
from .loader import HardwareProfile, ProfileError
from .lut import LatencyTable
from .agreement import Agreement
from .measure import measure_archs


@dataclass
class ValidationReport:
    profile: str
    n: int
    seed: int
    raw: Agreement  # the additive table sum
    calibrated: Agreement | None  # with the table's calibration (or the one fitted in this run)
    calibration: dict | None
    predicted_raw: list[float]
    predicted: list[float]
    measured: list[float]
    resolutions: list[int]
    archs: list[str]
    machine: dict
    extremes: dict | None = None  # smallest/largest network per resolution: arch, predicted, measured, agreement
    # whole networks' latency here now / when this machine's calibration was checked (None: no such check)
    speed_vs_calibration: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def validate_profile(profile: HardwareProfile, n: int = 100, seed: int = 1, *, calibrate: int = 0,
                     extremes: bool = True, progress: ProgressFn | None = None, table: LatencyTable | None = None) -> ValidationReport:
    """Measure ``n`` random networks end to end and compare them with the table.

    ``calibrate > 0`` first fits a new calibration on that many *other* networks (the
    calibration step; reported as "calibrated"), instead of the table's stored one. With
    ``extremes`` the smallest and largest network at every resolution are measured too and
    reported apart: uniform random networks crowd the middle of the range, a front its ends.
    ``table`` replaces the profile's table (whose calibration may be this machine's own).

    Args:
        profile: The loaded profile (it needs a ``measurement`` section).
        n: Random networks measured and compared (at least 2).
        seed: Seed of the networks.
        calibrate: Other networks to fit a new calibration on first (0: the table's own).
        extremes: Whether the smallest and largest network at each resolution are measured too.
        progress: Called with (networks measured, networks in all); ``None`` for none.
        table: A table to use instead of the profile's, or ``None``.
    """
    from .build import fit_calibration
    from .machine import machine_info

    if profile.measurement is None:
        raise ProfileError(f"{profile.path}: field 'measurement': missing, so the profile cannot be measured "
                           "(fix: add a measurement section)")
    if n < 2:
        raise ProfileError(f"validation needs at least 2 networks, got {n}")
    space, table = profile.space, table or profile.table
    calibration = fit_calibration(profile, table, calibrate, seed) if calibrate else table.calibration
    if calibrate:
        table = table.with_calibration(calibration)
    genes = space.sample_genes(n, np.random.default_rng(seed))
    raw = table.compile(space, calibrated=False).latency_genes(genes)
    cal = table.compile(space, calibrated=True).latency_genes(genes)
    archs = space.genes_to_archs(genes)
    ends = [a for r in space.resolutions for a in (space.smallest(r), space.largest(r))] if extremes else []
    measured_all = measure_archs(archs + ends, space, profile.measurement, progress=progress)
    measured = measured_all[:n]
    extreme = None
    if ends:
        pred = table.compile(space, calibrated=True).latency_genes(space.archs_to_genes(ends))
        m_ends = measured_all[n:]
        extreme = {"archs": [a.to_string() for a in ends], "predicted": pred.tolist(), "measured": m_ends.tolist(),
                   "agreement": Agreement.of(pred, m_ends).to_dict()}
    raw_agreement = Agreement.of(raw, measured)
    then = None if calibrate else _checked_table_sum_bias(profile, table)
    return ValidationReport(profile.id, n, seed, raw_agreement,
                            Agreement.of(cal, measured) if calibration else None, calibration,
                            raw.tolist(), cal.tolist(), measured.tolist(), [a.r for a in archs],
                            [a.to_string() for a in archs], machine_info(), extreme,
                            None if then is None else (1 + then / 100) / (1 + raw_agreement.bias / 100))


def _checked_table_sum_bias(profile: HardwareProfile, table: LatencyTable) -> float | None:
    """The table sum's bias (%) on the check networks of the machine calibration ``table`` uses, if any.

    The check networks are drawn as :func:`validate_profile` draws its own, and the table's
    entries do not change, so the ratio of ``1 + bias / 100`` then and now is how much faster
    or slower whole networks run here now than when the calibration was checked.
    """
    from .lut import _is_number
    from .machine import machine_calibration

    by = table.meta.get("calibrated_by")
    stored = machine_calibration(profile, by["fingerprint"]) if by else None
    check = (stored or {}).get("check")
    if not isinstance(check, dict) or not check.get("networks"):
        return None  # none, or compared on the fitted networks (graded sizes, not drawn like these)
    bias = ((check.get("agreement") or {}).get("table sum") or {}).get("bias")
    return float(bias) if _is_number(bias) and bias > -100 else None


def store_calibration(profile: HardwareProfile, calibration: dict) -> Path:
    """Store ``calibration`` in the profile's ofa2-json table (atomically); returns the table path.

    The table's sha256 changes: a profile that pins it must be updated (the CLI prints the new one).
    """
    from .lut import write_table

    path = profile.table_files()[0]
    data = json.loads(path.read_text())
    entries = data.pop("entries")
    data["calibration"] = calibration
    write_table(path, data, entries)
    profile.reload()
    return path


def plot_validation(report: ValidationReport, path: str | Path) -> Path:
    """Scatter plot (PNG) of predicted vs measured latency, before and after calibration."""
    measured = np.array(report.measured)
    fig, ax = figure(5.5, 5)
    ax.scatter(measured, report.predicted_raw, s=12, alpha=0.6,
               label=f"table sum (τ={report.raw.kendall_tau:.3f}, ±10%: {report.raw.within_10pct:.0%})")
    if report.calibrated:
        ax.scatter(measured, report.predicted, s=12, alpha=0.6,
                   label=f"calibrated (τ={report.calibrated.kendall_tau:.3f}, ±10%: "
                         f"{report.calibrated.within_10pct:.0%})")
    if report.extremes:
        ax.scatter(report.extremes["measured"], report.extremes["predicted"], s=30, marker="x", color="k",
                   label=f"smallest/largest per resolution ({report.extremes['agreement']['within_10pct']:.0%} "
                         "within ±10%)")
    both = np.concatenate([measured, report.predicted_raw, report.predicted]
                          + ([report.extremes["measured"], report.extremes["predicted"]] if report.extremes else []))
    lo, hi = float(both.min()) * 0.9, float(both.max()) * 1.1
    xs = np.linspace(lo, hi, 10)
    ax.plot(xs, xs, "k-", lw=0.8)
    ax.fill_between(xs, xs * 0.9, xs * 1.1, color="grey", alpha=0.15, label="±10 %")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="measured latency (ms)", ylabel="predicted latency (ms)",
           title=f"{report.profile}: {report.n} random networks")
    ax.legend(fontsize=8, loc="upper left")
    return save_png(fig, path, dpi=120)
