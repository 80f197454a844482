"""Reading the ASVspoof 2019 LA layout: protocols, files, counts, ASV scores, CM score files, bad input."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from tradeoff_bench.core.registry import SettingError
from tradeoff_bench.tasks.asvspoof import ASVspoofTask
from tradeoff_bench.tasks.asvspoof.data import open_corpus, stratified_subset
from tradeoff_bench.tasks.asvspoof.features import AudioError, fix_length, read_audio
from tradeoff_bench.tasks.asvspoof.mini import MARKER
from tradeoff_bench.tasks.asvspoof.protocol import (
    PUBLISHED_COUNTS,
    ProtocolError,
    Trial,
    asv_score_path,
    check_files,
    count_note,
    protocol_path,
    read_asv_scores,
    read_protocol,
)
from tradeoff_bench.tasks.asvspoof.scorefile import read_score_file, score_metrics, write_score_file

LINE = re.compile(r"LA_E_\d{7} (-|A\d\d) (bonafide|spoof) -?\d+(\.\d+)?(e-?\d+)?")


@pytest.fixture(scope="module")
def tiny() -> ASVspoofTask:
    task = ASVspoofTask(mini_size="tiny", n_fft=64, epochs=1, batch_size=8)
    task.prepare()
    return task


@pytest.fixture
def real_like(tiny: ASVspoofTask, tmp_path: Path) -> Path:
    """A copy of the tiny corpus without the generator's marker: it reads as a (subset of the) real corpus."""
    root = tmp_path / "corpus"
    shutil.copytree(tiny.corpus_root / "LA", root / "LA", ignore=shutil.ignore_patterns(MARKER))
    return root


def write_protocol(tmp_path: Path, lines: list[str], partition: str = "train") -> Path:
    path = tmp_path / f"{partition}.txt"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_protocol_lines_are_read_in_order(tmp_path: Path) -> None:
    path = write_protocol(tmp_path, ["LA_0079 LA_T_1138215 - - bonafide", "LA_0079 LA_T_1271820 - A01 spoof", ""])
    assert read_protocol(path, "train") == [
        Trial("LA_0079", "LA_T_1138215", "-", "bonafide"),
        Trial("LA_0079", "LA_T_1271820", "A01", "spoof"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("LA_0079 LA_T_1271820 A01 spoof", r":2: expected 5 fields .* got 4"),
        ("LA_0079 LA_T_1271820 - A01 spoof extra", r":2: expected 5 fields .* got 6"),
        ("LA_0079 LA_T_1271820 - A01 spoofed", r":2: unknown key 'spoofed'"),
        ("LA_0079 LA_T_1271820 A01 - spoof", r":2: field 3 must be '-', got 'A01' \(fields 3 and 4 swapped"),
        ("LA_0079 LA_T_1271820 - A01 bonafide", r":2: a bona fide trial must have attack '-'"),
        ("LA_0079 LA_T_1271820 - - spoof", r":2: unknown attack id '-'"),
        ("LA_0079 LA_D_1271820 - A01 spoof", r":2: utterance id 'LA_D_1271820' is not of the form LA_T_"),
        ("SPK LA_T_1271820 - A01 spoof", r":2: speaker 'SPK'"),
        ("LA_0079 LA_T_1138215 - A01 spoof", r":2: utterance LA_T_1138215 is listed twice"),
    ],
)
def test_bad_protocol_lines_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = write_protocol(tmp_path, ["LA_0079 LA_T_1138215 - - bonafide", line])
    with pytest.raises(ProtocolError, match=message):
        read_protocol(path, "train")


def test_missing_and_empty_protocols(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match="missing CM protocol"):
        read_protocol(tmp_path / "none.txt", "eval")
    with pytest.raises(ProtocolError, match="no trials"):
        read_protocol(write_protocol(tmp_path, [""]), "eval")


def test_ids_without_files_and_files_without_ids(real_like: Path) -> None:
    trials = read_protocol(protocol_path(real_like, "dev"), "dev")
    assert len(check_files(real_like, "dev", trials)) == len(trials)
    folder = real_like / "LA" / "ASVspoof2019_LA_dev" / "flac"
    missing = folder / f"{trials[0].utt}.flac"
    missing.rename(folder / "LA_D_0000001.flac")
    with pytest.raises(ProtocolError, match=rf"have no file in .*: {trials[0].utt}"):
        check_files(real_like, "dev", trials)
    (folder / "LA_D_0000001.flac").rename(missing)
    shutil.copy(missing, folder / "LA_D_9999999.flac")
    with pytest.raises(ProtocolError, match=r"1 file\(s\) in .* are not in .*dev.trl.txt: LA_D_9999999.flac"):
        check_files(real_like, "dev", trials)


def test_unreadable_flac_names_the_file(real_like: Path, tmp_path: Path) -> None:
    broken = tmp_path / "LA_E_1234567.flac"
    broken.write_bytes(b"not a flac file")
    with pytest.raises(AudioError, match="LA_E_1234567.flac"):
        read_audio(broken)
    stereo = tmp_path / "stereo.flac"
    soundfile.write(stereo, np.zeros((160, 2), np.float32), 16_000)
    with pytest.raises(AudioError, match="stereo.flac: 2 channels"):
        read_audio(stereo)
    fast = tmp_path / "fast.flac"
    soundfile.write(fast, np.zeros(160, np.float32), 8_000)
    with pytest.raises(AudioError, match="fast.flac: sample rate 8000"):
        read_audio(fast)
    # and through the task: the corrupt eval file is named when features are computed
    trials = read_protocol(protocol_path(real_like, "eval"), "eval")
    (real_like / "LA" / "ASVspoof2019_LA_eval" / "flac" / f"{trials[-1].utt}.flac").write_bytes(b"garbage")
    task = ASVspoofTask(root=str(real_like), n_fft=64)
    with pytest.warns(UserWarning, match="subset"), pytest.raises(AudioError, match=f"{trials[-1].utt}.flac"):
        task.evaluate(task.build_model())


def test_fixed_length_crops_or_tiles() -> None:
    assert fix_length(np.arange(5.0), 3).tolist() == [0, 1, 2]
    assert fix_length(np.arange(3.0), 7).tolist() == [0, 1, 2, 0, 1, 2, 0]


def test_counts_against_the_published_ones() -> None:
    def trials(bona: int, spoof: int) -> list[Trial]:
        return [Trial("LA_0001", "x", "-", "bonafide")] * bona + [Trial("LA_0001", "x", "A07", "spoof")] * spoof

    assert count_note("eval", trials(*PUBLISHED_COUNTS["eval"])) is None
    note = count_note("train", trials(100, 900))
    assert note == "train: a subset — 100 bona fide + 900 spoof of the published 2,580 + 22,800"
    with pytest.raises(ProtocolError, match="more than the published 2,548 \\+ 22,296"):
        count_note("dev", trials(2_549, 10))


def test_a_subset_of_the_real_layout_is_named_and_announced(real_like: Path) -> None:
    with pytest.warns(UserWarning, match="a subset"):
        corpus = open_corpus(real_like, None, 0)
    assert corpus.name == "asvspoof2019-LA (subset)" and not corpus.generated
    assert any("no ASV score file" in note for note in corpus.notes)
    with pytest.warns(UserWarning):
        task = ASVspoofTask(root=str(real_like))
        assert task.corpus == "asvspoof2019-LA (subset)" and task.peers() == []


def test_a_malformed_protocol_fails_its_grid_cell_with_the_line_and_the_grid_goes_on(real_like: Path) -> None:
    from tradeoff_bench.bench.grid import resolve_cell
    from tradeoff_bench.bench.runner import execute_cell

    protocol = real_like / "LA" / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.dev.trl.txt"
    lines = protocol.read_text().splitlines()
    protocol.write_text("\n".join([*lines[:2], lines[2] + " extra", *lines[3:]]) + "\n")
    cell = resolve_cell("asvspoof2019", {"root": str(real_like), "n_fft": 64, "epochs": 1}, "dense", {}, 0)
    (record,) = execute_cell(cell)
    assert record.status == "failed" and f"{protocol.name}:3: expected 5 fields" in record.error


def test_missing_corpus_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(SettingError, match="tradeoff-bench data generate asvspoof2019-mini --root"):
        ASVspoofTask(root=str(tmp_path / "nowhere"))  # when configured, before any cell runs
    (tmp_path / "empty" / "LA").mkdir(parents=True)
    with pytest.raises(ProtocolError, match="missing CM protocol .*ASVspoof2019.LA.cm.train.trn.txt"):
        ASVspoofTask(root=str(tmp_path / "empty")).prepare()


def write_asv(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_asv_score_file_reader(tmp_path: Path) -> None:
    good = ["bonafide target 7.98", "bonafide nontarget -3.5", "A07 spoof 1.25", "spoof spoof 0.5"]
    scores = read_asv_scores(write_asv(tmp_path / "asv.txt", good))
    assert (scores.target, scores.nontarget, scores.spoof) == ([7.98], [-3.5], [1.25, 0.5])
    for line, message in [
        ("bonafide target", r":5: expected 3 fields"),
        ("bonafide impostor 1.0", r":5: unknown ASV key 'impostor'"),
        ("human target 1.0", r":5: unknown source 'human'"),
        ("A07 target 1.0", r":5: source 'A07' contradicts ASV key 'target'"),
        ("bonafide target high", r":5: score 'high' is not a number"),
        ("bonafide target nan", r":5: score 'nan' is not finite"),
    ]:
        with pytest.raises(ProtocolError, match=message):
            read_asv_scores(write_asv(tmp_path / "bad.txt", good + [line]))
    with pytest.raises(ProtocolError, match="no spoof trials"):
        read_asv_scores(write_asv(tmp_path / "nospoof.txt", good[:2]))


def test_real_layout_with_asv_scores_reports_min_tdcf(real_like: Path) -> None:
    for partition in ("dev", "eval"):
        lines = ["bonafide target 2", "bonafide target 3", "bonafide nontarget -1", "bonafide nontarget 0"]
        write_asv(asv_score_path(real_like, partition), lines + ["A07 spoof 1"])
    with pytest.warns(UserWarning, match="subset"):
        task = ASVspoofTask(root=str(real_like), n_fft=64)
        metrics = task.evaluate(task.build_model())
    assert 0 <= metrics["min_tdcf"] and 0 <= metrics["eer"] <= 100


def test_cm_score_file_round_trip(tiny: ASVspoofTask, tmp_path: Path) -> None:
    model = tiny.build_model()
    path = tiny.write_cm_scores(model, "test", tmp_path / "scores" / "cm.txt")
    lines = path.read_text().splitlines()
    trials = tiny._corpus.partitions["eval"].trials
    assert len(lines) == len(trials) and all(LINE.fullmatch(line) for line in lines)
    assert [line.split()[:3] for line in lines] == [[t.utt, t.attack, t.key] for t in trials]
    rows = read_score_file(path)
    np.testing.assert_array_equal([r.score for r in rows], tiny.scores(model, "test"))  # repr: exact
    assert score_metrics(rows) == tiny.evaluate(model, "test")
    outputs = tiny.outputs(model)  # what a grid run keeps per model
    assert sorted(outputs) == ["cm_scores.eval.txt", "scores.npz"] and outputs["cm_scores.eval.txt"] == path.read_text()


def test_a_model_is_scored_once_until_it_changes(tiny: ASVspoofTask) -> None:
    model = tiny.build_model()
    calls = []
    model.register_forward_hook(lambda *args: calls.append(1))
    first = tiny.scores(model, "test")
    batches = len(calls)
    assert tiny.outputs(model) and len(calls) == batches  # the score files reuse the evaluation
    with torch.no_grad():
        next(model.parameters()).add_(1.0)  # changed in place: scored again
    assert not np.array_equal(tiny.scores(model, "test"), first) and len(calls) == 2 * batches
    tiny.scores(tiny.build_model(), "test")  # only the last model is kept
    tiny.scores(model, "test")
    assert len(calls) == 3 * batches
    tiny.scores(model, "val")  # another split
    assert len(calls) > 3 * batches


def test_score_file_rejects_bad_lines(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2 trials but 1 scores"):
        write_score_file(tmp_path / "x.txt", [Trial("LA_0001", "LA_E_1000000", "-", "bonafide")] * 2, [0.0])
    (tmp_path / "bad.txt").write_text("LA_E_1000000 - bonafide 1.0\nLA_E_1000001 A07 spoof\n")
    with pytest.raises(ProtocolError, match=r"bad.txt:2: expected 4 fields"):
        read_score_file(tmp_path / "bad.txt")


def test_generated_corpus_marker_is_what_makes_it_mini(tiny: ASVspoofTask) -> None:
    assert (tiny.corpus_root / "LA" / MARKER).is_file()
    assert tiny.corpus == "asvspoof2019-mini (tiny)" and tiny.peers() == []


@pytest.mark.parametrize("count", [7, 200, 1_001, 25_379, 25_380])
def test_a_stratified_subset_has_exactly_the_asked_size(count: int) -> None:
    """The real train partition's mix (2,580 bona fide, 6 attacks of 3,800): `max_utterances=200`
    keeps 200 trials, not 202, every class represented in proportion."""
    trials = [Trial(f"LA_{i % 20:04d}", f"LA_T_{i:07d}", "-", "bonafide") for i in range(2_580)]
    trials += [Trial("LA_0001", f"LA_T_{9_000_000 + i:07d}", f"A0{1 + i % 6}", "spoof") for i in range(22_800)]
    keep = stratified_subset(trials, count, seed=0)
    assert len(keep) == len(set(keep)) == count
    kept = [trials[i].attack for i in keep]
    assert set(kept) == {"-", "A01", "A02", "A03", "A04", "A05", "A06"}
    assert abs(kept.count("-") - count * 2_580 / 25_380) <= 1


def test_a_subset_smaller_than_the_classes_is_refused() -> None:
    trials = [
        Trial("S", f"U{i}", attack, "spoof" if attack != "-" else "bonafide")
        for i, attack in enumerate(["-", "A01", "A02"])
    ]
    with pytest.raises(ValueError, match="cannot keep one trial of each of the 3 classes"):
        stratified_subset(trials, 2, seed=0)
