"""`dense`: the task's model trained from scratch at uniform width multipliers.

The honest control: every compression method is compared with a plain model of the same measured
MACs trained for the same number of epochs. Every width starts from weights drawn from the cell's
seed alone and sees the training data in the same order (common random numbers across widths), so
the full-width model is the very training `quantization`'s post-training modes (and a compress
method's pre-training of the same epochs) start from, and the training cache trains it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from tradeoff_bench.core.registry import Epochs
from tradeoff_bench.methods.base import METHODS, Candidate, Method, RunContext
from tradeoff_bench.methods.training import seeded_build, shared_fit, training_facts
from tradeoff_bench.tasks.base import Task


def scaled_widths(task: Task, multiplier: float, fixed: dict[str, int] | None = None) -> dict[str, int]:
    """Every knob at `multiplier` of its full width (at least one channel), except the `fixed` ones."""
    return {knob: (fixed or {}).get(knob, max(1, round(multiplier * full))) for knob, full in task.knobs.items()}


@METHODS.register("dense")
@dataclass
class Dense(Method):
    """Train from scratch at each width multiplier."""

    multipliers: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0)
    epochs: Epochs | None = None
    widths: dict[str, int] = field(default_factory=dict)
    """Knobs built at a fixed width whatever the multiplier (e.g. `{ mels = 40 }`: the paper's VAD
    models at 40 of 80 mel bands, the other knobs full at multiplier 1)."""

    description = "train from scratch at uniform width multipliers (the control)"
    tiny_settings = {"multipliers": (0.5, 1.0), "epochs": 1}

    def __post_init__(self) -> None:
        if not self.multipliers or not all(0 < m <= 1 for m in self.multipliers):
            raise ValueError(f"multipliers must be a non-empty list in (0, 1], got {self.multipliers}")
        if any(width < 1 for width in self.widths.values()):
            raise ValueError(f"widths must be at least 1, got {self.widths}")

    def check(self, task: Task) -> None:
        for knob, width in self.widths.items():
            if knob not in task.knobs:
                raise ValueError(
                    f"dense widths: task {task.name!r} has no knob {knob!r} (knobs: {', '.join(task.knobs)})"
                )
            if width > task.knobs[knob]:
                raise ValueError(f"dense widths: {knob}={width} is wider than the full model's {task.knobs[knob]}")

    def run(self, task: Task, ctx: RunContext) -> list[Candidate]:
        candidates = []
        for multiplier in self.multipliers:
            widths = scaled_widths(task, multiplier, self.widths)
            model = seeded_build(ctx, partial(task.build_model, widths))
            result = shared_fit(model, task, ctx, phase="train", epochs=self.epochs)
            candidates.append(
                Candidate(
                    model=model,
                    label=f"x{multiplier:g}"
                    + "".join(f"-{knob}{width}" for knob, width in sorted(self.widths.items())),
                    widths=widths,
                    facts={"multiplier": multiplier, **training_facts(result)},
                    train_seconds=result.seconds,
                    train_epochs=result.epochs,
                )
            )
        return candidates
