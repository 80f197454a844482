import os
from pathlib import Path

import pytest
import torch

from tradeoff_bench.tasks import feature_cache
from tradeoff_bench.tasks.feature_cache import cached_features, feature_key
from tradeoff_bench.tasks.vad.task import VadTask


def counting_build(calls: list[int]):
    def build() -> feature_cache.Tensors:
        calls.append(1)
        return {"train": {"power": torch.arange(6.0).view(2, 3)}}

    return build


def test_features_are_built_once_and_read_back_equal(tmp_path: Path) -> None:
    calls: list[int] = []
    first = cached_features(tmp_path, "k", counting_build(calls))
    second = cached_features(tmp_path, "k", counting_build(calls))
    assert len(calls) == 1
    assert torch.equal(first["train"]["power"], second["train"]["power"])
    assert not list(tmp_path.glob("*.tmp"))


def test_the_key_follows_the_content_and_the_code() -> None:
    assert feature_key("a", [feature_cache]) == feature_key("a", [feature_cache])
    assert feature_key("a", [feature_cache]) != feature_key("b", [feature_cache])
    assert feature_key("a", [feature_cache]) != feature_key("a", [feature_cache, os])


def test_a_half_written_file_of_a_killed_writer_is_never_read(tmp_path: Path) -> None:
    (tmp_path / ".k.abc.tmp").write_bytes(b"torn")
    calls: list[int] = []
    cached_features(tmp_path, "k", counting_build(calls))
    assert calls == [1]


def test_an_unwritable_folder_costs_only_the_saving(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    calls: list[int] = []
    tensors = cached_features(blocked / "features", "k", counting_build(calls))
    assert calls == [1] and tensors["train"]["power"].shape == (2, 3)


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_vad_features_from_the_cache_equal_freshly_rendered_ones(split: str, tmp_path: Path) -> None:
    from tests.tasks.test_vad_task import SMALL, tiny

    first = tiny()
    cached = tiny()._splits[split]  # read back from the cache the first one wrote
    speech, noise = map(str, first._sources)
    fresh = VadTask(**{**SMALL, "data_dir": str(tmp_path), "speech_root": speech, "noise_root": noise})
    rendered = fresh._splits[split]  # an empty cache folder: rendered anew
    assert list((tmp_path / feature_cache.FOLDER).glob("*.pt"))
    assert torch.equal(cached.power, rendered.power) and torch.equal(cached.labels, rendered.labels)
    assert (cached.audio is None) == (rendered.audio is None) == (split != "test")
