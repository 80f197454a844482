"""VAD corpus readers on hand-made corpora in the real VCTK 0.92 / ESC-50 layouts (48 / 44.1 kHz).

The speech files hold tones at known spans, so every frame label of every mixture is known; each
bad input of the issue gives an error naming the file, or a skip that the manifest counts.
"""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tradeoff_bench.tasks.vad.layout import CorpusError, Skip, load_audio, read_esc50, read_vctk
from tradeoff_bench.tasks.vad.mixing import AudioCache, MixSpec, build_manifest, render

SPANS = {  # utterance -> speech spans in 10 ms frames (gaps longer than 100 ms)
    f"p{s:03d}_{u:03d}": [(5 + 2 * s, 50 + 2 * s), (90, 100 + 10 * u)] for s in range(1, 6) for u in (1, 2)
}
LENGTH_FRAMES = 150


def _tone(spans: list[tuple[int, int]], rate: int, f0: float) -> np.ndarray:
    """Silence with a tone complex on `spans`; switched on and off at exact frame boundaries."""
    samples = np.arange(LENGTH_FRAMES * rate // 100)
    on = np.zeros(samples.size, dtype=bool)
    for start, end in spans:
        on[start * rate // 100 : end * rate // 100] = True
    t = samples / rate
    return (0.3 * np.sin(2 * np.pi * f0 * t) + 0.1 * np.sin(2 * np.pi * 2 * f0 * t)) * on


def make_vctk(root: Path, rate: int = 48_000) -> Path:
    audio = root / "wav48_silence_trimmed"
    lines = ["ID  AGE  GENDER  ACCENTS  REGION  COMMENTS"]
    for name, spans in SPANS.items():
        speaker = name.split("_")[0]
        (audio / speaker).mkdir(parents=True, exist_ok=True)
        sf.write(audio / speaker / f"{name}_mic1.flac", _tone(spans, rate, 150 + 10 * len(lines)), rate)
        if f"{speaker} " not in "\n".join(lines) + " ":
            lines.append(f"{speaker}  23  F  English  Southern  England")
    (root / "speaker-info.txt").write_text("\n".join(dict.fromkeys(lines)) + "\n")
    return root


def make_esc50(root: Path, rate: int = 44_100) -> Path:
    (root / "audio").mkdir(parents=True)
    (root / "meta").mkdir()
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    rng = np.random.default_rng(0)
    for fold in range(1, 6):
        for target, category in ((10, "rain"), (16, "wind")):
            name = f"{fold}-{1000 + fold}-A-{target}.wav"
            sf.write(root / "audio" / name, 0.1 * rng.standard_normal(rate), rate)
            rows.append(f"{name},{fold},{target},{category},False,{1000 + fold},A")
    (root / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture
def corpora(tmp_path: Path) -> tuple[Path, Path]:
    return make_vctk(tmp_path / "VCTK-Corpus-0.92"), make_esc50(tmp_path / "ESC-50-master")


def _manifest(speech: Path, noise: Path, n: int = 12):
    cache = AudioCache(read_vctk(speech), read_esc50(noise))
    return build_manifest(
        cache.speech_corpus, cache.noise_corpus, MixSpec(seconds=3.0, n_train=n, n_val=n, n_test=n), cache
    ), cache


def test_real_layouts_are_read_with_their_real_names_and_rates(corpora: tuple[Path, Path]) -> None:
    speech, noise = read_vctk(corpora[0]), read_esc50(corpora[1])
    assert (speech.name, speech.sample_rate, noise.name, noise.sample_rate) == ("vctk", 48_000, "esc50", 44_100)
    assert sorted(speech.speakers) == [f"p{s:03d}" for s in range(1, 6)]
    assert speech.speakers["p001"][0].path == "wav48_silence_trimmed/p001/p001_001_mic1.flac"
    assert [c.fold for c in noise.clips].count(5) == 2 and not speech.skipped


def test_frame_labels_match_the_known_speech_spans(corpora: tuple[Path, Path]) -> None:
    manifest, cache = _manifest(*corpora)
    checked = 0
    for split, entries in manifest.mixtures.items():
        for entry in entries:
            mixture, labels = render(entry, cache)
            assert mixture.shape == (entry["samples"],) and labels.shape == (entry["samples"] // 160,)
            expected = np.zeros_like(labels)
            edges = np.zeros(labels.size, dtype=bool)
            for part in entry["speech"]:
                assert part["start"] == 0 and part["offset"] % 160 == 0
                name = Path(part["file"]).name.removesuffix("_mic1.flac")
                for start, end in SPANS[name]:
                    first, last = part["offset"] // 160 + start, part["offset"] // 160 + end
                    expected[first:last] = 1
                    edges[[first - 1, first, last - 1, last]] = True
                checked += 1
            # the resampler (48 -> 16 kHz) may ring into the frame next to a switch: one frame of slack
            np.testing.assert_array_equal(labels[~edges], expected[~edges], err_msg=f"{split} {entry['id']}")
            assert np.abs(labels.astype(int) - expected).sum() <= 2 * len(entry["speech"])
    assert checked >= 36


def test_generated_corpus_is_read_by_the_same_readers(tmp_path: Path) -> None:
    from tradeoff_bench.tasks.vad.mini import ensure_corpora

    speech_root, noise_root = ensure_corpora(tmp_path, "tiny")
    assert (speech_root / "speaker-info.txt").is_file() and (noise_root / "meta" / "esc50.csv").is_file()
    speech, noise = read_vctk(speech_root), read_esc50(noise_root)
    assert (speech.name, noise.name, speech.sample_rate) == ("vctk-mini (espeak)", "esc50-mini (synthetic)", 16_000)
    assert len(speech.speakers) == 6 and {c.fold for c in noise.clips} == {1, 2, 3, 4, 5}
    assert all(Path(noise_root / c.path).name.split("-")[0] == str(c.fold) for c in noise.clips)
    manifest, cache = _manifest(speech_root, noise_root, n=4)
    for entry in manifest.mixtures["test"]:
        _, labels = render(entry, cache)
        inside = np.zeros_like(labels, dtype=bool)
        for part in entry["speech"]:
            first, last = part["offset"] // 160, (part["offset"] + part["length"]) // 160
            inside[first : last + 1] = True
            assert labels[first : last + 1].mean() > 0.4, "an utterance is mostly speech"
            assert labels[first] == 0, "generated utterances keep a silent margin of 50–150 ms"
        assert not labels[~inside].any(), "no speech label outside a placed utterance"


# --- bad input -------------------------------------------------------------------------------
def test_missing_or_partial_corpus_folders_are_errors_naming_the_path(
    corpora: tuple[Path, Path], tmp_path: Path
) -> None:
    speech, noise = corpora
    with pytest.raises(CorpusError, match="nowhere"):
        read_vctk(tmp_path / "nowhere")
    (speech / "speaker-info.txt").unlink()
    with pytest.raises(CorpusError, match="speaker-info.txt"):
        read_vctk(speech)
    (noise / "meta" / "esc50.csv").rename(noise / "esc50.csv")
    with pytest.raises(CorpusError, match="esc50.csv: missing"):
        read_esc50(noise)
    (noise / "audio").rename(noise / "clips")
    with pytest.raises(CorpusError, match="audio: missing"):
        read_esc50(noise)


def test_a_csv_row_pointing_at_a_missing_file_is_an_error_naming_it(corpora: tuple[Path, Path]) -> None:
    (corpora[1] / "audio" / "3-1003-A-16.wav").unlink()
    with pytest.raises(CorpusError, match=r"line \d+: lists .*3-1003-A-16\.wav, which does not exist"):
        read_esc50(corpora[1])


def test_a_csv_without_its_columns_or_with_a_wrong_name_is_an_error(corpora: tuple[Path, Path]) -> None:
    table = corpora[1] / "meta" / "esc50.csv"
    rows = table.read_text().splitlines()
    table.write_text("\n".join([rows[0], rows[1].replace(",1,10,", ",2,10,"), *rows[2:]]))
    with pytest.raises(CorpusError, match="disagrees with its fold 2"):
        read_esc50(corpora[1])
    table.write_text("name,fold\n")
    with pytest.raises(CorpusError, match="missing column"):
        read_esc50(corpora[1])


def test_speakers_without_audio_or_without_an_entry_are_counted_skips(corpora: tuple[Path, Path]) -> None:
    speech = corpora[0]
    with (speech / "speaker-info.txt").open("a") as info:
        info.write("p315  22  M  English  (text and audio lost)\n")
    (speech / "wav48_silence_trimmed" / "p999").mkdir()
    sf.write(speech / "wav48_silence_trimmed" / "p999" / "p999_001_mic1.flac", _tone([(10, 50)], 48_000, 200), 48_000)
    corpus = read_vctk(speech)
    assert "p315" not in corpus.speakers and "p999" not in corpus.speakers
    manifest, _ = _manifest(speech, corpora[1], n=2)
    assert manifest.to_dict()["skipped_counts"] == {
        "listed in speaker-info.txt but has no *_mic1.flac audio": 1,
        "speaker not listed in speaker-info.txt": 1,
    }


def test_short_and_silent_files_are_skipped_counted_and_never_mixed(corpora: tuple[Path, Path]) -> None:
    speech, noise = corpora
    folder = speech / "wav48_silence_trimmed"
    sf.write(folder / "p002" / "p002_001_mic1.flac", np.zeros(48_000), 48_000)  # silent
    sf.write(folder / "p003" / "p003_002_mic1.flac", 0.3 * np.ones(600), 48_000)  # 200 samples at 16 kHz
    sf.write(noise / "audio" / "1-1001-A-10.wav", 0.1 * np.ones(1000), 44_100)  # shorter than a frame
    manifest, _ = _manifest(speech, noise, n=20)
    reasons = {s.item: s.reason for s in manifest.skipped}
    assert reasons["wav48_silence_trimmed/p002/p002_001_mic1.flac"].startswith("silent")
    assert reasons["wav48_silence_trimmed/p003/p003_002_mic1.flac"].startswith("shorter than one")
    assert reasons["audio/1-1001-A-10.wav"].startswith("shorter than one")
    used = {p["file"] for entries in manifest.mixtures.values() for e in entries for p in e["speech"] + e["noise"]}
    assert not used & set(reasons)
    assert sum(manifest.to_dict()["skipped_counts"].values()) == 3


def test_a_sample_rate_mismatch_is_an_error_naming_the_file(corpora: tuple[Path, Path]) -> None:
    path = corpora[0] / "wav48_silence_trimmed" / "p004" / "p004_001_mic1.flac"
    sf.write(path, _tone(SPANS["p004_001"], 22_050, 200), 22_050)
    with pytest.raises(CorpusError, match=r"p004_001_mic1\.flac: sample rate 22050 Hz, but its corpus is at 48000 Hz"):
        load_audio(corpora[0], "wav48_silence_trimmed/p004/p004_001_mic1.flac", 48_000)
    with pytest.raises(CorpusError, match=r"p004_001_mic1\.flac: sample rate 22050"):
        _manifest(*corpora, n=20)


def test_an_unreadable_file_is_an_error_naming_it(corpora: tuple[Path, Path]) -> None:
    (corpora[1] / "audio" / "2-1002-A-10.wav").write_bytes(b"not audio")
    with pytest.raises(CorpusError, match=r"2-1002-A-10\.wav: cannot read audio"):
        load_audio(corpora[1], "audio/2-1002-A-10.wav", 44_100)
    assert isinstance(load_audio(corpora[1], "audio/2-1002-A-16.wav", 44_100), np.ndarray)
    assert not isinstance(load_audio(corpora[1], "audio/2-1002-A-16.wav", 44_100), Skip)


def test_a_share_of_mixtures_is_reverberant_with_its_room_on_record_and_the_dry_labels(
    corpora: tuple[Path, Path],
) -> None:
    from tradeoff_bench.tasks.vad.rooms import Room, impulse_response

    manifest, cache = _manifest(*corpora, n=40)
    entries = [e for split in manifest.mixtures.values() for e in split]
    rooms = [e for e in entries if e.get("room")]
    assert 0.15 < len(rooms) / len(entries) < 0.45
    again, _ = _manifest(*corpora, n=40)
    assert again.digest() == manifest.digest()  # the rooms are drawn from the seed
    entry = rooms[0]
    wet, labels = render(entry, cache)
    dry, dry_labels = render({k: v for k, v in entry.items() if k != "room"}, cache)
    np.testing.assert_array_equal(labels, dry_labels)
    assert not np.allclose(wet, dry, atol=1e-3)
    response, rt60 = impulse_response(Room.from_dict(entry["room"]))
    assert response[0] == 1.0 and np.abs(response[1:]).max() <= 1.0 and rt60 > 0.1


def test_a_mixture_keeps_utterances_whole_when_one_fits(corpora: tuple[Path, Path]) -> None:
    manifest, _ = _manifest(*corpora)
    parts = [p for split in manifest.mixtures.values() for e in split for p in e["speech"]]
    assert parts and all(p["start"] == 0 and p["length"] > 0 for p in parts)
