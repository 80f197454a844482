"""Saved candidates: one model file per ok record, reloaded bit for bit, re-scored by `eval`."""

import json
from pathlib import Path

import pytest
import torch

from tests.cli_args import TINY_SYNTHETIC
from tradeoff_bench.bench.artifacts import ModelSpec, load_model, read_model_file, save_model
from tradeoff_bench.bench.cli import EXIT_ERROR, main
from tradeoff_bench.bench.measure import measure_metrics
from tradeoff_bench.bench.store import Store
from tradeoff_bench.tasks.metrics import ItemScores

TINY = [*TINY_SYNTHETIC, "--no-progress"]
DENSE = ["--method", "dense", "--set", "multipliers=[0.5,1.0]"]
QUANTIZED = ["--method", "quantization", "--set", "modes=['dynamic','static']", "--set", "calibration_batches=1"]


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    for method in (DENSE, QUANTIZED):
        assert main(["run", *TINY, *method, "--out", str(out)]) == 0
    return out


def test_every_ok_candidate_has_one_model_file_that_reloads_to_its_metrics(run_dir: Path) -> None:
    records = [r for r in Store(run_dir).records() if r.status == "ok"]
    assert len(records) == 4
    assert sorted(p.name for p in (run_dir / "models").iterdir()) == sorted(Path(r.model_file).name for r in records)
    assert {Path(r.model_file).suffix for r in records} == {".safetensors", ".pt"}  # int8: packed params
    for record in records:
        assert json.loads((run_dir / "records" / f"{record.record_id}.json").read_text())["model_file"]
        loaded = load_model(run_dir / record.model_file)
        assert loaded.spec == ModelSpec.of(record)
        torch.set_num_threads(1)  # as the cell ran
        assert measure_metrics(loaded.model, loaded.task)[0] == record.metrics, record.label


def test_no_save_models_keeps_no_weights(tmp_path: Path) -> None:
    assert main(["run", *TINY, *DENSE, "--out", str(tmp_path / "run"), "--no-save-models"]) == 0
    assert not (tmp_path / "run" / "models").exists()
    assert all(r.model_file is None for r in Store(tmp_path / "run").records())


def test_eval_rescores_without_touching_the_run_and_reports_its_own_table(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {p: p.read_bytes() for p in sorted((run_dir / "records").iterdir())}
    same, other = tmp_path / "same", tmp_path / "noisier"
    assert cli(["eval", str(run_dir), "--out", str(same)], capsys)[0] == 0
    code, out, _ = cli(["eval", str(run_dir), "--task-set", "noise_std=0.5", "--out", str(other)], capsys)
    assert code == 0 and "re-scored 4 saved candidates of 2 cells" in out
    assert {p: p.read_bytes() for p in sorted((run_dir / "records").iterdir())} == before
    sources = {r.record_id: r for r in Store(run_dir).records()}
    for record in Store(same).records():  # the same data: the same metrics, bit for bit
        assert record.metrics == sources[record.source_record].metrics
    rescored = list(Store(other).records())
    for record in rescored:
        source = sources[record.source_record]
        assert record.train_corpus == source.corpus and record.train_task_settings == source.task_settings
        assert record.task_settings["noise_std"] == 0.5 and record.metrics != source.metrics
        assert record.macs == source.macs and record.model_file is None
        (kept,) = record.outputs  # its own per-item scores, of the data it was evaluated on
        assert kept.endswith("scores.npz")
        assert ItemScores.load(other / kept).metric("mse") == pytest.approx(record.metrics["mse"], abs=1e-9)
    code, out, _ = cli(["eval", str(run_dir), "--task-set", "noise_std=0.5", "--out", str(other)], capsys)
    assert code == 0 and "(2 finished earlier)" in out  # resumable: nothing is re-scored twice
    assert cli(["report", str(run_dir), str(other), "--to", str(tmp_path / "report")], capsys)[0] == 0
    boards = [p.parent.name for p in (tmp_path / "report").rglob("leaderboard.md")]
    assert len(boards) == 2 and any("noise_std=0.5" in name for name in boards), boards
    assert not [p for p in (tmp_path / "report").rglob("*") if p.suffix in (".safetensors", ".pt")]


def test_eval_refuses_its_own_run_and_a_run_without_models(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(["eval", str(run_dir), "--out", str(run_dir)], capsys)
    assert code == EXIT_ERROR and "another folder than RUN" in err
    assert main(["run", *TINY, *DENSE, "--out", str(tmp_path / "bare"), "--no-save-models"]) == 0
    capsys.readouterr()
    code, _, err = cli(["eval", str(tmp_path / "bare"), "--out", str(tmp_path / "e")], capsys)
    assert code == EXIT_ERROR and "holds no saved models" in err
    code, _, err = cli(["eval", str(run_dir), "--task-set", "nosie_std=1", "--out", str(tmp_path / "e")], capsys)
    assert code == EXIT_ERROR and "noise_std" in err and err.count("\n") == 1


def test_a_model_file_that_is_not_one_is_refused_in_one_line(tmp_path: Path) -> None:
    from tradeoff_bench.bench.errors import ArtifactError

    with pytest.raises(ArtifactError, match="no such model file"):
        read_model_file(tmp_path / "missing.safetensors")
    for name in ("garbage.safetensors", "garbage.pt"):
        (tmp_path / name).write_bytes(b"not a model")
        with pytest.raises(ArtifactError, match="not a tradeoff-bench model file"):
            read_model_file(tmp_path / name)
    plain = torch.nn.Linear(2, 2)
    saved = save_model(plain, ModelSpec("r", "synthetic", {}, "dense", {}, {}))
    assert saved.suffix == ".safetensors"


def test_eval_refuses_data_that_change_the_task_unless_allowed(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "seed1"
    code, _, err = cli(["eval", str(run_dir), "--task-set", "data_seed=1", "--out", str(other)], capsys)
    assert code == EXIT_ERROR and err.count("\n") == 1
    assert "its teacher is width 16, data_seed 1, the model was trained for width 16, data_seed 0" in err
    assert not other.exists()
    code, _, err = cli(
        ["eval", str(run_dir), "--task-set", "data_seed=1", "--out", str(other), "--allow-overlap"], capsys
    )
    assert code == 0 and "warning: the evaluation data overlap" in err
    assert all("teacher" in r.facts["data_overlap"][0] for r in Store(other).records())


def test_vad_identities_name_the_speakers_an_eval_would_share() -> None:
    from tradeoff_bench.tasks.vad.task import TINY_DATA, VadTask

    small = {**TINY_DATA, "n_train": 8, "n_val": 3, "n_test": 8, "mixture_seconds": 2.0}
    trained = VadTask(**small)
    train = trained.data_identity("train").union(trained.data_identity("val"))
    assert trained.data_identity("test").conflicts(train) == []  # one task's splits are disjoint
    shared = [VadTask(**{**small, "data_seed": seed}).data_identity("test").conflicts(train) for seed in range(1, 6)]
    assert any("speakers were in training" in " ".join(found) for found in shared)  # another split draws them
