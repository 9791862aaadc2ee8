"""How well predicted latencies agree with measured ones: the statistics every table check reports.

A leaf of the profiles stage: building a table (its calibration), validating it and calibrating
it per machine all score their predictions with :class:`Agreement`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Agreement:
    within_10pct: float  # share of networks whose prediction is within ±10 % of measured
    mape: float  # mean absolute percentage error, %
    kendall_tau: float
    bias: float  # mean signed relative error, % (positive: the table over-predicts)

    @classmethod
    def of(cls, predicted: np.ndarray, measured: np.ndarray) -> "Agreement":
        from scipy.stats import kendalltau  # scipy only when scoring (it is slow to import)

        predicted, measured = np.asarray(predicted, float), np.asarray(measured, float)
        rel = (predicted - measured) / measured
        return cls(float((np.abs(rel) <= 0.10).mean()), float(np.abs(rel).mean() * 100),
                   float(kendalltau(predicted, measured)[0]), float(rel.mean() * 100))

    def to_dict(self) -> dict:
        return asdict(self)
