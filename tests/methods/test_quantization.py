import pytest
import torch

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.methods.base import RunContext
from tradeoff_bench.methods.quantization import Quantization, weight_bytes
from tradeoff_bench.tasks.synthetic import SyntheticTask

MLP = SyntheticTask(in_features=64, max_width=256, n_train=512, n_val=16, n_test=256, epochs=4)
CONV = SyntheticTask(
    model="conv", depth=2, in_features=32, max_width=128, length=8, n_train=256, n_val=16, n_test=128, epochs=3
)


def _run(task: SyntheticTask, **settings: object) -> dict:
    torch.manual_seed(0)
    method = Quantization(**{"calibration_batches": 4, **settings})
    return {c.facts["mode"]: c for c in method.run(task, RunContext(seed=0, count_macs=count_macs))}


@pytest.fixture(scope="module")
def mlp() -> dict:
    return _run(MLP, modes=("dynamic", "static"))


@pytest.mark.parametrize("mode", ["dynamic", "static"])
def test_int8_mlp_claims_float_macs_bytes_and_bops(mlp: dict, mode: str) -> None:
    candidate = mlp[mode]
    x = MLP.example_input()
    macs = count_macs(candidate.cost_model, x)
    assert macs == count_macs(MLP.build_model(), x)
    facts = candidate.facts
    assert facts["weight_bits"] == facts["activation_bits"] == 8
    assert facts["quantized_modules"] == ["0", "3"] and facts["fallback"] is None
    assert facts["bops"] == macs * 64 == facts["macs"] * 64
    weights = sum(p.numel() for name, p in candidate.cost_model.named_parameters() if name.endswith("weight"))
    biases = sum(p.numel() for name, p in candidate.cost_model.named_parameters() if name.endswith("bias"))
    assert weights + 4 * biases < facts["weight_bytes"] < weights + 4 * biases + 8 * (biases + 2)
    assert facts["weight_bytes"] == weight_bytes(candidate.model)
    assert facts["weight_bytes"] < facts["float_weight_bytes"] / 3
    assert candidate.train_epochs == 4 and candidate.model(x).shape == (1, MLP.out_features)


def test_int8_outputs_stay_close_to_float(mlp: dict) -> None:
    for candidate in mlp.values():
        float_mse = MLP.evaluate(candidate.cost_model)["mse"]
        int8_mse = MLP.evaluate(candidate.model)["mse"]
        assert abs(int8_mse - float_mse) < 0.05 * float_mse + 1e-3, (candidate.label, float_mse, int8_mse)


def test_static_quantises_convolutions_that_dynamic_leaves_float() -> None:
    candidates = _run(CONV, modes=("dynamic", "static", "qat"), epochs=2, qat_epochs=1)
    assert candidates["dynamic"].facts["quantized_modules"] == []
    assert candidates["dynamic"].facts["bops"] == candidates["dynamic"].facts["macs"] * 32 * 32
    for mode in ("static", "qat"):
        facts = candidates[mode].facts
        assert facts["quantized_modules"] == ["0", "3", "6"] and facts["bops"] == facts["macs"] * 64
        assert CONV.evaluate(candidates[mode].model)["mse"] < CONV.reference_metric
    assert candidates["qat"].train_epochs == 3 and candidates["static"].train_epochs == 2


def test_qat_trains_and_totals_the_recipe_epochs() -> None:
    method = Quantization(modes=("qat",), qat_epochs=1)
    assert method.float_epochs(MLP, "qat") == 3 and method.float_epochs(MLP, "dynamic") == 4
    candidate = _run(MLP, modes=("qat",), qat_epochs=1)["qat"]
    assert candidate.train_epochs == MLP.recipe.epochs
    assert MLP.evaluate(candidate.model)["mse"] < 0.9 * MLP.reference_metric


def test_an_int8_graph_that_does_not_run_falls_back_to_dynamic() -> None:
    """FX converts a plain ResNet whose first residual sum adds a quantised tensor (through an
    nn.Identity shortcut) to a float one, a graph that raises when run: static and QAT say so and
    give the dynamic model of the float one, which runs."""
    from tradeoff_bench.tasks.asvspoof.task import ASVspoofTask

    task = ASVspoofTask(
        **{**ASVspoofTask.tiny_variants[0], "model": "tests.user_models.plain_resnet:build", "epochs": 1}
    )
    candidates = _run(task, modes=("static", "qat"), qat_epochs=1, calibration_batches=1)
    for mode, candidate in candidates.items():
        assert candidate.facts["fallback"].startswith("FX's int8 graph does not run (RuntimeError)"), mode
        assert candidate.model(task.example_input()).shape == (1, 2)


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="modes"):
        Quantization(modes=("fp16",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backend"):
        Quantization(backend="tpu")
