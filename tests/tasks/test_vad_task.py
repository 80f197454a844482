"""The `vad` task on generated corpora: manifest, splits, corpus names, generation, metrics, peers."""

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tradeoff_bench.tasks.corpora import CORPORA
from tradeoff_bench.tasks.vad.layout import CorpusError, read_esc50, read_vctk
from tradeoff_bench.tasks.vad.metrics import decision_metrics, frame_metrics
from tradeoff_bench.tasks.vad.mini import SCALES, ensure_corpora
from tradeoff_bench.tasks.vad.task import TINY_DATA, VadTask

SMALL = {**TINY_DATA, "n_train": 8, "n_val": 3, "n_test": 8, "mixture_seconds": 2.0, "conv": 8, "gru": 8, "mels": 16}


def tiny(**settings: object) -> VadTask:
    task = VadTask(**{**SMALL, **settings})
    task.prepare()
    return task


def test_the_generator_is_registered_and_names_its_corpora() -> None:
    assert "vad-mini" in CORPORA
    task = tiny()
    assert task.corpus == "vctk-mini (espeak)+esc50-mini (synthetic)"  # tiny: never the recorded corpus's name
    assert task.manifest.corpora == {"speech": "vctk-mini (espeak)", "noise": "esc50-mini (synthetic)"}


def test_same_seed_gives_the_same_manifest_and_mixtures() -> None:
    first, second = tiny(), tiny()
    assert first.manifest.to_dict() == second.manifest.to_dict()
    assert first.manifest.digest() == second.manifest.digest()
    for split in ("train", "val", "test"):
        for (x1, y1), (x2, y2) in zip(first.batches(split, 4), second.batches(split, 4)):
            assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert tiny(data_seed=1).manifest.digest() != first.manifest.digest()
    json.dumps(first.manifest.to_dict())  # JSON-native: can be written beside the results


def test_the_test_set_does_not_depend_on_the_training_set_size() -> None:
    assert tiny().manifest.mixtures["test"] == tiny(n_train=3).manifest.mixtures["test"]


def test_a_bigger_test_set_keeps_train_val_and_its_first_mixtures() -> None:
    small, big = tiny().manifest.mixtures, tiny(n_test=16).manifest.mixtures
    assert small["train"] == big["train"] and small["val"] == big["val"]
    assert big["test"][:8] == small["test"] and len(big["test"]) == 16


def test_splits_are_speaker_and_fold_disjoint() -> None:
    manifest = tiny().manifest
    speakers = {split: set(s) for split, s in manifest.speakers.items()}
    assert all(speakers.values()) and not (
        speakers["train"] & speakers["val"]
        or speakers["train"] & speakers["test"]
        or speakers["val"] & speakers["test"]
    )
    for split, entries in manifest.mixtures.items():
        for entry in entries:
            assert {p["speaker"] for p in entry["speech"]} <= speakers[split]
            assert {p["file"].split("/")[1] for p in entry["speech"]} <= speakers[split]
            assert {int(Path(p["file"]).name.split("-")[0]) for p in entry["noise"]} <= set(manifest.folds[split])


def test_batches_are_spectrograms_with_frame_labels() -> None:
    task = tiny()
    x, y = next(task.batches("train", 3, shuffle=True, seed=0))
    assert x.shape == (3, 201, 200) and y.shape == (3, 200)
    assert set(y.unique().tolist()) == {0.0, 1.0}
    assert 0.2 < float(torch.cat([b[1] for b in task.batches("train", 8)]).mean()) < 0.8


def test_loading_data_does_not_move_the_training_rng() -> None:
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    tiny(data_seed=3).batches("test", 2)
    VadTask(**SMALL, data_seed=4).prepare()
    assert torch.equal(torch.rand(1), expected)


def test_real_roots_are_named_as_the_real_corpora(tmp_path: Path) -> None:
    speech, noise = ensure_corpora(Path(TINY_DATA["data_dir"]), "tiny")
    assert VadTask(**SMALL, speech_root=str(tmp_path), noise_root=str(noise)).corpus == "vctk+esc50-mini (synthetic)"


def test_generation_is_idempotent_and_refuses_a_foreign_corpus(tmp_path: Path) -> None:
    speech, noise = ensure_corpora(tmp_path, "tiny")
    listing = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert ensure_corpora(tmp_path, "tiny") == (speech, noise)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == listing
    with pytest.raises(CorpusError, match=r"vctk-mini-espeak: exists but is not vctk-mini \(espeak\)"):
        ensure_corpora(tmp_path, "tiny", seed=1)


def test_the_same_seed_generates_the_same_files_whatever_ran_before(tmp_path: Path) -> None:
    from tradeoff_bench.tasks import espeak

    first, _ = ensure_corpora(tmp_path / "a", "tiny")
    espeak.synthesize("something else first", espeak.Voice("en", "f5", 150, 50, 50))  # espeak-ng state moves
    second, _ = ensure_corpora(tmp_path / "b", "tiny")

    def digests(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
        }

    for name in ("vctk-mini-espeak", "esc50-mini-synthetic"):
        assert digests(tmp_path / "a" / name) == digests(tmp_path / "b" / name)
    assert first != second


def test_two_processes_generating_at_once_write_one_corpus(tmp_path: Path) -> None:
    code = f"from pathlib import Path; from tradeoff_bench.tasks.vad.mini import ensure_corpora; ensure_corpora(Path({str(tmp_path)!r}), 'tiny')"
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parents[2]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["esc50-mini-synthetic", "vctk-mini-espeak"]
    scale = SCALES["tiny"]
    assert (
        sum(len(u) for u in read_vctk(tmp_path / "vctk-mini-espeak").speakers.values())
        == scale.speakers * scale.utterances
    )
    assert len(read_esc50(tmp_path / "esc50-mini-synthetic").clips) == 5 * len(scale.categories)


# --- metrics ---------------------------------------------------------------------------------
def test_eer_per_snr_bin_on_a_constructed_case() -> None:
    labels = np.array([[0, 0, 1, 1]] * 3)
    scores = np.array(
        [
            [0.1, 0.2, 0.8, 0.9],  # SNR 0 dB: perfect
            [0.9, 0.8, 0.1, 0.2],  # SNR 10 dB: inverted
            [0.1, 0.6, 0.4, 0.9],
        ]
    )  # SNR 20 dB: one swap
    metrics = frame_metrics(scores, labels, np.array([0.0, 10.0, 20.0]))
    assert metrics["eer@snr<5"] == 0.0 and metrics["eer@snr5-15"] == 100.0 and metrics["eer@snr15-25"] == 50.0
    assert "eer@snr>=25" not in metrics  # an empty bin is left out, never NaN
    assert 0 < metrics["eer"] < 100 and 0 < metrics["auc"] < 1
    assert all(math.isfinite(v) for v in metrics.values())


def test_binary_decisions_report_the_half_total_error_rate() -> None:
    labels = np.array([[1, 1, 1, 1, 0, 0, 0, 0]])
    decisions = np.array([[1, 1, 1, 0, 1, 0, 0, 0]])  # miss 1/4, false alarm 1/4
    metrics = decision_metrics(decisions, labels, np.array([30.0]))
    assert metrics["eer"] == pytest.approx(25.0) and metrics["eer@snr>=25"] == pytest.approx(25.0)
    assert metrics["auc"] == pytest.approx(0.75)
    assert decision_metrics(np.ones((1, 8)), labels, np.array([30.0]))["eer"] == 50.0


def test_evaluate_reports_every_bin_present_and_the_reference_is_chance() -> None:
    task = tiny()
    metrics = task.evaluate(task.build_model())
    snrs = [e["snr_db"] for e in task.manifest.mixtures["test"]]
    assert {"eer", "auc"} <= set(metrics) and all(math.isfinite(v) and 0 <= v <= 100 for v in metrics.values())
    assert (min(snrs) < 5) == ("eer@snr<5" in metrics)
    assert task.reference_metric == 50.0 and task.primary_metric == "eer"


# --- peers -----------------------------------------------------------------------------------
def test_silero_replica_matches_the_scripted_model_and_is_counted_per_second() -> None:
    from tradeoff_bench.tasks.vad.peers import SileroReplica, load_silero, silero_macs_per_second

    scripted = load_silero()
    chunk = torch.randn(3, 576) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(SileroReplica(scripted).eval()(chunk), scripted._model(chunk, torch.zeros(0))[0])
    macs, params = silero_macs_per_second(scripted)
    assert macs == 679_552 * 16_000 // 512 and params > 200_000


def test_peers_are_finite_points_on_the_test_mixtures() -> None:
    task = tiny()
    peers = task.peers()
    assert [p.label for p in peers] == ["Silero VAD v6"] + [f"WebRTC VAD mode {m}" for m in range(4)]
    for peer in peers:
        assert peer.origin == "measured" and math.isfinite(peer.metrics["eer"]) and 0 <= peer.metrics["eer"] <= 100
    assert peers[0].macs == 21_236_000 and "fvcore" in peers[0].macs_source
    assert peers[1].macs is None and peers[1].macs_source == "unknown (C library)" and "half total" in peers[1].note
    assert task.peers() == peers  # computed once per task


@pytest.mark.slow
def test_the_default_crnn_learns_on_the_mini_corpus(tmp_path: Path) -> None:
    """The default recipe on the offline mini corpus (no network): well below chance, better at high SNR."""
    from tradeoff_bench.core.flops import count_macs
    from tradeoff_bench.methods.base import RunContext
    from tradeoff_bench.methods.training import fit

    task = VadTask(data_dir=str(tmp_path), corpus_source="espeak", real_test=False)
    task.prepare()
    torch.manual_seed(0)
    model = task.build_model()
    fit(model, task, RunContext(seed=0, count_macs=count_macs))
    metrics = task.evaluate(model)
    assert metrics["eer"] < 20 and metrics["eer@snr>=25"] < metrics["eer@snr<5"]
