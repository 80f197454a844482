"""EER and min t-DCF of the asvspoof2019 task against values computed by hand, ties included."""

import numpy as np
import pytest

from tradeoff_bench.tasks.asvspoof.protocol import AsvScores
from tradeoff_bench.tasks.asvspoof.scorefile import ScoredTrial, score_metrics
from tradeoff_bench.tasks.asvspoof.tdcf import (
    ASVSPOOF2019,
    CostModel,
    asv_error_rates,
    min_tdcf,
    tdcf_curve,
    tdcf_weights,
)
from tradeoff_bench.tasks.scoring import equal_error_rate

# ASV: sorted -2n -1n 0n 1t 1.5n 2t 3t 4t. The DET curve first has miss = false alarm = 1/4 after
# the target at 1.0, so the ASV EER threshold is 1.0; there the nontarget 1.5 is accepted
# (P_fa 1/4), the target 1.0 is not a miss (scores >= threshold are accepted), and the spoofs
# 0.2 and -0.5 are rejected (P_miss_spoof 1/2).
ASV = AsvScores(target=[2.0, 3.0, 4.0, 1.0], nontarget=[0.0, 1.5, -1.0, -2.0], spoof=[2.5, 0.2, 1.2, -0.5])
C1 = 0.9405 * (1 - 0) - 0.0095 * 10 * 0.25  # 0.91675
C2 = 10 * 0.05 * (1 - 0.5)  # 0.25


def test_cost_model_is_the_asvspoof_2019_one() -> None:
    assert ASVSPOOF2019.p_spoof == 0.05
    assert ASVSPOOF2019.p_tar == pytest.approx(0.9405) and ASVSPOOF2019.p_non == pytest.approx(0.0095)
    costs = (ASVSPOOF2019.c_miss_asv, ASVSPOOF2019.c_fa_asv, ASVSPOOF2019.c_miss_cm, ASVSPOOF2019.c_fa_cm)
    assert costs == (1, 10, 1, 10)
    with pytest.raises(ValueError, match="sum to one"):
        CostModel(0.9, 0.05, 0.1, 1, 10, 1, 10)


def test_asv_operating_point_is_its_eer_threshold() -> None:
    rates = asv_error_rates(ASV)
    assert rates.threshold == 1.0
    assert (rates.p_fa, rates.p_miss, rates.p_miss_spoof) == (0.25, 0.0, 0.5)
    assert tdcf_weights(rates) == pytest.approx((C1, C2))


def test_cm_eer_hand_computed_bona_fide_positive() -> None:
    # sorted: 0.1s 0.3s 0.4b 0.5s 0.6b 0.9b; after 0.4b: miss 1/3, false alarm 1/3
    eer, threshold = equal_error_rate([0.9, 0.4, 0.6], [0.1, 0.5, 0.3])
    assert eer == pytest.approx(1 / 3) and threshold == 0.4


def test_min_tdcf_hand_computed() -> None:
    # DET points (miss, fa): (0,1) (0,2/3) (0,1/3) (1/3,1/3) (1/3,0) (2/3,0) (1,0), normalised by C2
    values, thresholds = tdcf_curve([0.9, 0.4, 0.6], [0.1, 0.5, 0.3], asv_error_rates(ASV))
    miss = np.array([0, 0, 0, 1, 1, 2, 3]) / 3
    fa = np.array([3, 2, 1, 1, 0, 0, 0]) / 3
    np.testing.assert_allclose(values, (C1 * miss + C2 * fa) / C2)
    assert thresholds[0] == pytest.approx(0.1 - 0.001)
    assert min_tdcf([0.9, 0.4, 0.6], [0.1, 0.5, 0.3], ASV) == pytest.approx(1 / 3)


def test_min_tdcf_ties_follow_the_official_order() -> None:
    # bona fide 0.5 ties a spoof 0.5: the stable sort puts the bona fide first (it comes first),
    # so the curve passes (1/2, 2/3) and never (0, 1/3): min is at (0, 2/3) = C2·(2/3)/C2.
    # A recipe sorting the spoof first would report 1/3 instead.
    assert min_tdcf([0.5, 0.7], [0.5, 0.2, 0.6], ASV) == pytest.approx(2 / 3)
    eer, _ = equal_error_rate([0.5, 0.7], [0.5, 0.2])
    assert eer == 0.5  # sorted 0.2s 0.5b 0.5s 0.7b: after 0.5b miss 1/2 = false alarm 1/2


def test_a_perfect_cm_and_a_useless_one() -> None:
    assert min_tdcf([5.0, 6.0], [1.0, 2.0, 3.0], ASV) == 0.0
    assert min_tdcf([1.0, 1.0], [1.0, 1.0], ASV) == pytest.approx(1.0)  # accept-all: C2·1 / C2


def test_negative_weights_are_an_error() -> None:
    mostly_nontargets = CostModel(0.05, 0.9, 0.05, 1, 10, 1, 10)  # C1 = 0.05 - 0.9 * 10 * 1/4 < 0
    with pytest.raises(ValueError, match="negative t-DCF weights"):
        min_tdcf([1.0], [0.0], ASV, mostly_nontargets)


def test_score_metrics_pool_and_split_by_attack_in_percent() -> None:
    rows = [
        ScoredTrial("LA_E_1000001", "-", "bonafide", 0.9),
        ScoredTrial("LA_E_1000002", "-", "bonafide", 0.4),
        ScoredTrial("LA_E_1000003", "-", "bonafide", 0.6),
        ScoredTrial("LA_E_1000004", "A07", "spoof", 0.1),
        ScoredTrial("LA_E_1000005", "A08", "spoof", 0.5),
        ScoredTrial("LA_E_1000006", "A07", "spoof", 0.3),
    ]
    metrics = score_metrics(rows)
    assert metrics["eer"] == pytest.approx(100 / 3)
    assert metrics["eer@A07"] == 0.0
    # sorted 0.4b 0.5s 0.6b 0.9b: the rates are closest after 0.5s, miss 1/3 and false alarm 0
    assert metrics["eer@A08"] == pytest.approx(100 / 6)
    assert "min_tdcf" not in metrics
    assert score_metrics(rows, ASV)["min_tdcf"] == pytest.approx(1 / 3)
