"""Unstructured sparsity: measured MACs stay dense; the theoretical count is hand-checkable."""

import pytest
import torch

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.methods import RunContext
from tradeoff_bench.methods.unstructured import MagnitudeUnstructured
from tradeoff_bench.tasks.synthetic import SyntheticTask

TINY = {"n_train": 256, "n_val": 64, "n_test": 128, "epochs": 2, "max_width": 16, "teacher_width": 4}


def test_sparse_candidates_are_measured_dense_and_claim_theoretical() -> None:
    task = SyntheticTask(**TINY)
    torch.manual_seed(0)
    candidates = MagnitudeUnstructured(sparsities=(0.5, 0.8), steps=2).run(
        task, RunContext(seed=0, count_macs=count_macs)
    )
    dense = count_macs(task.build_model(), task.example_input())
    for candidate, sparsity in zip(candidates, (0.5, 0.8)):
        assert count_macs(candidate.model, task.example_input()) == dense  # zeros are not free
        facts = candidate.facts
        assert facts["macs_kind"] == "theoretical"
        assert facts["nonzero_fraction"] == pytest.approx(1 - sparsity, abs=0.01)
        assert facts["macs_theoretical"] < dense
        # an MLP's MACs are all in its weights: theoretical = nonzero fraction of each layer's MACs
        first, last = candidate.model[0].weight, candidate.model[-1].weight
        by_hand = int(torch.count_nonzero(first)) + int(torch.count_nonzero(last))
        assert facts["macs_theoretical"] == pytest.approx(by_hand)
        assert not any(hasattr(m, "weight_mask") for m in candidate.model.modules())  # masks made permanent
