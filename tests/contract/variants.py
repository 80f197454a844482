"""The task variants every contract test runs on: each task's tiny variants, and the models of
`tests/user_models` given as builders (`model=MODULE:build`), their knobs found automatically."""

from __future__ import annotations

from typing import Any

from tradeoff_bench.tasks import TASKS

USER_MODELS = {
    "vad": (
        "frame_conv",
        "conformer",
        "deepspeech",
        "emformer",
        "plain_crnn",
        "plain_transformer",
        "plain_paper_crnn",
        "plain_paper_transformer",
    ),
    "asvspoof2019": ("spoof_cnn", "plain_lcnn", "plain_resnet"),
    "synthetic": ("plain_mlp",),
}
"""Builders in tests/user_models per task: users' own models, three of torchaudio's behind thin
wrappers, and built-in families rebuilt as plain modules (synthetic's MLP; vad's CRNN, whose GRU
reads a convolution's knob and has one of its own, Transformer, whose attention knobs are gated at
their writers, and paper CRNN, whose mel bands are rows of 2-D convolutions; asvspoof2019's LCNN,
whose max-feature-maps pool channel halves). frame_gru, plain_resnet and plain_paper_transformer
are checked in tests/tasks/test_user_model.py."""


ON_FAMILY_VARIANT = {"plain_lcnn": "lcnn"}
"""User models run on the tiny variant of the built-in family they rebuild where it has its own input
(the LCNN's small lfcc features), not on the task's first."""


def task_variants(name: str) -> list[tuple[str, dict[str, Any]]]:
    """(test id, settings) of every variant of task `name` the contract tests exercise."""
    tiny = TASKS.get(name).tiny_variants
    found = [(f"{name}-{i}", dict(variant)) for i, variant in enumerate(tiny)]
    for model in USER_MODELS.get(name, ()):
        family = ON_FAMILY_VARIANT.get(model)
        base = next((v for v in tiny if v.get("model") == family), tiny[0]) if family else tiny[0]
        found.append((f"{name}-{model}", {**base, "model": f"tests.user_models.{model}:build"}))
    return found
