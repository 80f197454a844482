"""A task's quality target: how close to the full dense model a cheaper one must stay to count.

As MLPerf Tiny fixes a quality target and compares cost, the report's `target.md` lists per method
the least cost on each axis among candidates that reach the target. A target is relative to the full
dense model's primary metric (`dense` x1, aggregated over seeds): within `tolerance` of it, in the
metric's own units (`relative=False`: "within +1 pt EER") or as a fraction of it (`relative=True`:
"MSE within 5 %"), on the metric's worse side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class QualityTarget:
    tolerance: float
    relative: bool = False

    def __post_init__(self) -> None:
        if not self.tolerance >= 0:
            raise ValueError(f"a quality target's tolerance must be 0 or more, got {self.tolerance}")

    def threshold(self, reference: float, higher_is_better: bool) -> float:
        """The worst metric that still reaches the target, given the full dense model's `reference`."""
        margin = abs(reference) * self.tolerance if self.relative else self.tolerance
        return reference - margin if higher_is_better else reference + margin

    def describe(self, metric: str) -> str:
        amount = f"{self.tolerance * 100:g} %" if self.relative else f"{self.tolerance:g}"
        return f"`{metric}` within {amount} of the full dense model's"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def parse(cls, text: str) -> QualityTarget:
        """`5%` (relative) or `1` / `+1` (in the metric's units); ValueError otherwise."""
        value = text.strip().lstrip("+")
        try:
            if value.endswith("%"):
                return cls(float(value[:-1]) / 100, relative=True)
            return cls(float(value))
        except ValueError:
            raise ValueError(f"quality target {text!r} is not a tolerance like 5% or +1") from None


DEFAULT_TARGET = QualityTarget(0.05, relative=True)
