"""vad-mini from recorded sources (on a fake package cache: no network), its fallback and the real-audio test set."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tradeoff_bench.tasks import debian
from tradeoff_bench.tasks.asvspoof.mini import speaker_counts
from tradeoff_bench.tasks.vad import mini, realtest, recorded
from tradeoff_bench.tasks.vad.layout import read_esc50, read_vctk
from tradeoff_bench.tasks.vad.mixing import AudioCache, MixSpec, build_test_set

LANGUAGES = ("ca", "da", "de", "en", "sr", "sr@latin")


def _fake_cache(cache: Path, sources: recorded.SourceSet) -> None:
    """Every package of `sources` unpacked under `cache`, each glob matched by short tone files."""
    rng = np.random.default_rng(0)
    for name in sources.packages:
        root = cache / "debian" / name
        (root / "usr/share/doc" / name).mkdir(parents=True)
        (root / "usr/share/doc" / name / "copyright").write_text(f"Files: *\nLicense: test licence of {name}\n")
        (root / "package.json").write_text(json.dumps({"name": name, "version": "1.0-1"}))
    for source in sources.speech:
        for language in sorted(source.languages)[:3] if source.languages else LANGUAGES:
            for word in range(3):
                path = _fake_path(cache, source.package, source.pattern, language, f"w{word}")
                _tone(path, rng, 0.4, 22_050)
    for source in sources.noise:
        for take in range(2):
            _tone(_fake_path(cache, source.package, source.pattern, "x", f"n{source.target}{take}"), rng, 7.0, 44_100)


def _fake_path(cache: Path, package: str, pattern: str, folder: str, stem: str) -> Path:
    parts = pattern.replace("**/", "").replace("[FRS]", "F").split("/")
    parts = [p.replace("*", folder if i < len(parts) - 1 else stem, 1).replace("*", "") for i, p in enumerate(parts)]
    if "." not in parts[-1]:
        parts[-1] += ".wav"
    path = cache / "debian" / package / Path(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _tone(path: Path, rng: np.random.Generator, seconds: float, rate: int) -> None:
    t = np.arange(int(seconds * rate)) / rate
    audio = 0.5 * np.sin(2 * np.pi * rng.uniform(150, 400) * t) * np.hanning(t.size) + 0.01 * rng.standard_normal(
        t.size
    )
    if path.suffix == ".ALS":  # Drascula's speech: 32 bytes, unsigned 8-bit samples at 11,025 Hz, 32 bytes
        samples = np.interp(np.arange(0, t.size, rate / 11_025), np.arange(t.size), audio)
        path.write_bytes(bytes(32) + np.round(samples * 127 + 128).astype(np.uint8).tobytes() + bytes(32))
        return
    sf.write(path, audio.astype(np.float32), rate, format="OGG" if path.suffix == ".ogg" else "WAV")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(debian.CACHE_ENV, str(tmp_path / "cache"))
    _fake_cache(tmp_path / "cache", recorded.TRAIN)
    _fake_cache(tmp_path / "cache", recorded.TEST)
    return tmp_path / "cache"


def test_training_and_real_test_sources_share_no_package() -> None:
    assert not set(recorded.TRAIN.packages) & set(recorded.TEST.packages)
    continuous = {s.package for s in recorded.TRAIN.speech if s.sentences}
    assert len(continuous) >= 2 and all(s.sentences for s in recorded.TEST.speech)


def test_recorded_corpora_are_named_listed_and_read_by_the_real_readers(cache: Path, tmp_path: Path) -> None:
    speech_root, noise_root = mini.ensure_corpora(tmp_path / "data", "mini", source="recorded")
    assert (speech_root.name, noise_root.name) == ("vctk-mini", "esc50-mini")
    speech, noise = read_vctk(speech_root), read_esc50(noise_root)
    assert (speech.name, noise.name) == ("vctk-mini", "esc50-mini")
    words = ["kt-ca", "kt-da", "kt-de", "kt-en", "kt-sr"]  # sr@latin: the sr voice again
    lines = [f"ff{lang}-{level}" for lang in ("cs", "nl") for level in ("ca", "da", "de", "en", "sr", "sr@latin")]
    assert sorted(speech.speakers) == sorted(words + lines)
    assert len(speech.speakers["ffcs-ca"]) == 3  # one utterance per line: 3 recordings, 3 utterances
    assert len(speech.speakers["kt-ca"]) == mini.RECORDED_UTTERANCES  # words are joined into utterances
    assert {c.category for c in noise.clips} == {"music", "crowd", "machines_and_places", "game_effects"}
    for root in (speech_root, noise_root):
        readme = (root / "README.md").read_text()
        for name in recorded.TRAIN.packages:
            assert f"| {name} | 1.0-1 |" in readme
            assert (root / "licences" / f"{name}.copyright").read_text().endswith(f"test licence of {name}\n")
        listed = json.loads((root / "corpus.json").read_text())["sources"]
        assert {e["package"] for e in listed} == set(recorded.TRAIN.packages) and all(e["licence"] for e in listed)


def test_a_long_recording_gives_clips_of_one_fold(cache: Path, tmp_path: Path) -> None:
    _, noise_root = mini.ensure_corpora(tmp_path / "data", "mini", source="recorded")
    folds: dict[str, set[int]] = {}
    for clip in read_esc50(noise_root).clips:
        folds.setdefault(Path(clip.path).name.split("-")[1], set()).add(clip.fold)
    assert max(len(f) for f in folds.values()) == 1
    assert {fold for f in folds.values() for fold in f} == {1, 2, 3, 4, 5}


def test_unreachable_sources_fall_back_to_espeak_under_its_own_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def unreachable(_: object) -> None:
        raise debian.SourceUnavailable("no network")

    monkeypatch.setattr(recorded, "fetch_all", unreachable)
    with pytest.warns(UserWarning, match=r"using vctk-mini \(espeak\)"):
        assert mini._recorded_or_espeak(tmp_path, 0) == "espeak"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        speech_root, noise_root = mini.ensure_corpora(tmp_path, "tiny")  # tiny never asks the registry
    assert (
        read_vctk(speech_root).name == "vctk-mini (espeak)" and read_esc50(noise_root).name == "esc50-mini (synthetic)"
    )
    with pytest.warns(UserWarning, match="no real-audio test set"):
        assert realtest.ensure_real_test(tmp_path) is None


def test_fetch_without_apt_is_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(debian.shutil, "which", lambda _: None)
    with pytest.raises(debian.SourceUnavailable, match="apt-get"):
        debian.fetch("ktuberling-data", tmp_path)


def test_real_test_set_uses_every_test_speaker_and_is_tagged(cache: Path, tmp_path: Path) -> None:
    roots = realtest.ensure_real_test(tmp_path / "data")
    assert roots is not None
    cache_ = AudioCache(read_vctk(roots[0]), read_esc50(roots[1]))
    manifest = build_test_set(cache_.speech_corpus, cache_.noise_corpus, MixSpec(2.0, n_test=12), cache_, realtest.TAG)
    used = {part["speaker"] for entry in manifest.mixtures["real"] for part in entry["speech"]}
    assert used <= set(cache_.speech_corpus.speakers) and len(used) > 1
    assert all(part["start"] == 0 for entry in manifest.mixtures["real"] for part in entry["speech"])  # whole lines
    assert not set(cache_.speech_corpus.speakers) & {"kt-ca", "kt-da", "kt-de", "kt-en", "kt-sr"}
    assert realtest.tagged({"eer": 1.0, "eer@snr<5": 2.0, "auc": 0.9}) == {
        "eer@real": 1.0,
        "eer@real/snr<5": 2.0,
        "auc@real": 0.9,
    }


def test_asvspoof_partitions_keep_their_shares_over_fewer_recorded_speakers() -> None:
    wanted = {"train": 32, "dev": 6, "eval": 10}
    assert speaker_counts(wanted, None) == wanted and speaker_counts(wanted, 60) == wanted
    assert speaker_counts(wanted, 23) == {"train": 15, "dev": 3, "eval": 5}
    with pytest.raises(ValueError, match="at least 3"):
        speaker_counts(wanted, 2)


def test_cleaning_gates_a_recordings_room_noise_out_of_the_labels() -> None:
    from tradeoff_bench.tasks.vad.mixing import speech_activity

    rng = np.random.default_rng(1)
    rate, tone = 16_000, np.sin(2 * np.pi * 200 * np.arange(8_000) / 16_000)  # 0.5 s of "speech"
    room = 10 ** (-32 / 20) * rng.standard_normal(3 * rate)  # a floor the −40 dB label rule would call speech
    recording = room.copy()
    recording[rate : rate + tone.size] += tone
    assert speech_activity(recording).mean() > 0.9
    cleaned = recorded._cleaned(recording.astype(np.float32))
    assert cleaned is not None and 0.5 * rate <= cleaned.size <= 0.6 * rate + 2 * 160
    assert (
        recorded._cleaned((recording + 10 ** (-20 / 20) * rng.standard_normal(recording.size)).astype(np.float32))
        is None
    )
