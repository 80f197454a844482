"""Bring your own model: a builder named by `model=`, checked against the task's contract, its knobs
found automatically, every method on it from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_args import task_settings
from tradeoff_bench.bench.cli import main
from tradeoff_bench.core.registry import SettingError
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
