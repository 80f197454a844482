"""The training cache: identical trainings of different cells run once, the one reused is really the
one trained (bit for bit), anything that changes the training misses, and neither a killed writer
nor two workers at once corrupt it."""

import copy
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from tradeoff_bench.bench.cache import TrainingCache
from tradeoff_bench.bench.cli import main
from tradeoff_bench.bench.grid import resolve_cell
from tradeoff_bench.bench.runner import execute_cell
from tradeoff_bench.bench.store import Store
from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.core.records import Record
from tradeoff_bench.methods.base import RunContext
from tradeoff_bench.methods.dense import Dense
from tradeoff_bench.methods.quantization import Quantization, _dynamic
from tradeoff_bench.methods.training import FitResult, seeded_build, shared_fit, state_digest
from tradeoff_bench.tasks.synthetic import SyntheticTask

SETTINGS = {"n_train": 128, "n_val": 32, "n_test": 64, "epochs": 2, "max_width": 16}
TASK = SyntheticTask(**SETTINGS)
TIMING = {"train_seconds", "cell_seconds", "latency_ms", "provenance"}


def cache(root: Path, origin: str = "test/0", **task_settings: Any) -> TrainingCache:
    settings = {**TASK.settings(), **task_settings}
    return TrainingCache(root, task="synthetic", task_settings=settings, corpus=TASK.corpus, origin=origin)


def context(store: TrainingCache | None, seed: int = 0) -> RunContext:
    return RunContext(seed=seed, count_macs=count_macs, cache=store)


def phase(store: TrainingCache | None, task: SyntheticTask = TASK, **fit: Any) -> tuple[torch.nn.Module, FitResult]:
    ctx = context(store)
    model = seeded_build(ctx, task.build_model)
    return model, shared_fit(model, task, ctx, phase="float", **fit)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def entries(root: Path) -> list[Path]:
    return sorted(root.rglob("*.safetensors"))


def test_dense_x1_and_quantizations_float_model_are_one_training(tmp_path: Path) -> None:
    dense_cache, quant_cache = cache(tmp_path, "dense/a"), cache(tmp_path, "quantization/b")
    [dense] = Dense(multipliers=(1.0,)).run(TASK, context(dense_cache))
    assert "reused" not in dense.facts and len(entries(tmp_path)) == 1
    candidates = Quantization(modes=("dynamic", "static"), calibration_batches=2).run(TASK, context(quant_cache))
    assert len(entries(tmp_path)) == 1  # nothing new was trained
    key = entries(tmp_path)[0].stem
    for candidate in candidates:
        assert candidate.facts["reused"] == [{"phase": "float", "key": key, "from": "dense/a"}]
        assert same_weights(candidate.cost_model, dense.model)  # bit for bit
        assert candidate.train_seconds >= dense.train_seconds  # the seconds of the training behind it
        assert candidate.facts["history"] == dense.facts["history"]
    dynamic = next(c for c in candidates if c.facts["mode"] == "dynamic")
    x = torch.randn(16, TASK.in_features, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(dynamic.model(x), _dynamic(copy.deepcopy(dense.model)).eval()(x))


def test_magnitude_pruners_share_their_pre_training_and_network_slimming_does_not(tmp_path: Path) -> None:
    from tradeoff_bench.methods.magnitude import Magnitude
    from tradeoff_bench.methods.network_slimming import NetworkSlimming
    from tradeoff_bench.methods.unstructured import MagnitudeUnstructured

    [structured] = Magnitude(targets=(0.5,), steps=1).run(TASK, context(cache(tmp_path, "magnitude/a")))
    [sparse] = MagnitudeUnstructured(sparsities=(0.5,), steps=1).run(TASK, context(cache(tmp_path, "mu/b")))
    assert "reused" not in structured.facts and len(entries(tmp_path)) == 1
    assert [r["phase"] for r in sparse.facts["reused"]] == ["pretrain"]
    assert sparse.facts["reused"][0]["from"] == "magnitude/a"
    assert sparse.facts["history"][:1] == structured.facts["history"][:1]  # the shared pre-training epoch
    [slimmed] = NetworkSlimming(targets=(0.5,)).run(TASK, context(cache(tmp_path, "ns/c")))
    assert "reused" not in slimmed.facts and len(entries(tmp_path)) == 1  # its L1 loss: its own training


def test_a_reused_training_equals_one_trained_here(tmp_path: Path) -> None:
    trained_model, trained = phase(cache(tmp_path))
    reused_model, reused = phase(cache(tmp_path, origin="other/1"))
    plain_model, plain = phase(None)
    assert trained.reused is None and reused.reused is not None and reused.reused["from"] == "test/0"
    assert same_weights(reused_model, trained_model) and same_weights(plain_model, trained_model)
    assert (reused.history, reused.selected_epoch, reused.seconds) == (
        trained.history,
        trained.selected_epoch,
        trained.seconds,
    )
    assert reused.history == plain.history
    assert not reused_model.training


def test_anything_that_changes_the_training_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    phase(cache(tmp_path))
    assert phase(cache(tmp_path))[1].reused is not None
    assert phase(cache(tmp_path), epochs=1)[1].reused is None  # another recipe
    assert phase(cache(tmp_path), seed_offset=1)[1].reused is None  # another data order
    other = SyntheticTask(**{**SETTINGS, "n_train": 96})
    assert phase(cache(tmp_path, n_train=96), task=other)[1].reused is None  # other data
    narrow = context(cache(tmp_path))
    model = seeded_build(narrow, lambda: TASK.build_model({knob: 8 for knob in TASK.knobs}))
    assert shared_fit(model, TASK, narrow, phase="p").reused is None  # another architecture
    monkeypatch.setattr("tradeoff_bench.bench.cache.code_digest", lambda: "0123456789abcdef")
    assert phase(cache(tmp_path))[1].reused is None  # other code
    assert len(entries(tmp_path)) == 6


def test_a_killed_writers_leftovers_are_never_read(tmp_path: Path) -> None:
    first, _ = phase(cache(tmp_path))
    [entry] = entries(tmp_path)
    whole = entry.read_bytes()
    entry.write_bytes(whole[: len(whole) // 2])  # an entry cut short (as a disk fault could leave it)
    leftover = entry.parent / f".{entry.name}.abc123.tmp"  # a writer killed before its rename
    leftover.write_bytes(whole[:100])
    again, fitted = phase(cache(tmp_path))
    assert fitted.reused is None and not leftover.exists()  # trained again, the leftover cleared
    assert same_weights(again, first)
    assert phase(cache(tmp_path))[1].reused is not None  # the entry is whole again


def test_a_dead_holders_lock_does_not_block(tmp_path: Path) -> None:
    phase(cache(tmp_path))
    [entry] = entries(tmp_path)
    entry.unlink()
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Event()
    holder = spawn.Process(target=_hold_lock, args=(str(entry.with_suffix(".lock")), ready))
    holder.start()
    assert ready.wait(60)
    os.kill(holder.pid or 0, signal.SIGKILL)  # a cell killed while training this key
    holder.join()
    started = time.perf_counter()
    assert phase(cache(tmp_path))[1].reused is None
    assert time.perf_counter() - started < 30 and entries(tmp_path) == [entry]


def test_two_processes_asking_at_once_train_once(tmp_path: Path) -> None:
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(2), spawn.Queue()
    workers = [spawn.Process(target=_ask, args=(str(tmp_path), f"w/{i}", barrier, results)) for i in range(2)]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(reused for reused, _ in answers) == [False, True]
    assert len({digest for _, digest in answers}) == 1
    assert len(entries(tmp_path)) == 1


def test_records_say_what_they_reused_and_match_a_run_without_cache(tmp_path: Path) -> None:
    dense = resolve_cell("synthetic", SETTINGS, "dense", {"multipliers": [1.0]}, 0)
    quant = resolve_cell("synthetic", SETTINGS, "quantization", {"modes": ["dynamic"], "calibration_batches": 2}, 0)
    [trained] = execute_cell(dense, "cpu", 1, tmp_path)
    [reused] = execute_cell(quant, "cpu", 1, tmp_path)
    [alone] = execute_cell(quant, "cpu", 1)
    assert reused.status == "ok" and reused.facts["reused"][0]["from"] == f"dense/{dense.cell_id}"
    assert reused.train_seconds >= trained.train_seconds
    assert _figures(reused, drop="reused") == _figures(alone)


def test_run_keeps_the_cache_in_the_run_folder_unless_told_not_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--task", "synthetic", "--no-progress", "--seeds", "0"]
    common += [arg for key, value in SETTINGS.items() for arg in ("--task-set", f"{key}={value}")]
    quant = ["--method", "quantization", "--set", "modes=['dynamic']", "--set", "calibration_batches=2"]
    for out, extra in ((tmp_path / "cached", []), (tmp_path / "uncached", ["--no-cache"])):
        assert main(["run", *common, "--method", "dense", "--set", "multipliers=[1.0]", "--out", str(out), *extra]) == 0
        assert main(["run", *common, *quant, "--out", str(out), *extra]) == 0
    capsys.readouterr()
    records = {
        out: [r for r in Store(tmp_path / out).records() if r.method == "quantization"]
        for out in ("cached", "uncached")
    }
    assert [len(r.facts["reused"]) for r in records["cached"]] == [1]
    assert ["reused" in r.facts for r in records["uncached"]] == [False]
    assert len(entries(tmp_path / "cached" / "cache")) == 1 and not (tmp_path / "uncached" / "cache").exists()


def _figures(record: Record, drop: str = "") -> dict:
    data = {k: v for k, v in record.to_dict().items() if k not in TIMING and k != "model_file"}
    data["facts"] = {k: v for k, v in data["facts"].items() if k != drop}
    return data


def _hold_lock(path: str, ready: Any) -> None:
    import fcntl

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    ready.set()
    time.sleep(600)


def _ask(root: str, origin: str, barrier: Any, results: Any) -> None:
    torch.set_num_threads(1)
    store = cache(Path(root), origin)
    barrier.wait()
    model, fitted = phase(store)
    results.put((fitted.reused is not None, state_digest(model)))
