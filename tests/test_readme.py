"""The README's worked method file must run as printed."""

import re
from pathlib import Path

import pytest
import torch

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.methods import METHODS, RunContext
from tradeoff_bench.tasks.synthetic import SyntheticTask

README = Path(__file__).resolve().parents[1] / "README.md"


def test_worked_method_example_registers_and_yields_smaller_models(monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"```python\n(# methods/norm_prune.py\n.*?)```", README.read_text(), re.S)
    assert block, "README lost its worked method example"
    monkeypatch.setattr(METHODS, "_entries", dict(METHODS._entries))
    exec(compile(block.group(1), "README:norm_prune", "exec"), {"__name__": "norm_prune_example"})
    method = METHODS.get("norm-prune")(**METHODS.get("norm-prune").tiny_settings)
    task = SyntheticTask(**SyntheticTask.tiny_variants[0])
    torch.manual_seed(0)
    [candidate] = method.run(task, RunContext(seed=0, count_macs=count_macs))
    full_macs = count_macs(task.build_model(), task.example_input())
    assert count_macs(candidate.model, task.example_input()) < full_macs
    assert candidate.widths == {"hidden1": 8}


def test_worked_model_example_lists_the_knobs_the_readme_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradeoff_bench.bench.cli import main

    text = README.read_text()
    block = re.search(r"```python\n(import torch\nfrom torch import nn\n\n\nclass MyVAD.*?)```", text, re.S)
    listing = re.search(r"```text\n(vad \(my_vad\.py:build\).*?)```", text, re.S)
    assert block and listing, "README lost its worked model example"
    (tmp_path / "my_vad.py").write_text(block.group(1))
    monkeypatch.chdir(tmp_path)  # the relative FILE.py path of the README's command
    assert main(["list", "--task", "vad", "--task-set", "model=my_vad.py:build"]) == 0
    assert capsys.readouterr().out == listing.group(1)
