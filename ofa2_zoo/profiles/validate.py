"""``ofa2 profile validate``: how well does a profile's table predict measured latency?"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from . import HardwareProfile
from .lut import network_latency
from .measure import measure_archs


@dataclass
class Agreement:
    within_10pct: float  # share of archs whose prediction is within ±10 % of measured
    mape: float  # mean absolute percentage error, %
    kendall_tau: float

    @classmethod
    def of(cls, predicted: np.ndarray, measured: np.ndarray) -> "Agreement":
        rel = np.abs(predicted - measured) / measured
        return cls(float((rel <= 0.10).mean()), float(rel.mean() * 100), float(kendalltau(predicted, measured)[0]))


@dataclass
class ValidationReport:
    profile: str
    n: int
    seed: int
    raw: Agreement
    calibrated: Agreement | None
    predicted_raw: list[float]
    predicted: list[float]
    measured: list[float]
    resolutions: list[int]

    def to_dict(self) -> dict:
        return asdict(self)


def validate_profile(profile: HardwareProfile, n: int = 100, seed: int = 0, progress=None) -> ValidationReport:
    """Measure ``n`` random archs (mixed resolutions) end to end and compare with the table."""
    space = profile.space
    genes = space.sample_genes(n, np.random.default_rng(seed))
    decoded = space.decode(genes)
    raw = network_latency(*profile.table.compile(space, calibrated=False), decoded)
    cal = network_latency(*profile.table.compile(space, calibrated=True), decoded)
    archs = space.genes_to_archs(genes)
    measured = []
    for i, a in enumerate(archs):
        measured.append(measure_archs([a], space, profile.measurement)[0])
        if progress:
            progress(i + 1, n)
    measured = np.array(measured)
    has_cal = bool(profile.table.meta.get("calibration"))
    return ValidationReport(profile.id, n, seed, Agreement.of(raw, measured),
                            Agreement.of(cal, measured) if has_cal else None,
                            raw.tolist(), cal.tolist(), measured.tolist(), [a.r for a in archs])


def plot_validation(report: ValidationReport, path: str | Path) -> Path:
    """Scatter plot (PNG) of predicted vs measured latency, before and after calibration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._io import atomic_path

    measured = np.array(report.measured)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(measured, report.predicted_raw, s=12, alpha=0.6,
               label=f"table sum (τ={report.raw.kendall_tau:.3f}, ±10%: {report.raw.within_10pct:.0%})")
    if report.calibrated:
        ax.scatter(measured, report.predicted, s=12, alpha=0.6,
                   label=f"calibrated (τ={report.calibrated.kendall_tau:.3f}, ±10%: "
                         f"{report.calibrated.within_10pct:.0%})")
    lo, hi = float(measured.min()) * 0.8, float(measured.max()) * 1.2
    xs = np.linspace(lo, hi, 10)
    ax.plot(xs, xs, "k-", lw=0.8)
    ax.fill_between(xs, xs * 0.9, xs * 1.1, color="grey", alpha=0.15, label="±10 %")
    ax.set(xlabel="measured latency (ms)", ylabel="predicted latency (ms)",
           title=f"{report.profile}: {report.n} random networks")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path
