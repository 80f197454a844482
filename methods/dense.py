"""`dense`: the task's model trained from scratch at uniform width multipliers.

The honest control: every compression method is compared with a plain model of the same measured
MACs trained for the same number of epochs.
"""

from __future__ import annotations

from dataclasses import dataclass

from methods.base import METHODS, Candidate, Method, RunContext
from methods.training import fit
from tasks.base import Task


def scaled_widths(task: Task, multiplier: float) -> dict[str, int]:
    """Every knob at `multiplier` of its full width (at least one channel)."""
    return {knob: max(1, round(multiplier * full)) for knob, full in task.knobs.items()}


@METHODS.register("dense")
@dataclass
class Dense(Method):
    """Train from scratch at each width multiplier."""

    multipliers: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0)
    epochs: int | None = None

    description = "train from scratch at uniform width multipliers (the control)"
    tiny_settings = {"multipliers": (0.5, 1.0), "epochs": 1}

    def __post_init__(self) -> None:
        if not self.multipliers or not all(0 < m <= 1 for m in self.multipliers):
            raise ValueError(f"multipliers must be a non-empty list in (0, 1], got {self.multipliers}")

    def run(self, task: Task, ctx: RunContext) -> list[Candidate]:
        candidates = []
        for index, multiplier in enumerate(self.multipliers):
            widths = scaled_widths(task, multiplier)
            model = task.build_model(widths)
            result = fit(model, task, ctx, epochs=self.epochs, seed_offset=index)
            candidates.append(
                Candidate(
                    model=model,
                    label=f"x{multiplier:g}",
                    widths=widths,
                    facts={"multiplier": multiplier, "history": result.history},
                    train_seconds=result.seconds,
                    train_epochs=result.epochs,
                )
            )
        return candidates
