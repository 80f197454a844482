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
