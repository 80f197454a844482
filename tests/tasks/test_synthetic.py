import pytest
import torch

from tradeoff_bench.core.registry import SettingError
from tradeoff_bench.tasks.synthetic import SyntheticTask

SMALL = {"n_train": 256, "n_val": 64, "n_test": 128}


def test_data_is_fixed_by_data_seed_and_not_by_global_rng() -> None:
    torch.manual_seed(1)
    first = next(SyntheticTask(**SMALL).batches("test", 8))
    torch.manual_seed(2)
    second = next(SyntheticTask(**SMALL).batches("test", 8))
    other = next(SyntheticTask(**SMALL, data_seed=1).batches("test", 8))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[1], other[1])


def test_loading_data_does_not_move_the_training_rng() -> None:
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    assert SyntheticTask(**SMALL).reference_metric is not None
    assert torch.equal(torch.rand(1), expected)


def test_teacher_sized_student_reaches_the_noise_floor_and_narrow_one_cannot() -> None:
    """The premise of the task: width r suffices, widths well below r do not."""
    task = SyntheticTask(**SMALL)
    x, y = task._data["test"]
    teacher = task._teacher(torch.Generator().manual_seed(task.data_seed))
    with torch.no_grad():
        floor = torch.nn.functional.mse_loss(teacher(x), y).item()
    assert floor == pytest.approx(task.noise_std**2, rel=0.25)
    assert task.reference_metric > 20 * floor


@pytest.mark.parametrize("model", ["mlp", "conv"])
def test_widths_shape_the_model(model: str) -> None:
    task = SyntheticTask(model=model, depth=2, **SMALL)
    assert task.knobs == {"hidden1": 64, "hidden2": 64}
    small = task.build_model({"hidden1": 5})
    params = {name: p.shape for name, p in small.named_parameters()}
    assert params["0.weight"][0] == 5 and params["3.weight"][1] == 5 and params["3.weight"][0] == 64
    out = small(task.example_input())
    assert out.shape[:2] == (1, task.out_features)


def test_bad_widths_and_settings_are_rejected() -> None:
    task = SyntheticTask(**SMALL)
    with pytest.raises(SettingError, match="Did you mean: hidden1"):
        task.build_model({"hiden1": 3})
    with pytest.raises(SettingError, match="outside"):
        task.build_model({"hidden1": 65})
    with pytest.raises(ValueError):
        SyntheticTask(teacher_width=100)
