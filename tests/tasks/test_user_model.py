"""Bring your own model: a builder named by `model=`, checked against the task's contract, its knobs
found automatically, every method on it from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli_args import task_settings
from tradeoff_bench.bench.cli import main
from tradeoff_bench.core.registry import SettingError
from tradeoff_bench.tasks.base import Task
from tradeoff_bench.tasks.vad.task import VadTask

TINY = {**VadTask.tiny_variants[0]}
MODEL_FILE = """
import torch
from torch import nn


class MyVAD(nn.Module):
    def __init__(self):
        super().__init__()
        self.front = nn.Sequential(nn.Conv1d(201, 16, 3, padding=1), nn.BatchNorm1d(16), nn.ReLU())
        self.body = nn.Sequential(nn.Conv1d(16, 12, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(12, 1)

    def forward(self, power):
        x = self.body(self.front(torch.log1p(power)))
        return self.head(x.transpose(1, 2)).squeeze(-1)


def build():
    return MyVAD()


def wrong_shape():
    return nn.Conv1d(201, 1, 1)


def not_a_module():
    return 3


class OutputOnly(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Conv1d(201, 1, 1)

    def forward(self, power):
        return self.head(torch.log1p(power)).squeeze(1)


def output_only():
    return OutputOnly()
"""


def vad(model: str) -> VadTask:
    return VadTask(**{**TINY, "model": model})


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "my_vad.py"  # outside the repository, importing nothing of the suite
    path.parent.mkdir()
    path.write_text(MODEL_FILE)
    return path


def test_knobs_are_found_with_their_widths_and_the_rest_is_named(model_file: Path) -> None:
    task = vad(f"{model_file}:build")
    assert task.knobs == {"front.0": 16, "body.0": 12}  # the head's output is the model's: never a knob
    assert task.user_family.notes == []
    deepspeech = vad("tests.user_models.deepspeech:build")
    assert "model.bi_rnn" not in deepspeech.knobs
    assert any(note.startswith("model.bi_rnn: not a knob") for note in deepspeech.user_family.notes)


def test_a_grus_hidden_size_is_a_knob_gated_inside_its_recurrence() -> None:
    import torch

    from tradeoff_bench.methods.slicing import copy_leading_channels
    from tradeoff_bench.tasks.user_model import GatedGRU

    task = vad("tests.user_models.frame_gru:build")
    assert task.knobs == {"front.0": 12, "gru": 10}  # the convolution feeding the GRU too: its input
    assert task.user_family.notes == []

    class Mask(torch.nn.Module):  # channels from `width` on gated off, as a trained mask would
        def __init__(self, knob: str, width: int, axis: int) -> None:
            super().__init__()
            self.scale = torch.arange(width) < width * 6 // 10

        def channel_scale(self) -> torch.Tensor:
            return self.scale.float()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.scale

    torch.manual_seed(0)
    gated = task.build_model(gate=Mask)
    assert isinstance(gated.gru, GatedGRU) and list(gated.gru.knob_gate.parameters()) == []
    assert gated.gru.knob_input_gate.scale.sum() == 7  # the input's gate beside the hidden size's
    narrow = task.build_model({"front.0": 7, "gru": 6}).eval()
    copy_leading_channels(gated, narrow)  # each GRU gate block's leading units, as extraction takes them
    x = next(task.batches("test", 2))[0]
    torch.testing.assert_close(gated.eval()(x), narrow(x), rtol=1e-5, atol=1e-6)


def test_the_model_at_widths_is_the_full_model_sliced(model_file: Path) -> None:
    task = vad(f"{model_file}:build")
    narrow = dict(task.build_model({"front.0": 5, "body.0": 7}).named_parameters())
    assert narrow["front.0.weight"].shape == (5, 201, 3) and narrow["front.1.weight"].shape == (5,)
    assert narrow["body.0.weight"].shape == (7, 5, 3) and narrow["head.weight"].shape == (1, 7)
    assert list(narrow) == [name for name, _ in task.build_model().named_parameters()]  # names never change


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{file}:nope", "has no 'nope'"),
        ("{file}:wrong_shape", "it returned (2, 1, 100) float32; the task needs (2, 100) float32"),
        ("{file}:not_a_module", "returned int, not a torch.nn.Module"),
        ("{file}:output_only", "has no width knob, so no method can narrow it (its only prunable layer is the output"),
        ("/no/such/file.py:build", "does not exist"),
        ("no_such_module:build", "cannot be imported"),
        ("no-such-entry-point", "is not one of crnn, transformer, paper-crnn, paper-transformer, nor a builder"),
    ],
)
def test_a_bad_builder_is_one_line_that_says_what_is_wrong(model_file: Path, spec: str, message: str) -> None:
    with pytest.raises(SettingError) as err:
        vad(spec.format(file=model_file)).knobs  # noqa: B018
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_entry_point_names_a_builder(model_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    entry = importlib.metadata.EntryPoint("my-vad", f"{model_file.stem}:build", "tradeoff_bench.models")
    monkeypatch.syspath_prepend(str(model_file.parent))
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [entry] if group == entry.group else [])
    assert vad("my-vad").knobs == {"front.0": 16, "body.0": 12}


def test_list_prints_the_knobs_and_the_macs_they_control(model_file: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["list", "--task", "vad", "--task-set", f"model={model_file}:build"]) == 0
    out = capsys.readouterr().out
    assert "front.0     16 channels" in out and "body.0      12 channels" in out and "MACs (" in out


@pytest.mark.slow
def test_every_method_runs_on_a_model_file_from_the_command_line(model_file: Path, tmp_path: Path) -> None:
    """The issue's acceptance run: dense, dcl, magnitude, quantization and noisy-gates on a user's file,
    two worker processes; budgets cap the MACs, and every candidate is ok."""
    out = tmp_path / "run"
    tiny = {k: str(v).lower() if isinstance(v, bool) else v for k, v in TINY.items()}
    args = [
        "run",
        "--task",
        "vad",
        *task_settings(model=f"{model_file}:build", **tiny),
        "--method",
        "dense,dcl,magnitude,quantization,noisy-gates",
        "--set",
        "multipliers=[0.5, 1.0]",
        "--set",
        "mode=budget",
        "--set",
        "budget=0.5",
        "--set",
        "targets=[0.5]",
        "--set",
        "modes=['dynamic']",
        "--jobs",
        "2",
        "--out",
        str(out),
        "--no-progress",
        "--no-latency",
    ]
    assert main(args) == 0
    records = [json.loads(p.read_text()) for p in (out / "records").glob("*.json")]
    mine = [r for r in records if r["method"] != "peers"]
    assert {r["method"] for r in mine} == {"dense", "dcl", "magnitude", "quantization", "noisy-gates"}
    assert all(r["status"] == "ok" for r in mine)
    full = next(r["macs"] for r in mine if r["method"] == "dense" and r["label"] == "x1")
    for record in mine:
        if record["method"] in ("dcl", "noisy-gates", "magnitude") or record["label"] == "x0.5":
            assert record["macs"] <= 0.5 * full, (record["method"], record["label"], record["macs"], full)


def test_an_edit_of_the_model_file_changes_the_cells_code_identity(model_file: Path) -> None:
    from tradeoff_bench.bench.grid import resolve_cell

    def identity(model: str) -> dict[str, str]:
        return resolve_cell("vad", {**TINY, "model": model}, "dense", {}, 0).plugin_code

    before = identity(f"{model_file}:build")
    assert len(before) == 1 and identity("crnn") == {}
    model_file.write_text(MODEL_FILE + "\n# tuned\n")
    assert identity(f"{model_file}:build") != before  # a finished cell of the old file is stale, not reused


SYNTHETIC_MODEL = """
from torch import nn


def build():
    return nn.Sequential(nn.Linear(20, 24), nn.ReLU(), nn.Linear(24, 12), nn.Tanh(), nn.Linear(12, 4))
"""


def test_synthetic_takes_a_model_of_yours_on_its_vector_data(tmp_path: Path) -> None:
    from tradeoff_bench.tasks.synthetic import SyntheticTask

    path = tmp_path / "my_mlp.py"
    path.write_text(SYNTHETIC_MODEL)
    task = SyntheticTask(model=f"{path}:build", n_train=64, n_val=16, n_test=32, epochs=1)
    assert task.knobs == {"0": 24, "2": 12} and task.corpus == SyntheticTask().corpus  # the mlp data, its name
    x, y = next(task.batches("test", 8))
    narrow = task.build_model({"0": 10, "2": 6})
    assert narrow(x).shape == y.shape and narrow[0].out_features == 10 and narrow[2].in_features == 10
    wrong = tmp_path / "wrong_mlp.py"
    wrong.write_text(SYNTHETIC_MODEL.replace("nn.Linear(12, 4)", "nn.Linear(12, 3)"))
    with pytest.raises(SettingError, match=r"returned \(2, 3\) float32; the task needs \(2, 4\) float32"):
        SyntheticTask(model=f"{wrong}:build").knobs  # noqa: B018
    settings = task_settings(model=f"{path}:build", n_train=64, n_val=16, n_test=32, epochs=2)
    out = tmp_path / "run"
    args = ["run", "--task", "synthetic", *settings, "--method", "dense,dcl", "--set", "multipliers=[0.5, 1.0]"]
    assert main([*args, "--out", str(out), "--no-progress", "--no-latency"]) == 0
    records = [json.loads(p.read_text()) for p in (out / "records").glob("*.json")]
    assert {r["method"] for r in records} == {"dense", "dcl"} and all(r["status"] == "ok" for r in records)


def test_the_built_in_mlp_rebuilt_as_a_plain_module_has_the_same_knobs_and_macs(tmp_path: Path) -> None:
    """synthetic's MLP family written as a user would (an nn.Sequential): one knob per hidden layer,
    found automatically, and fvcore's MACs equal to the hand-declared family's at every width."""
    from tradeoff_bench.core.flops import count_macs
    from tradeoff_bench.tasks.synthetic import SyntheticTask

    path = tmp_path / "plain_mlp.py"
    path.write_text(
        "from torch import nn\n\n\ndef build():\n"
        "    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))\n"
    )
    built_in, plain = SyntheticTask(depth=2), SyntheticTask(depth=2, model=f"{path}:build")
    assert list(plain.knobs.values()) == list(built_in.knobs.values()) == [64, 64]
    example = built_in.example_input()
    for widths in ((64, 64), (40, 64), (64, 9), (3, 17), (1, 1)):
        ours = built_in.build_model(dict(zip(built_in.knobs, widths)))
        theirs = plain.build_model(dict(zip(plain.knobs, widths)))
        assert count_macs(theirs, example) == count_macs(ours, example), widths


def _vad_task(model: str) -> Task:
    return VadTask(model=model)


def _asvspoof_task(model: str) -> Task:
    from tradeoff_bench.tasks.asvspoof.task import ASVspoofTask

    return ASVspoofTask(model=model)


BLOCKS = [f"blocks.{i}" for i in range(2)]
PLAIN_FAMILIES = [
    pytest.param(
        _vad_task,
        "crnn",
        "tests.user_models.plain_crnn:build",
        {"mels": ["mel"], "conv": ["conv1.0", "conv2.0"], "gru": ["gru"]},
        id="vad-crnn",
    ),
    pytest.param(
        _vad_task,
        "transformer",
        "tests.user_models.plain_transformer:build",
        {
            "mels": ["mel"],
            "d_model": ["front.0"] + [f"{b}.query" for b in BLOCKS],
            "ffn": [f"{b}.ffn_in" for b in BLOCKS],
        },
        id="vad-transformer",
    ),
    pytest.param(
        _vad_task,
        "paper-transformer",
        "tests.user_models.plain_paper_transformer:build",
        {
            "mels": ["mel", "project"] + [f"{b}.query" for b in BLOCKS],
            "3*mels": [f"{b}.ffn_in" for b in BLOCKS],
        },
        id="vad-paper-transformer",
    ),
    pytest.param(
        _asvspoof_task,
        "resnet34",
        "tests.user_models.plain_resnet:build",
        {
            f"stage{i + 1}": [f"stages.{i}.conv1.0"] + (["stem.0"] if i == 0 else [f"stages.{i}.conv2.0"])
            for i in range(4)
        },
        id="asvspoof2019-resnet",
    ),
    pytest.param(  # max-feature-maps over halves: each knob pools two of its convolution's channels
        _asvspoof_task,
        "lcnn",
        "tests.user_models.plain_lcnn:build",
        {
            "block1": ["body.0", "body.3"],
            "block2": ["body.6", "body.10"],
            "block3": ["body.13", "body.16"],
            "block4": ["body.19", "body.22"],
            "block5": ["body.25"],
            "fc": ["fc1"],
        },
        id="asvspoof2019-lcnn",
    ),
]


@pytest.mark.parametrize(("make", "family", "plain", "tied"), PLAIN_FAMILIES)
def test_the_built_in_families_rebuilt_as_plain_modules_have_the_same_knobs_and_macs(
    make: Callable[[str], Task], family: str, plain: str, tied: dict[str, list[str]]
) -> None:
    """A built-in family written as plain PyTorch: the knobs found automatically are the hand-declared
    ones, where a hand-declared knob ties several groups that the graph finds apart (`tied`: the
    two convolutions of the CRNN, the Transformer's residual stream with its attention width; "3*mels":
    the paper Transformer's feed-forward of three groups of the band count), and fvcore's MACs agree at
    every width tried."""
    import random

    from tradeoff_bench.core.flops import count_macs

    def user_widths(widths: dict[str, int]) -> dict[str, int]:
        found = {}
        for spec, autos in tied.items():
            factor, _, knob = spec.rpartition("*")
            found |= {auto: int(factor or 1) * widths[knob] for auto in autos}
        return found

    built_in, user = make(family), make(plain)
    assert user.user_family.notes == []
    assert user.knobs == user_widths(built_in.knobs)
    if "transformer" in family:  # query and key meet in a product no layer reads: gated at their outputs
        assert user.user_family.knobs["blocks.0.query"].writers == ("blocks.0.query", "blocks.0.key", "blocks.0.value")
    example = built_in.example_input()
    draw = random.Random(0)
    for case in range(6):
        widths = {
            k: (full if case == 0 else 1 if case == 1 else draw.randint(1, full)) for k, full in built_in.knobs.items()
        }
        theirs = user.build_model(user_widths(widths))
        assert count_macs(theirs.eval(), example) == count_macs(built_in.build_model(widths).eval(), example), widths


def test_the_paper_crnn_rebuilt_as_a_plain_module_has_its_bands_as_a_row_knob() -> None:
    """The paper CRNN's 2-D convolutions slide over the mel bands: a band is a row of every feature
    map until the projection reads them flattened, not a channel the dependency graph can follow. The
    bands are still found, as rows (`Knob.flattened`), with the hand-declared family's full width,
    beside its channel knobs (and the second convolution's and the projection's, which the family
    keeps fixed); fvcore's MACs agree at every width, bands included."""
    import random

    from tradeoff_bench.core.flops import count_macs

    built_in, user = (
        VadTask(model="paper-crnn", paper_width=1 / 16),
        _vad_task("tests.user_models.plain_paper_crnn:build"),
    )
    assert user.knobs == {
        "mel": built_in.knobs["mels"],
        "convs.0.0": built_in.knobs["conv"],
        "convs.1.0": 8,
        "project": 7,
        "gru": built_in.knobs["gru"],
    }
    mel = user.user_family.knobs["mel"]
    assert (mel.flattened, mel.row_features, mel.axis) == ("project", 2, 2)
    assert mel.readers == ("convs.0.0", "convs.1.0", "convs.2.0")
    example = built_in.example_input()
    draw = random.Random(0)
    widths = [(80, 8, 22), (1, 1, 1), (40, 8, 22)]
    for mels, conv, gru in widths + [(draw.randint(1, 80), draw.randint(1, 8), draw.randint(1, 22)) for _ in range(3)]:
        theirs = user.build_model({**user.knobs, "mel": mels, "convs.0.0": conv, "gru": gru})
        ours = built_in.build_model({"mels": mels, "conv": conv, "gru": gru})
        assert count_macs(theirs.eval(), example) == count_macs(ours.eval(), example), (mels, conv, gru)


ROWS_READ_CHANNEL_MAJOR = """
import torch
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.front = nn.Conv1d(201, 16, 1)
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.head = nn.Linear(3 * 16, 1)

    def forward(self, power):
        rows = self.conv(self.front(power).unsqueeze(1))  # (B, 3, 16, T)
        return self.head(rows.permute(0, 3, LAYOUT).flatten(2)).squeeze(-1)


def build():
    return Model()
"""


@pytest.mark.parametrize(("layout", "found"), [("2, 1", True), ("1, 2", False)])
def test_rows_are_a_knob_only_where_the_flattening_layer_reads_each_row_whole(
    tmp_path: Path, layout: str, found: bool
) -> None:
    """A layer's channels under a 2-D convolution are rows; flattened row-major (each row's features
    adjacent) they are a knob whose gated model is its sliced one, flattened channel-major they would
    need another slicing: a note, never a mis-sliced knob."""
    path = tmp_path / "rows.py"
    path.write_text(ROWS_READ_CHANNEL_MAJOR.replace("LAYOUT", layout))
    if not found:  # its only other group, the convolution's channels, is flattened into the head too
        with pytest.raises(SettingError, match=r"front: not a knob \(.*head does not read each as 3 adjacent"):
            _ = _vad_task(f"{path}:build").knobs
        return
    knob = _vad_task(f"{path}:build").user_family.knobs["front"]
    assert (knob.flattened, knob.row_features, knob.readers, knob.writers) == ("head", 3, ("conv",), ("conv",))


def test_a_trial_that_cannot_tell_is_tried_again_on_redrawn_weights(tmp_path: Path) -> None:
    """With the layer that reads the rows initialised to zero (as residual branches often are), gating
    them changes nothing, so a trial on the model's own weights cannot tell whether the gate is exact;
    a row knob is never presumed exact, so it is found only because the trial is repeated on re-drawn
    weights."""
    path = tmp_path / "zeroed.py"
    path.write_text(
        ROWS_READ_CHANNEL_MAJOR.replace("LAYOUT", "2, 1").replace(
            "        self.head = nn.Linear(3 * 16, 1)\n",
            "        self.head = nn.Linear(3 * 16, 1)\n        nn.init.zeros_(self.head.weight)\n",
        )
    )
    assert "zeros_" in path.read_text()
    assert _vad_task(f"{path}:build").knobs == {"front": 16}


MAX_FEATURE_MAP_MLP = """
import torch
from torch import nn


class MaxFeatureMap(nn.Module):
    def forward(self, x):
        if HALVES:
            first, second = torch.split(x, x.shape[-1] // 2, dim=-1)
            return torch.max(first, second)
        return x.unflatten(-1, (-1, 2)).amax(-1)


def build():
    return nn.Sequential(nn.Linear(20, 16), MaxFeatureMap(), nn.BatchNorm1d(8), nn.Linear(8, 4))
"""


@pytest.mark.parametrize("halves", [True, False], ids=["halves", "pairs"])
def test_a_max_feature_map_makes_a_pooled_knob_whose_extraction_is_the_gated_model(
    tmp_path: Path, halves: bool
) -> None:
    """A max-feature-map between a layer and its reader: the knob is the reader's 8 channels, each the
    max of two of the layer's 16 (halves i, i + 8: the layer's tensors are sliced per half; pairs 2i,
    2i + 1: leading slices keep whole pairs), and the model extracted at a width computes what the
    full model gated to that width computes."""
    import torch

    from tradeoff_bench.methods.slicing import extract
    from tradeoff_bench.tasks.synthetic import SyntheticTask
    from tradeoff_bench.tasks.user_model import _KeepLeading

    path = tmp_path / "mfm_mlp.py"
    path.write_text(MAX_FEATURE_MAP_MLP.replace("HALVES", str(halves)))
    task = SyntheticTask(model=f"{path}:build")
    knob = task.user_family.knobs["0"]
    assert task.knobs == {"0": 8} and knob.pooled == 2 and knob.stacked == (("0",) if halves else ())
    torch.manual_seed(1)
    full = task.build_model(gate=lambda name, width, axis: _KeepLeading(width, 3, axis)).eval()
    for module in full.modules():  # statistics that let a leaked channel show
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_()
            module.bias.data.normal_()
    narrow = extract(task, full, {"0": 3})
    assert narrow[0].out_features == 6 and narrow[3].in_features == 3
    x = torch.randn(5, 20)
    torch.testing.assert_close(narrow(x), full(x))
