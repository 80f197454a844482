"""noisy-gates: gate semantics, exact extraction, the complexity model's cost, landing on a budget."""

from __future__ import annotations

import math

import pytest
import torch

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.methods import RunContext
from tradeoff_bench.methods.channels import knob_axes
from tradeoff_bench.methods.dcl.budget import TOLERANCE
from tradeoff_bench.methods.dcl.complexity import fit_complexity
from tradeoff_bench.methods.noisy_gates import NoisyGates, NoisyGatesMethod, realise
from tradeoff_bench.tasks.synthetic import SyntheticTask

FAMILIES = {
    "mlp": SyntheticTask(n_train=256, n_val=64, n_test=128, max_width=16, teacher_width=4, depth=2),
    "conv": SyntheticTask(
        n_train=128, n_val=32, n_test=64, max_width=8, teacher_width=4, depth=2, model="conv", length=6
    ),
}


def test_gates_clamp_noise_in_training_and_mu_at_evaluation() -> None:
    gates = NoisyGates(sigma=0.5)
    gate = gates("k", 1000, -1)
    with torch.no_grad():
        gates.mus["k"].copy_(torch.linspace(-1, 2, 1000))
    x = torch.ones(3, 1000)
    gate.eval()
    torch.testing.assert_close(gate(x)[0], gates.mus["k"].detach().clamp(0, 1))
    gate.train()
    gates.resample_()
    z = gate(x)[0]
    assert 0 <= z.min() and z.max() <= 1 and not torch.equal(z, gates.mus["k"].detach().clamp(0, 1))
    torch.testing.assert_close(gate(x)[0], z)  # one draw per step, shared by the knob's sites
    expected = sum(0.5 * (1 + math.erf(m / 0.5 / math.sqrt(2))) for m in gates.mus["k"].tolist())
    assert gates.effective_widths()["k"].item() == pytest.approx(expected, rel=1e-4)
    assert gates.kept_widths()["k"] == int((gates.mus["k"] > 0).sum())


@pytest.mark.parametrize("family", list(FAMILIES))
def test_extracted_model_equals_the_gated_model_and_the_complexity_model(family: str) -> None:
    task = FAMILIES[family]
    torch.manual_seed(0)
    gates = NoisyGates(sigma=0.5)
    model = task.build_model(gate=gates).eval()
    with torch.no_grad():
        for mu in gates.mus.values():
            mu.copy_(torch.randn(mu.shape))
    widths = gates.kept_widths()
    assert all(w < task.knobs[k] for k, w in widths.items())
    plain = realise(task, model, knob_axes(task), gates, widths)
    assert not any(isinstance(m, type(model[2])) for m in plain.modules() if m is not plain)
    x = next(task.batches("val", 32))[0]
    with torch.no_grad():
        torch.testing.assert_close(plain(x), model(x), rtol=1e-5, atol=1e-5)
    assert count_macs(plain, task.example_input()) == fit_complexity(task, count_macs).exact(widths)


def test_settling_keeps_the_highest_mu_channels_open_and_closes_the_rest_for_good() -> None:
    gates = NoisyGates(sigma=0.5)
    gate = gates("k", 8, -1)
    before = torch.tensor([0.9, -0.4, 0.2, -1.5, 0.05, -0.1, 1.4, -0.8])
    with torch.no_grad():
        gates.mus["k"].copy_(before)
    changed = gates.settle_({"k": 5})  # the top five: 1.4, 0.9, 0.2, 0.05 and -0.1 (was shut)
    kept = set(before.argsort(descending=True)[:5].tolist())
    assert changed == {"k": 1}

    def open_gates() -> set[int]:
        return set(torch.nonzero(gates.mus["k"] > 0).flatten().tolist())

    assert gates.kept_widths() == {"k": 5} and open_gates() == kept
    gate.train()
    for _ in range(20):  # noise still moves the kept gates, never a closed one
        gates.resample_()
        z = gate(torch.ones(1, 8))[0]
        assert all(z[c] == 0 for c in range(8) if c not in kept)
    with torch.no_grad():
        gates.mus["k"].sub_(1.0)  # a step that would shut kept gates
        gates.mus["k"][3] = 2.0  # and open a closed one
    gates.project_()
    assert gates.kept_widths() == {"k": 5} and open_gates() == kept


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="mode"):
        NoisyGatesMethod(mode="hinge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="budget"):
        NoisyGatesMethod(budget=1.5)
    with pytest.raises(ValueError, match="sigma"):
        NoisyGatesMethod(sigma=0.0)


@pytest.mark.slow
@pytest.mark.parametrize("budget", [0.25, 0.5])
def test_budget_mode_lands_near_the_requested_macs(budget: float) -> None:
    """Synthetic defaults (64 hidden units, teacher width 16, 40 epochs): a few seconds each."""
    task = SyntheticTask()
    torch.manual_seed(0)
    (candidate,) = NoisyGatesMethod(mode="budget", budget=budget).run(task, RunContext(seed=0, count_macs=count_macs))
    fraction = count_macs(candidate.model, task.example_input()) / count_macs(task.build_model(), task.example_input())
    assert fraction == candidate.facts["achieved_fraction"]
    assert budget - TOLERANCE <= fraction <= budget, candidate.facts
    assert task.evaluate(candidate.model)["mse"] < 0.5 * task.reference_metric


def test_with_knobs_only_those_are_gated_and_the_candidate_is_the_trained_model() -> None:
    """The paper's SG gates the mel bands only: `knobs` leaves the other knobs full and ungated."""
    task = FAMILIES["mlp"]
    torch.manual_seed(0)
    method = NoisyGatesMethod(mode="budget", budget=0.5, knobs=("hidden1",), epochs=2)
    (candidate,) = method.run(task, RunContext(seed=0, count_macs=count_macs))
    assert candidate.widths["hidden2"] == task.knobs["hidden2"]
    assert candidate.widths["hidden1"] < task.knobs["hidden1"]
    assert set(candidate.facts["expected_K"]) == {"hidden1"} and candidate.label.endswith("-hidden1")
    x = next(task.batches("test", 64))[0]
    with torch.no_grad():
        torch.testing.assert_close(candidate.model.eval()(x), candidate.trained.eval()(x), rtol=1e-5, atol=1e-5)
    assert count_macs(candidate.model, task.example_input()) == candidate.facts["predicted_macs"]
    with pytest.raises(Exception, match="hidden9"):
        NoisyGatesMethod(knobs=("hidden9",)).check(task)


def test_an_ordered_knob_keeps_its_channels_in_place_up_to_the_last_open_gate() -> None:
    gates = NoisyGates(sigma=0.5, ordered=["bands"])
    gates("bands", 5, 1), gates("units", 5, 1)
    for mu in gates.mus.values():
        mu.data = torch.tensor([0.9, -1.0, 0.4, -1.0, -1.0])
    assert gates.kept_widths() == {"bands": 3, "units": 2}
    assert gates.keep_order("bands", gates.mus["bands"]).tolist() == [0, 1, 2, 3, 4]
    assert gates.keep_order("units", gates.mus["units"]).tolist()[:2] == [0, 2]
    gates.settle_({"bands": 2, "units": 2})
    assert gates.kept is not None and gates.kept["bands"].tolist() == [True, True, False, False, False]
