"""The generated asvspoof2019-mini corpus: the real layout and file names, unseen eval attacks, the task on it."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from tradeoff_bench.core.registry import configure
from tradeoff_bench.methods.base import RunContext
from tradeoff_bench.methods.training import fit
from tradeoff_bench.tasks.asvspoof import ASVspoofTask, mini, vocoders
from tradeoff_bench.tasks.asvspoof.peers import published_peers
from tradeoff_bench.tasks.asvspoof.protocol import PARTITIONS, read_protocol
from tradeoff_bench.tasks.corpora import CORPORA
from tradeoff_bench.tasks.metrics import ItemScores


@pytest.fixture(scope="module")
def tiny() -> ASVspoofTask:
    task = ASVspoofTask(mini_size="tiny", n_fft=64, epochs=1, batch_size=8)
    task.prepare()
    return task


def partition_trials(root: Path) -> dict:
    return {p: read_protocol(root / "LA" / "ASVspoof2019_LA_cm_protocols" / PARTITIONS[p][1], p) for p in PARTITIONS}


def test_generator_writes_the_real_layout_and_file_names(tiny: ASVspoofTask) -> None:
    root = tiny.corpus_root
    assert root.parent.name.startswith("tiny-v") and not str(root.resolve()).startswith(str(Path.cwd().resolve()))
    assert sorted(p.name for p in (root / "LA").iterdir()) == [
        "ASVspoof2019_LA_cm_protocols",
        "ASVspoof2019_LA_dev",
        "ASVspoof2019_LA_eval",
        "ASVspoof2019_LA_train",
        "asvspoof2019-mini.json",  # the generator's marker: what tells it from the real corpus
    ]
    assert sorted(p.name for p in (root / "LA" / "ASVspoof2019_LA_cm_protocols").iterdir()) == [
        "ASVspoof2019.LA.cm.dev.trl.txt",
        "ASVspoof2019.LA.cm.eval.trl.txt",
        "ASVspoof2019.LA.cm.train.trn.txt",
    ]
    assert not (root / "LA" / "ASVspoof2019_LA_asv_scores").exists()  # never an invented ASV
    for folder, protocol, letter in PARTITIONS.values():
        lines = (root / "LA" / "ASVspoof2019_LA_cm_protocols" / protocol).read_text().splitlines()
        pattern = rf"LA_\d{{4}} LA_{letter}_\d{{7}} - (-|A\d\d) (bonafide|spoof)"
        assert all(re.fullmatch(pattern, line) for line in lines)
        files = sorted(p.name for p in (root / "LA" / folder / "flac").iterdir())
        assert files == sorted(f"{line.split()[1]}.flac" for line in lines)
        info = soundfile.info(str(root / "LA" / folder / "flac" / files[0]))
        assert (info.samplerate, info.channels, info.format) == (16_000, 1, "FLAC")
    marker = json.loads((root / "LA" / mini.MARKER).read_text())
    assert marker["name"] == "asvspoof2019-mini" and marker["asv_scores"] is None


def test_dev_holds_an_attack_held_out_of_train_and_eval_attacks_are_unseen(tiny: ASVspoofTask) -> None:
    trials = partition_trials(tiny.corpus_root)
    attacks = {p: {t.attack for t in ts if not t.bonafide} for p, ts in trials.items()}
    held_out = attacks["dev"] - attacks["train"]
    assert attacks["train"] == {a.attack_id for a in vocoders.TRAIN_ATTACKS}
    assert held_out == {a.attack_id for a in vocoders.DEV_ATTACKS} and len(held_out) == 1  # unlike the real dev
    assert attacks["dev"] == attacks["train"] | held_out
    assert attacks["eval"] == {a.attack_id for a in vocoders.EVAL_ATTACKS}
    assert not attacks["eval"] & (attacks["train"] | attacks["dev"])  # unseen in train, and not dev's either
    assert all(1 <= int(a[1:]) <= 6 for a in attacks["dev"]) and all(7 <= int(a[1:]) <= 19 for a in attacks["eval"])
    systems = vocoders.TRAIN_ATTACKS + vocoders.DEV_ATTACKS + vocoders.EVAL_ATTACKS
    assert len({a.synthesize for a in systems}) == len({a.attack_id for a in systems}) == 9  # one system per id
    dev_spoofs = [t.attack for t in trials["dev"] if not t.bonafide]
    assert all(dev_spoofs.count(a) == mini.SIZES["tiny"].held_out for a in held_out)
    speakers = {p: {t.speaker for t in ts} for p, ts in trials.items()}
    assert sum(len(s) for s in speakers.values()) == len(set().union(*speakers.values()))
    for partition, ts in trials.items():
        assert {t.bonafide for t in ts} == {True, False}, partition


def test_the_default_dev_split_rests_mostly_on_its_held_out_attack() -> None:
    """Most default dev spoofs come from the attack the model never trained on, so the pooled dev EER
    is not saturated once the train attacks are learnt (version 5's dev: 0 % from epoch 2-10 on)."""
    size = mini.SIZES["default"]
    seen = sum(size.spoofs("dev", a) for a in vocoders.TRAIN_ATTACKS)
    held_out = sum(size.spoofs("dev", a) for a in vocoders.DEV_ATTACKS)
    assert held_out > seen and held_out <= size.bonafide["dev"]  # each bona fide utterance a source once at most
    assert seen == len(vocoders.TRAIN_ATTACKS) * size.per_attack["dev"]


def test_generation_is_idempotent_and_refuses_to_mix(tiny: ASVspoofTask, tmp_path: Path) -> None:
    protocol = tiny.corpus_root / "LA" / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt"
    before = protocol.stat().st_mtime
    mini.generate(tiny.corpus_root, 0, "tiny")  # already there: nothing is written
    assert protocol.stat().st_mtime == before
    with pytest.raises(mini.CorpusExistsError, match="generated with"):
        mini.generate(tiny.corpus_root, 1, "tiny")
    (tmp_path / "LA").mkdir()
    with pytest.raises(mini.CorpusExistsError, match="is not a generated"):
        mini.generate(tmp_path, 0, "tiny")
    assert "asvspoof2019-mini" in CORPORA


def test_generation_is_deterministic_whatever_ran_before(tiny: ASVspoofTask, tmp_path: Path) -> None:
    from tradeoff_bench.tasks import espeak

    espeak.synthesize(
        "espeak-ng keeps state between calls", espeak.Voice("en", "rob", 170, 50, 50)
    )  # must not change the corpus
    mini.generate(tmp_path, 0, "tiny")
    assert partition_trials(tmp_path) == partition_trials(tiny.corpus_root)
    utt = partition_trials(tmp_path)["eval"][-1].utt
    a, _ = soundfile.read(str(tmp_path / "LA" / "ASVspoof2019_LA_eval" / "flac" / f"{utt}.flac"))
    b, _ = soundfile.read(str(tiny.corpus_root / "LA" / "ASVspoof2019_LA_eval" / "flac" / f"{utt}.flac"))
    np.testing.assert_array_equal(a, b)


def test_two_processes_generating_at_once_write_one_corpus(tmp_path: Path) -> None:
    code = "import sys, pathlib; from tradeoff_bench.tasks.asvspoof import mini; mini.generate(pathlib.Path(sys.argv[1]), 0, 'tiny')"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    workers = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], env=env) for _ in range(2)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LA"]  # no partial, no lock file left
    assert mini.read_marker(tmp_path)["seed"] == 0


def test_the_default_family_learns_on_the_tiny_corpus() -> None:
    task = ASVspoofTask(mini_size="tiny", n_fft=64, epochs=15, batch_size=4)
    torch.manual_seed(0)
    model = task.build_model()
    fit(model, task, RunContext(seed=0, count_macs=lambda m, x: 0))
    assert task.evaluate(model, "train")["eer"] < 20  # chance: 50


def test_vocoders_return_a_different_signal_of_the_same_length() -> None:
    t = np.arange(8_000) / 16_000
    voiced = (np.sin(2 * np.pi * 140 * t) + 0.5 * np.sin(2 * np.pi * 280 * t)) * np.hanning(t.size)
    wave = (0.3 * voiced + 0.01 * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32)
    for attack in vocoders.TRAIN_ATTACKS + vocoders.DEV_ATTACKS + vocoders.EVAL_ATTACKS:
        out = mini._fit(attack.synthesize(wave, np.random.default_rng(1)), wave.size)
        assert out.shape == wave.shape and out.dtype == np.float32 and np.isfinite(out).all(), attack.attack_id
        assert 0 < np.abs(out - wave).max() and np.abs(out).max() > 0.01, attack.attack_id


def test_stft_pair_of_griffin_lim_is_exact() -> None:
    x = np.random.default_rng(0).standard_normal(5_000)
    window = np.hanning(513)[:-1]
    spec = vocoders._stft(x, 512, 128, window)
    np.testing.assert_allclose(vocoders._istft(spec, 512, 128, window, x.size), x, atol=1e-10)


def test_task_on_the_tiny_corpus(tiny: ASVspoofTask) -> None:
    assert tiny.cost_unit == "utterance of 64,600 samples"
    assert tiny.example_input().shape == (1, 33, 404)  # n_fft 64: 33 bins; 10 ms hop over 64,600 samples
    x, y = next(tiny.batches("train", 4, shuffle=True, seed=0))
    assert x.shape == (4, 33, 404) and x.dtype == torch.float32 and set(y.tolist()) <= {0, 1}
    metrics = tiny.evaluate(tiny.build_model())
    assert set(metrics) == {"eer", "eer@A07", "eer@A08", "eer@A09", "eer@A10"}  # no ASV: no min_tdcf
    assert all(0 <= v <= 100 for v in metrics.values())
    assert tiny.reference_metric == 50.0 and tiny.peers() == []
    weights = tiny._class_weights  # inverse class frequencies: spoofs are the majority
    assert weights[0] < weights[1] and weights.sum().item() == pytest.approx(1.0)


def test_subset_of_the_mini_corpus(tiny: ASVspoofTask) -> None:
    task = ASVspoofTask(mini_size="tiny", n_fft=64, max_utterances=6)
    assert task.corpus == "asvspoof2019-mini (tiny) (subset)"
    assert all(len(p.trials) == 6 for p in task._corpus.partitions.values())  # "at most" is exact
    assert {t.bonafide for t in task._corpus.partitions["eval"].trials} == {True, False}


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="four positive counts"):
        ASVspoofTask(blocks=(1, 1, 1))
    with pytest.raises(ValueError, match="positive"):
        ASVspoofTask(width_multiplier=0)
    with pytest.raises(Exception, match="not one of"):
        configure(ASVspoofTask, {"model": "aasist"}, "task 'asvspoof2019'")


def test_published_anchors_are_labelled_published() -> None:
    peers = {p.label: p for p in published_peers()}
    assert peers["AASIST"].metrics["eer"] == 0.83 and peers["AASIST"].params == 297_000
    assert peers["AASIST-L"].metrics["eer"] == 0.99 and peers["AASIST-L"].params == 85_306
    assert peers["LFCC-GMM"].metrics["eer"] == 8.09 and peers["CQCC-GMM"].metrics["eer"] == 9.57
    assert all(p.origin == "published" and "ASVspoof 2019 LA eval" in p.note for p in peers.values())


def test_recorded_speech_can_replace_espeak(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for speaker in range(6):  # one folder per speaker, any sample rate
        folder = tmp_path / "speech" / f"p{225 + speaker}"
        folder.mkdir(parents=True)
        for take in range(2):
            t = np.arange(22_050) / 22_050
            tone = np.sin(2 * np.pi * (110 + 20 * speaker) * t * (1 + 0.1 * take))
            wave = 0.2 * tone + 0.01 * rng.standard_normal(t.size)
            soundfile.write(str(folder / f"{take}.wav"), wave.astype(np.float32), 22_050)
    mini.generate(tmp_path / "corpus", 0, "tiny", tmp_path / "speech")
    task = ASVspoofTask(root=str(tmp_path / "corpus"), n_fft=64)
    assert task.corpus == "asvspoof2019-mini (tiny, recorded bona fide)"
    assert len(task._corpus.partitions["eval"].trials) == 4 + 4 * 2


def test_a_grid_cell_keeps_each_models_score_files(tiny: ASVspoofTask, tmp_path: Path) -> None:
    from tradeoff_bench.bench.grid import resolve_cell
    from tradeoff_bench.bench.runner import execute_cell
    from tradeoff_bench.bench.store import Store

    settings = {"mini_size": "tiny", "n_fft": 64, "epochs": 1, "batch_size": 8}
    cell = resolve_cell("asvspoof2019", settings, "dense", {"multipliers": [0.5, 1.0]}, 0)
    records = execute_cell(cell)
    Store(tmp_path).open().finish(cell, records)
    eval_trials = tiny._corpus.partitions["eval"].trials
    for record in Store(tmp_path).records():
        assert record.corpus_notes == ["generated corpus: no ASV scores, so EER only (no t-DCF)"]
        files = {Path(path).name: path for path in record.outputs}
        official, kept = files["cm_scores.eval.txt"], files["scores.npz"]
        lines = (tmp_path / official).read_text().splitlines()
        assert official.endswith("cm_scores.eval.txt") and [line.split()[0] for line in lines] == [
            t.utt for t in eval_trials
        ]
        scores = ItemScores.load(tmp_path / kept)
        assert kept.endswith("scores.npz") and scores.metric("eer") == pytest.approx(record.metrics["eer"], abs=1e-9)
        assert scores.label.tolist() == [float(t.bonafide) for t in eval_trials]
        assert scores.score.tolist() == [float(line.split()[3]) for line in lines]  # the same scores, as float32


def test_a_bigger_eval_leaves_train_and_dev_as_they_were(
    tiny: ASVspoofTask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = mini.SIZES["tiny"]
    bigger = mini.MiniSize(
        small.bonafide | {"eval": 2 * small.bonafide["eval"]},
        small.per_attack | {"eval": 2 * small.per_attack["eval"]},
        small.held_out,
        small.speakers,
    )
    monkeypatch.setitem(mini.SIZES, "tiny", bigger)
    mini.generate(tmp_path, 0, "tiny")
    before, after = partition_trials(tiny.corpus_root), partition_trials(tmp_path)
    assert before["train"] == after["train"] and before["dev"] == after["dev"]
    assert len(after["eval"]) == 2 * len(before["eval"])
    for partition in ("train", "dev"):
        folder = Path("LA") / PARTITIONS[partition][0] / "flac"
        for trial in before[partition]:
            a, _ = soundfile.read(str(tiny.corpus_root / folder / f"{trial.utt}.flac"))
            b, _ = soundfile.read(str(tmp_path / folder / f"{trial.utt}.flac"))
            np.testing.assert_array_equal(a, b)


def test_an_older_version_of_the_corpus_is_regenerated(tmp_path: Path) -> None:
    mini.generate(tmp_path, 0, "tiny")
    marker = tmp_path / "LA" / mini.MARKER
    old = json.loads(marker.read_text()) | {"version": mini.GENERATOR_VERSION - 1}
    marker.write_text(json.dumps(old))
    mini.generate(tmp_path, 0, "tiny")
    assert json.loads(marker.read_text())["version"] == mini.GENERATOR_VERSION
    assert not list(tmp_path.glob(f".{mini.NAME}.partial-*"))
    marker.write_text(json.dumps(old | {"version": mini.GENERATOR_VERSION + 1}))  # a newer one is not ours to replace
    with pytest.raises(mini.CorpusExistsError, match="generated with"):
        mini.generate(tmp_path, 0, "tiny")
