"""A full disk during `data generate`, `run`, `eval`, `predict`, `export` and `report`: one `error:`
line naming the path and the OS error, exit status 2, nothing half-written left (partial corpus,
lock file, temporary file, half a cell) and everything that was there before unchanged.

The disk is a small tmpfs, filled up by the test; where mounting one is not allowed the tests skip.
"""

import errno
import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.bench.test_predict import saved
from tests.cli_args import TINY_SYNTHETIC
from tradeoff_bench.bench.cli import main
from tradeoff_bench.tasks.vad import mini

TINY = [*TINY_SYNTHETIC, "--method", "dense", "--set", "multipliers=[0.5, 1.0]"]


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A fresh 16 MiB tmpfs."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(disk: Path, leave: int = 0) -> None:
    """Fill `disk` up, leaving about `leave` bytes (whole pages) free."""
    room = disk / ".room"
    room.write_bytes(b"\0" * leave)
    with open(disk / ".filler", "wb", buffering=0) as handle:
        for size in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    handle.write(b"\0" * size)
            except OSError as err:
                assert err.errno == errno.ENOSPC
    room.unlink()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder`, hidden ones included, with its content's digest."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
        for p in sorted(folder.rglob("*"))
        if p.name not in (".filler", ".room")
    }


def fails_in_one_line(args: list[str], capsys: pytest.CaptureFixture[str], path: Path) -> str:
    """The error line (`run` and `eval` say what they start on stderr first: progress, not errors)."""
    code = main(args)
    stdout, stderr = capsys.readouterr()
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == errors[0]
    assert errors[0].startswith(f"error: {path}") and errors[0].endswith(": disk full"), errors[0]
    return errors[0]


@pytest.fixture
def trained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "trained"
    assert main(["run", *TINY, "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    return out


def test_data_generate(disk: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """vad-mini (at its tiny scale, from espeak-ng) into a folder holding a file of its own, and into a new one."""
    monkeypatch.setitem(mini.SCALES, "mini", mini.SCALES["tiny"])
    monkeypatch.setattr(mini, "_recorded_or_espeak", lambda root, seed: "espeak")
    (disk / "mine").mkdir()
    (disk / "mine" / "notes.txt").write_text("kept")
    fill(disk, leave=256 * 1024)
    before = snapshot(disk)
    for root in (disk / "mine", disk / "new" / "corpora"):
        fails_in_one_line(["data", "generate", "vad-mini", "--root", str(root)], capsys, root)
        assert snapshot(disk) == before  # no partial corpus, no lock file, no folder made


def test_data_generate_into_another_corpus_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "LA").mkdir()
    (tmp_path / "LA" / "mine.txt").write_text("kept")
    before = snapshot(tmp_path)
    assert main(["data", "generate", "asvspoof2019-mini", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {tmp_path}/LA exists but is not a generated"), err
    assert snapshot(tmp_path) == before  # its lock file is gone too


def test_run(disk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Seed 0 is finished; seeds 1 and 2 meet a full disk: seed 0 is kept, nothing of the others stays."""
    out = disk / "run"
    assert main(["run", *TINY, "--out", str(out), "--no-progress"]) == 0
    fill(disk)
    capsys.readouterr()
    before = snapshot(disk)
    for jobs in ("1", "2"):
        args = ["run", *TINY, "--seeds", "0,1,2", "--out", str(out), "--no-progress", "--jobs", jobs]
        fails_in_one_line(args, capsys, out)
        assert snapshot(disk) == before
    (disk / ".filler").unlink()
    assert main(["run", *TINY, "--seeds", "0,1,2", "--out", str(out), "--no-progress"]) == 0
    assert "ran 2 of 3 cells" in capsys.readouterr().out


def test_eval(disk: Path, trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Room for the run file, not for the records."""
    out = disk / "scored"
    fill(disk, leave=4096)
    fails_in_one_line(["eval", str(trained), "--out", str(out)], capsys, out)
    left = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert left in ([], ["run.json"]), left  # at most an empty run: no half cell, temporary or lock file


def test_predict(disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, _, _ = saved(tmp_path, "vad")
    audio = tmp_path / "clip.wav"
    soundfile.write(audio, np.random.default_rng(0).normal(0, 0.1, 16_000).astype(np.float32), 16_000)
    out = disk / "predictions"
    out.mkdir()
    (out / "clip.csv").write_text("an older prediction\n")
    fill(disk)
    before = snapshot(disk)
    fails_in_one_line(["predict", str(model), str(audio), "--out", str(out)], capsys, out)
    assert snapshot(disk) == before
    fails_in_one_line(["predict", str(model), str(audio), "--out", str(disk / "new")], capsys, disk / "new")
    assert snapshot(disk) == before


def test_export(disk: Path, trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnx")
    model = next((trained / "models").glob("*.safetensors"))
    fill(disk)
    before = snapshot(disk)
    for to in (disk / "model.onnx", disk / "new" / "model.onnx"):
        fails_in_one_line(["export", str(model), "--to", str(to)], capsys, to)
        assert snapshot(disk) == before


def test_report(disk: Path, trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An earlier report on the full disk stays whole and as it was."""
    to = disk / "report"
    assert main(["report", str(trained), "--to", str(to)]) == 0
    fill(disk)
    capsys.readouterr()
    before = snapshot(disk)
    fails_in_one_line(["report", str(trained), "--to", str(to)], capsys, to)
    assert snapshot(disk) == before
