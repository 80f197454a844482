"""The ASVspoof 2019 tandem detection cost function (t-DCF) and its minimum over CM thresholds.

Kinnunen et al., "t-DCF: a detection cost function for the tandem assessment of spoofing
countermeasures and automatic speaker verification" (Odyssey 2018), in the form of the ASVspoof
2019 evaluation plan and the organisers' `tDCF_python` (`compute_tDCF`):

    t-DCF(τ) = C1 · P_miss_cm(τ) + C2 · P_fa_cm(τ),     normalised by min(C1, C2)
    C1 = P_tar · (C_miss_cm − C_miss_asv · P_miss_asv) − P_non · C_fa_asv · P_fa_asv
    C2 = C_fa_cm · P_spoof · (1 − P_miss_spoof_asv)

The ASV operating point is fixed at its EER threshold (target vs nontarget), where P_fa_asv counts
nontarget scores ≥ threshold and the miss rates count scores < threshold. The CM rates are the
DET curve of `tasks.scoring` (every sorted score a threshold), so ties behave as in the official
code. The normaliser min(C1, C2) is the cost of the better of the two trivial CMs (accept all,
reject all): a value ≥ 1 means the CM does not help. Unlike the official script, fewer than three
distinct CM scores are not refused: a collapsed model gets its (poor) cost, not a crash.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from tradeoff_bench.tasks.asvspoof.protocol import AsvScores
from tradeoff_bench.tasks.scoring import det_curve, equal_error_rate


@dataclass(frozen=True)
class CostModel:
    p_tar: float
    p_non: float
    p_spoof: float
    c_miss_asv: float
    c_fa_asv: float
    c_miss_cm: float
    c_fa_cm: float

    def __post_init__(self) -> None:
        priors = (self.p_tar, self.p_non, self.p_spoof)
        if min(priors) < 0 or abs(sum(priors) - 1) > 1e-10:
            raise ValueError(f"priors must be non-negative and sum to one, got {priors}")


ASVSPOOF2019 = CostModel(
    p_tar=(1 - 0.05) * 0.99,  # 0.9405
    p_non=(1 - 0.05) * 0.01,  # 0.0095
    p_spoof=0.05,
    c_miss_asv=1.0,
    c_fa_asv=10.0,
    c_miss_cm=1.0,
    c_fa_cm=10.0,
)
"""The cost model of the ASVspoof 2019 evaluation plan (and `tDCF_python`)."""


@dataclass(frozen=True)
class AsvErrorRates:
    p_fa: float
    p_miss: float
    p_miss_spoof: float
    threshold: float


def asv_error_rates(asv: AsvScores) -> AsvErrorRates:
    """ASV error rates at its EER threshold (the official `obtain_asv_error_rates`)."""
    target, nontarget, spoof = (np.asarray(v, dtype=np.float64) for v in (asv.target, asv.nontarget, asv.spoof))
    _, threshold = equal_error_rate(target, nontarget)
    return AsvErrorRates(
        p_fa=float(np.mean(nontarget >= threshold)),
        p_miss=float(np.mean(target < threshold)),
        p_miss_spoof=float(np.mean(spoof < threshold)),
        threshold=threshold,
    )


def tdcf_weights(rates: AsvErrorRates, cost: CostModel = ASVSPOOF2019) -> tuple[float, float]:
    """(C1, C2) of the t-DCF for a fixed ASV system."""
    c1 = cost.p_tar * (cost.c_miss_cm - cost.c_miss_asv * rates.p_miss) - cost.p_non * cost.c_fa_asv * rates.p_fa
    c2 = cost.c_fa_cm * cost.p_spoof * (1 - rates.p_miss_spoof)
    if c1 < 0 or c2 < 0:
        raise ValueError(f"negative t-DCF weights C1={c1}, C2={c2}: check the ASV error rates")
    return c1, c2


def tdcf_curve(
    bonafide: ArrayLike, spoof: ArrayLike, rates: AsvErrorRates, cost: CostModel = ASVSPOOF2019
) -> tuple[np.ndarray, np.ndarray]:
    """(normalised t-DCF, CM threshold) at every threshold of the CM's DET curve."""
    c1, c2 = tdcf_weights(rates, cost)
    curve = det_curve(bonafide, spoof)
    return (c1 * curve.miss + c2 * curve.false_alarm) / min(c1, c2), curve.thresholds


def min_tdcf(bonafide: ArrayLike, spoof: ArrayLike, asv: AsvScores, cost: CostModel = ASVSPOOF2019) -> float:
    """Minimum normalised t-DCF of CM scores (bona fide should score high) with the given ASV."""
    values, _ = tdcf_curve(bonafide, spoof, asv_error_rates(asv), cost)
    return float(values.min())
