from dataclasses import dataclass
from typing import Literal

import pytest

from tradeoff_bench.core.registry import Registry, SettingError, UnknownNameError, configure


def test_unknown_name_suggests_closest_and_lists_known() -> None:
    registry: Registry[int] = Registry("method")
    registry.register("slimmable")(1)
    registry.register("dense")(2)
    with pytest.raises(UnknownNameError) as info:
        registry.get("slimable")
    message = str(info.value)
    assert "Unknown method 'slimable'" in message
    assert "Did you mean: slimmable?" in message
    assert "dense" in message


def test_duplicate_name_is_an_error() -> None:
    registry: Registry[int] = Registry("task")
    registry.register("a")(1)
    with pytest.raises(ValueError, match="twice"):
        registry.register("a")(2)


def test_names_filter_by_pattern_in_natural_order() -> None:
    registry: Registry[int] = Registry("task")
    for name in ("m10", "m2", "magnitude", "dense"):
        registry.register(name)(0)
    assert registry.names("m*") == ["m2", "m10", "magnitude"]
    assert registry.names() == ["dense", "m2", "m10", "magnitude"]


@dataclass
class _Settings:
    alpha: float = 0.1
    mode: Literal["penalty", "budget"] = "penalty"
    widths: tuple[float, ...] = (0.5, 1.0)
    epochs: int | None = None


def test_configure_coerces_and_validates() -> None:
    made = configure(_Settings, {"alpha": 1, "widths": [0.25], "epochs": 3}, "method 'x'")
    assert made == _Settings(alpha=1.0, widths=(0.25,), epochs=3)
    with pytest.raises(UnknownNameError, match="Did you mean: alpha"):
        configure(_Settings, {"alpah": 1.0}, "method 'x'")
    with pytest.raises(SettingError, match="mode"):
        configure(_Settings, {"mode": "budgt"}, "method 'x'")
    with pytest.raises(SettingError, match="epochs"):
        configure(_Settings, {"epochs": "ten"}, "method 'x'")
    with pytest.raises(SettingError):
        configure(_Settings, {"alpha": True}, "method 'x'")
