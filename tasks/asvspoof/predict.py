"""A countermeasure model on audio files: one CM score per file, in the challenge's submission format.

Each file is mixed to mono, resampled to 16 kHz and cropped or tiled to 64,600 samples as in
training; its features are standardised by the training corpus's statistics (so that corpus must be
readable, or generated again for the offline one). The score file has one line `UTT SCORE` per
file, the file's stem as trial id (the two-column form of the ASVspoof 2019 evaluation plan: keys
and attacks are unknown for new audio); a higher score means more bona fide.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tradeoff_bench.core.files import write_all
from tradeoff_bench.tasks.asvspoof.features import SAMPLE_RATE, FrontEnd, fix_length
from tradeoff_bench.tasks.audio import audio_files, load_audio
from tradeoff_bench.tasks.base import model_device

SCORE_FILE = "cm_scores.txt"
BATCH = 64


@torch.no_grad()
def cm_scores(
    model: nn.Module, front_end: FrontEnd, normalise: Callable[[torch.Tensor], torch.Tensor], files: Sequence[Path]
) -> np.ndarray:
    """Bona fide logit minus spoof logit of every file, in order."""
    model.eval()
    scores = []
    for start in range(0, len(files), BATCH):
        waves = np.stack([fix_length(load_audio(p, SAMPLE_RATE)) for p in files[start : start + BATCH]])
        x = normalise(front_end(torch.from_numpy(waves))).float().to(model_device(model))
        logits = model(x).float().cpu()
        scores.append((logits[:, 1] - logits[:, 0]).double().numpy())
    return np.concatenate(scores)


def write_scores(
    model: nn.Module,
    front_end: FrontEnd,
    normalise: Callable[[torch.Tensor], torch.Tensor],
    inputs: Sequence[Path],
    out_dir: Path,
) -> list[Path]:
    files = audio_files(inputs)
    scores = cm_scores(model, front_end, normalise, files)
    return write_all({out_dir / SCORE_FILE: "".join(f"{p.stem} {float(s)!r}\n" for p, s in zip(files, scores))})
