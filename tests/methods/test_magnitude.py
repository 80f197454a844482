"""Structured magnitude pruning: claimed MACs are the measured ones, RNN gate blocks, collapse guard."""

import copy
from typing import get_args

import pytest
import torch
import torch_pruning as tp
from torch import nn

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.core.pruning_graph import NORMALIZERS, LayerCollapseError, Pruner, check_widths, layer_widths
from tradeoff_bench.core.pruning_rnn import rnn_pruners
from tradeoff_bench.core.registry import SettingError, configure
from tradeoff_bench.methods import RunContext
from tradeoff_bench.methods.compress import EpochBudget
from tradeoff_bench.methods.magnitude import Magnitude, Normalizer
from tradeoff_bench.tasks.synthetic import SyntheticTask

TINY = {"n_train": 256, "n_val": 64, "n_test": 128, "epochs": 2, "max_width": 16, "teacher_width": 4}


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_claimed_macs_are_measured_and_meet_target(scope: str) -> None:
    task = SyntheticTask(**TINY, depth=2)
    torch.manual_seed(0)
    candidates = Magnitude(targets=(0.3, 0.6), scope=scope, steps=2).run(
        task, RunContext(seed=0, count_macs=count_macs)
    )
    full = count_macs(task.build_model(), task.example_input())
    fractions = []
    for candidate, target in zip(candidates, (0.3, 0.6)):
        measured = count_macs(candidate.model, task.example_input())
        assert candidate.facts["achieved_fraction"] * full == pytest.approx(measured)
        assert measured <= target * full
        assert candidate.label == f"mag-{scope}-{target:g}"
        assert candidate.facts["layer_widths"] == layer_widths(candidate.model)
        assert candidate.widths["hidden1"] == candidate.model[0].out_features
        assert candidate.widths["hidden2"] == candidate.model[3].out_features
        assert candidate.model[-1].out_features == task.out_features  # output layer never shrunk
        fractions.append(candidate.facts["achieved_fraction"])
    assert fractions[0] < fractions[1]


def test_epoch_split_matches_recipe() -> None:
    task = SyntheticTask(**{**TINY, "epochs": 40})
    budget = Magnitude(steps=3).budget(task)
    assert budget.total == 40 and budget.stages == 3 and budget.finetune > 0
    assert Magnitude(steps=3, pretrain_epochs=31).budget(task) == EpochBudget(31, 3, 3)
    with pytest.raises(ValueError, match="no pre-training"):
        Magnitude(steps=3, finetune_epochs=14).budget(task)


class _ConvRNN(nn.Module):
    def __init__(self, rnn: type[nn.RNNBase]) -> None:
        super().__init__()
        self.conv = nn.Conv1d(3, 6, 3, padding=1)
        self.rnn = rnn(6, 5, num_layers=2, batch_first=True)
        self.head = nn.Linear(5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(torch.relu(self.conv(x)).transpose(1, 2))
        return self.head(y)


@pytest.mark.parametrize("rnn", [nn.GRU, nn.LSTM])
def test_rnn_pruner_equals_hand_sliced_reference(rnn: type[nn.RNNBase]) -> None:
    torch.manual_seed(0)
    model = _ConvRNN(rnn).eval()
    x = torch.randn(2, 3, 7)
    keep_conv, keep_hidden = [0, 2, 3, 4, 5], [0, 2, 4]
    gates = 3 if rnn is nn.GRU else 4
    rows = torch.tensor([g * 5 + k for g in range(gates) for k in keep_hidden])
    hidden, conv = torch.tensor(keep_hidden), torch.tensor(keep_conv)
    ref = _ConvRNN(rnn).eval()
    ref.conv = nn.Conv1d(3, 5, 3, padding=1)
    ref.rnn = rnn(5, 3, num_layers=2, batch_first=True)
    ref.head = nn.Linear(3, 2)
    with torch.no_grad():
        ref.conv.weight.copy_(model.conv.weight[conv])
        ref.conv.bias.copy_(model.conv.bias[conv])
        for k in range(2):
            w_ih = getattr(model.rnn, f"weight_ih_l{k}")[rows]
            getattr(ref.rnn, f"weight_ih_l{k}").copy_(w_ih[:, conv] if k == 0 else w_ih[:, hidden])
            getattr(ref.rnn, f"weight_hh_l{k}").copy_(getattr(model.rnn, f"weight_hh_l{k}")[rows][:, hidden])
            for b in ("bias_ih", "bias_hh"):
                getattr(ref.rnn, f"{b}_l{k}").copy_(getattr(model.rnn, f"{b}_l{k}")[rows])
        ref.head.weight.copy_(model.head.weight[:, hidden])
        ref.head.bias.copy_(model.head.bias)
    graph = tp.DependencyGraph().build_dependency(
        model, example_inputs=x, customized_pruners=rnn_pruners(), verbose=False
    )
    # hidden units through the graph (RNN out channels -> head in channels) ...
    graph.get_pruning_group(model.rnn, graph.get_pruner_of_module(model.rnn).prune_out_channels, [1, 3]).prune()
    # ... input features by hand: tp 1.6's graph cannot group a layer feeding an RNN (IndexError in
    # its index mapping), so the Pruner leaves such producers unpruned; the in-channel path is ours
    tp.prune_conv_out_channels(model.conv, [1])
    rnn_pruners()[rnn].prune_in_channels(model.rnn, [1])
    assert model.rnn.hidden_size == 3 and model.rnn.input_size == 5
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x))


def test_bidirectional_rnn_is_refused() -> None:
    with pytest.raises(NotImplementedError, match="bidirectional"):
        rnn_pruners()[nn.GRU].prune_out_channels(nn.GRU(4, 3, bidirectional=True), [0])


def test_collapsed_layer_raises() -> None:
    before = {"conv": 16, "mfm_conv": 16}
    # the graph meant to drop one channel of `conv` but an operator mis-read halved `mfm_conv`
    with pytest.raises(LayerCollapseError, match="mfm_conv"):
        check_widths(before, {"conv": 15, "mfm_conv": 8}, {"conv": 1}, floor=1)
    with pytest.raises(LayerCollapseError, match="floor"):
        check_widths({"conv": 2}, {"conv": 0}, {"conv": 2}, floor=1)
    check_widths(before, {"conv": 15, "mfm_conv": 16}, {"conv": 1}, floor=1)


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 12), nn.ReLU(), nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 2)).eval()


@pytest.mark.parametrize("scope", ["global", "layerwise"])
@pytest.mark.parametrize("cap", [0.5, 0.75])
def test_cap_bounds_what_any_group_loses(scope: str, cap: float) -> None:
    model = _mlp()
    before = layer_widths(model)
    pruner = Pruner(model, torch.randn(1, 8), scope=scope, step_fraction=0.2, max_ratio=cap)
    while pruner.step():  # prune until every group stands at its cap
        pass
    after = layer_widths(model)
    assert pruner.prunable_channels() == 0
    for name in ("0", "2"):
        lost = before[name] - after[name]
        assert lost <= cap * before[name]
        assert lost == int(cap * before[name])  # the cap is reached, not stopped short of
    assert after["4"] == 2  # the output layer is never pruned


def test_without_a_cap_a_group_can_fall_to_one_channel() -> None:
    model = _mlp()
    pruner = Pruner(model, torch.randn(1, 8), scope="global", step_fraction=1.0)
    pruner.step()
    assert layer_widths(model)["0"] == 1 and layer_widths(model)["2"] == 1


def test_normalizer_changes_the_global_ranking() -> None:
    """Raw norms ("none") rank a group with large weights after every channel of the other; a
    per-group normalisation ranks the two groups' channels together."""
    plans = {}
    for normalizer in ("none", "mean", "max"):
        model = _mlp()
        with torch.no_grad():
            model[0].weight.mul_(100.0)
        Pruner(model, torch.randn(1, 8), scope="global", step_fraction=0.3, normalizer=normalizer).step()
        plans[normalizer] = (12 - model[0].out_features, 10 - model[2].out_features)
    assert plans["none"][0] == 0 and plans["none"][1] > 0
    assert plans["mean"][0] > 0 and plans["max"][0] > 0


def test_cap_and_normalizer_are_validated() -> None:
    assert get_args(Normalizer) == NORMALIZERS
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="max_layer_ratio"):
            Magnitude(max_layer_ratio=bad)
        with pytest.raises(ValueError, match="max_ratio"):
            Pruner(_mlp(), torch.randn(1, 8), max_ratio=bad)
    with pytest.raises(SettingError, match="normalizer"):
        configure(Magnitude, {"normalizer": "median"}, "method 'magnitude'")
    with pytest.raises(ValueError, match="normalizer"):
        Pruner(_mlp(), torch.randn(1, 8), normalizer="median")


def test_target_unreachable_under_the_cap_is_refused_before_training(monkeypatch: pytest.MonkeyPatch) -> None:
    task = SyntheticTask(**TINY, depth=2)

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained before refusing")

    monkeypatch.setattr("tradeoff_bench.methods.compress.fit", no_training)
    monkeypatch.setattr("tradeoff_bench.methods.compress.shared_fit", no_training)  # pre-training's own path
    ctx = RunContext(seed=0, count_macs=count_macs)
    with pytest.raises(ValueError, match=r"targets \[0\.3\].*max_layer_ratio=0\.5"):
        Magnitude(targets=(0.3, 0.8), max_layer_ratio=0.5).run(task, ctx)
    with pytest.raises(AssertionError, match="trained"):  # reachable without the cap: training starts
        Magnitude(targets=(0.3, 0.8)).run(task, ctx)


def test_capped_candidates_keep_half_of_every_layer() -> None:
    task = SyntheticTask(**TINY, depth=2)
    torch.manual_seed(0)
    full_widths = layer_widths(task.build_model())
    (candidate,) = Magnitude(targets=(0.8,), max_layer_ratio=0.5, steps=2).run(
        task, RunContext(seed=0, count_macs=count_macs)
    )
    assert candidate.facts["max_layer_ratio"] == 0.5 and candidate.facts["normalizer"] == "mean"
    assert candidate.facts["target_met"]
    for name, width in candidate.facts["layer_widths"].items():
        assert width >= full_widths[name] / 2


class _HalvesMaxFeatureMap(nn.Module):
    """A max-feature-map over the two halves of a layer's 8 channels (the public LCNNs' form)."""

    def __init__(self) -> None:
        super().__init__()
        self.front, self.out = nn.Linear(6, 8), nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.front(x)
        first, second = h.split(h.shape[-1] // 2, dim=-1)
        return self.out(torch.max(first, second))


def test_a_group_pooled_over_halves_is_pruned_a_whole_pool_at_a_time() -> None:
    """Ranked from its writer, channel i of a max-over-halves would take channel i + 4 along; rooted at
    the reader, one pruned channel is one pool: the writer loses channels j and j + 4, and the model
    computes what the full one computes with pool j's reader weights zeroed."""
    torch.manual_seed(0)
    model, x = _HalvesMaxFeatureMap().eval(), torch.randn(5, 6)
    full = copy.deepcopy(model)
    pruner = Pruner(model, x)
    assert pruner.pooled == {"front"} and [pruner._root(g) for g in pruner.groups] == ["front"]
    assert pruner.step(limit=1) == 1
    rows = [any(torch.equal(row, kept) for kept in model.front.weight) for row in full.front.weight]
    gone = [i for i, kept in enumerate(rows) if not kept]
    assert len(gone) == 2 and gone[1] == gone[0] + 4, gone
    with torch.no_grad():
        full.out.weight[:, gone[0]] = 0
        assert torch.allclose(model(x), full(x), atol=1e-6)
    rebuilt = _HalvesMaxFeatureMap().eval()
    Pruner(rebuilt, x).shrink_to(layer_widths(model))
    assert layer_widths(rebuilt) == {"front": 6, "out": 1} and rebuilt.out.in_features == 3
