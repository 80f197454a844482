"""Unstructured sparsity: measured MACs stay dense; the theoretical count is hand-checkable."""

import pytest
import torch
from torch import nn

from bench.flops import count_macs
from methods import RunContext
from methods.unstructured import MagnitudeUnstructured, theoretical_macs, weight_macs
from tasks.synthetic import SyntheticTask

TINY = {"n_train": 256, "n_val": 64, "n_test": 128, "epochs": 2, "max_width": 16, "teacher_width": 4}


def test_theoretical_macs_by_hand_on_tiny_mlp() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    x = torch.zeros(1, 4)
    dense = count_macs(model, x)
    assert dense == 4 * 8 + 8 * 2
    with torch.no_grad():
        model[0].weight[:4].zero_()  # 16 of 32 weights of the first layer
    macs, nonzero = theoretical_macs(model, x, dense)
    assert macs == pytest.approx(16 + 16)
    assert nonzero == pytest.approx(32 / 48)


def test_weight_macs_sum_to_fvcore_on_conv_gru() -> None:
    class ConvGRU(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(3, 6, 3, padding=1)
            self.gru = nn.GRU(6, 5, num_layers=2, batch_first=True)
            self.head = nn.Linear(5, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.gru(self.conv(x).transpose(1, 2))[0])

    model, x = ConvGRU().eval(), torch.randn(1, 3, 7)
    assert sum(weight_macs(model, x).values()) == count_macs(model, x)


def test_sparse_candidates_are_measured_dense_and_claim_theoretical() -> None:
    task = SyntheticTask(**TINY)
    torch.manual_seed(0)
    candidates = MagnitudeUnstructured(sparsities=(0.5, 0.8), steps=2).run(task, RunContext(seed=0, count_macs=count_macs))
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
