"""`tradeoff-bench predict`: a saved vad or asvspoof2019 candidate on audio files, and its errors."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import torchaudio.functional as AF

from tradeoff_bench.bench.artifacts import ModelSpec, save_model
from tradeoff_bench.bench.cli import EXIT_ERROR, main
from tradeoff_bench.core.registry import configure
from tradeoff_bench.methods import METHODS
from tradeoff_bench.tasks import TASKS
from tradeoff_bench.tasks.vad.features import power_spectrogram


def saved(folder: Path, task_name: str) -> tuple[Path, torch.nn.Module, object]:
    """An untrained model of the task's first tiny variant, saved as a run would save it."""
    task = configure(TASKS.get(task_name), TASKS.get(task_name).tiny_variants[0], task_name)
    torch.manual_seed(0)
    model = task.build_model().eval()
    spec = ModelSpec(
        "r",
        task_name,
        task.settings(),
        "dense",
        configure(METHODS.get("dense"), {}, "dense").settings(),
        dict(task.knobs),
    )
    file = save_model(model, spec)
    path = folder / f"{task_name}{file.suffix}"
    path.write_bytes(file.data)
    return path, model, task


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def test_vad_writes_frame_probabilities_and_rttm_segments_of_any_rate(tmp_path: Path) -> None:
    path, model, task = saved(tmp_path, "vad")
    task.prepare()
    wave = task._splits["test"].audio[0]
    soundfile.write(tmp_path / "mix.wav", wave, 16_000, subtype="FLOAT")  # no 16-bit rounding
    stereo = AF.resample(torch.from_numpy(wave), 16_000, 44_100).numpy()
    soundfile.write(tmp_path / "loud.flac", np.stack([stereo, stereo], axis=1), 44_100)
    assert (
        main(
            [
                "predict",
                str(path),
                str(tmp_path / "mix.wav"),
                str(tmp_path / "loud.flac"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    rows = np.loadtxt(tmp_path / "out" / "mix.csv", delimiter=",", skiprows=1)
    with torch.no_grad():
        expected = torch.sigmoid(model(power_spectrogram(torch.from_numpy(wave))[None])[0]).numpy()
    assert rows.shape == (len(expected), 3) and np.allclose(rows[:, 0], np.arange(len(expected)) / 100)
    assert np.abs(rows[:, 2] - expected).max() < 1e-6
    speech = np.zeros(len(expected), dtype=bool)
    for line in (tmp_path / "out" / "mix.rttm").read_text().splitlines():
        kind, name, _, onset, duration, *_ = line.split()
        assert kind == "SPEAKER" and name == "mix"
        speech[round(float(onset) * 100) : round((float(onset) + float(duration)) * 100)] = True
    assert np.array_equal(speech, expected >= 0.5)
    resampled = np.loadtxt(tmp_path / "out" / "loud.csv", delimiter=",", skiprows=1)
    assert abs(len(resampled) - len(expected)) <= 1 and (tmp_path / "out" / "loud.rttm").exists()


def test_asvspoof_scores_a_corpus_file_as_its_evaluation_does(tmp_path: Path) -> None:
    path, model, task = saved(tmp_path, "asvspoof2019")
    scores = task.scores(model, "test")
    files = task._corpus.partitions["eval"].paths[:3]
    folder = tmp_path / "audio"
    folder.mkdir()
    for file in files:
        (folder / file.name).write_bytes(file.read_bytes())
    assert main(["predict", str(path), str(folder), "--out", str(tmp_path / "out")]) == 0
    lines = (tmp_path / "out" / "cm_scores.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == [f.stem for f in files]
    assert np.allclose([float(line.split()[1]) for line in lines], scores[:3], atol=1e-5)


def test_bad_inputs_are_one_line_errors_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vad, _, _ = saved(tmp_path, "vad")
    synthetic, _, _ = saved(tmp_path, "synthetic")
    (tmp_path / "empty.wav").write_bytes(b"")
    soundfile.write(tmp_path / "silent.wav", np.zeros(0, dtype=np.float32), 16_000)
    soundfile.write(tmp_path / "ok.wav", np.zeros(16_000, dtype=np.float32), 16_000)
    out = str(tmp_path / "out")
    for args, message in [
        ([str(vad), str(tmp_path / "ok.wav"), str(tmp_path / "empty.wav")], "empty.wav: unreadable audio"),
        ([str(vad), str(tmp_path / "silent.wav")], "silent.wav: the file holds no audio samples"),
        ([str(vad), str(tmp_path / "nowhere.wav")], "nowhere.wav: no such file or folder"),
        ([str(tmp_path / "missing.safetensors"), str(tmp_path / "ok.wav")], "no such model file"),
        ([str(synthetic), str(tmp_path / "ok.wav")], "a model of task 'synthetic', which does not predict on audio"),
        ([str(vad), str(tmp_path / "ok.wav"), "--task", "asvspoof2019"], "a model of task 'vad', not 'asvspoof2019'"),
    ]:
        code, err = cli(["predict", *args, "--out", out], capsys)
        assert code == EXIT_ERROR and err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert not (tmp_path / "out").exists()
