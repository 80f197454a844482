"""The real-audio test set: continuous speech by voices, over music and sounds, that no `vad-mini` corpus trains on.

ROOT/vctk-real-test (the `recorded.TEST` voices: Drascula's English and Spanish voice-overs, whole
dialogue lines by about ten actors per language) and ROOT/esc50-real-test (Wesnoth's orchestral
soundtrack and GNOME desktop sounds), in the VCTK / ESC-50 layouts, fetched from Debian's registry on
first use like `vad-mini`. The vad task mixes all of them into `n_real` test mixtures of `SECONDS`
each (at least 10 minutes in all by default; the test split's mixer, SNR range and bins, no
simulated room or band limit: the recordings keep their own) and reports `eer@real`, `eer@real/snr<5`, ... and
`auc@real` beside its own test metrics, for its models and its peers. Where the packages cannot be
had, there is no real-audio test (`ensure_real_test` returns None).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from tradeoff_bench.tasks.debian import SourceUnavailable
from tradeoff_bench.tasks.vad import mini, recorded

SPEECH_NAME, NOISE_NAME = "vctk-real-test", "esc50-real-test"
MUSIC_TRACKS, CLIPS_PER_FILE, CLIP_SECONDS = 12, 2, 5.0
SECONDS = 8.0
"""Length of a real-test mixture: room for several whole dialogue lines."""
TAG = "real"


def ensure_real_test(root: Path, seed: int = 0) -> tuple[Path, Path] | None:
    """(speech root, noise root) of the real-audio test set under `root`, or None where unavailable."""
    try:
        packages = recorded.fetch_all(recorded.TEST)
    except SourceUnavailable as err:
        warnings.warn(f"no real-audio test set: {err}", stacklevel=2)
        return None

    def speech(path: Path) -> dict[str, object]:
        info = recorded.write_speech(path, recorded.TEST, packages, seed)  # continuous speech: one take a line
        recorded.write_readme(
            path, f"{SPEECH_NAME}: recorded continuous test speech (VCTK 0.92 layout, 16 kHz)", recorded.TEST, packages
        )
        return {**info, "sources": recorded.sources_manifest(recorded.TEST, packages)}

    def noise(path: Path) -> dict[str, object]:
        info = recorded.write_noise(path, recorded.TEST, packages, CLIP_SECONDS, CLIPS_PER_FILE, seed, MUSIC_TRACKS)
        recorded.write_readme(
            path, f"{NOISE_NAME}: recorded test non-speech (ESC-50 layout, 16 kHz)", recorded.TEST, packages
        )
        return {**info, "sources": recorded.sources_manifest(recorded.TEST, packages)}

    expected = {"generator": "vad-real-test", "version": mini.VERSION, "seed": seed}
    speech_root, noise_root = mini.materialise(
        root, {SPEECH_NAME: (SPEECH_NAME, speech), NOISE_NAME: (NOISE_NAME, noise)}, expected
    )
    return speech_root, noise_root


def tagged(metrics: dict[str, float]) -> dict[str, float]:
    """{"eer": .., "eer@snr<5": .., "auc": ..} -> {"eer@real": .., "eer@real/snr<5": .., "auc@real": ..}."""
    out = {}
    for name, value in metrics.items():
        base, _, detail = name.partition("@")
        out[f"{base}@{TAG}/{detail}" if detail else f"{base}@{TAG}"] = value
    return out
