from dataclasses import dataclass

import pytest

from tradeoff_bench.bench.cli import main
from tradeoff_bench.core.registry import Epochs
from tradeoff_bench.core.settings_doc import setting_docs


@dataclass
class Base:
    rate: float = 0.1
    """How fast it goes."""


@dataclass
class Child(Base):
    epochs: Epochs | None = None
    """None: the recipe's.
    Second line of the doc."""
    name: str = "x"
    _hidden: int = 0


def test_setting_docs_read_types_defaults_bounds_and_docs_base_first() -> None:
    docs = {d.name: d for d in setting_docs(Child)}
    assert list(docs) == ["rate", "epochs", "name"]
    assert docs["rate"].doc == "How fast it goes." and docs["rate"].default == "0.1"
    assert docs["epochs"].type == "int | None" and docs["epochs"].bounds == "≥ 1"
    assert docs["epochs"].doc == "None: the recipe's. Second line of the doc."
    assert docs["name"].doc == "" and docs["name"].type == "str"


@pytest.mark.parametrize(("name", "setting"), [("dcl", "kappa_step"), ("vad", "n_val"), ("synthetic", "n_train")])
def test_list_name_prints_every_setting(name: str, setting: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", name]) == 0
    out = capsys.readouterr().out
    assert "settings (" in out and f"  {setting} " in out


def test_a_pattern_lists_names_without_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "d*"]) == 0
    assert "settings (" not in capsys.readouterr().out
