"""A broken install fails here first: the locked versions are installed, torchaudio's compiled
extension loads against this torch, and every registered task, method and corpus imports."""

import sysconfig
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tradeoff_bench.methods import METHODS
from tradeoff_bench.tasks import CORPORA, METRICS, TASKS

LOCK = Path(__file__).resolve().parents[1] / "uv.lock"


def locked_versions() -> dict[str, str]:
    packages = tomllib.loads(LOCK.read_text())["package"]
    return {canonicalize_name(p["name"]): p["version"] for p in packages if "version" in p}


def test_installed_versions_equal_the_lock() -> None:
    """Every locked package that is installed has its locked version (`make check-lock` also checks
    that none is missing or extra); the torch pair above all."""
    locked = locked_versions()
    assert {"torch", "torchaudio"} <= set(locked)
    site = {Path(sysconfig.get_paths()[kind]).resolve() for kind in ("purelib", "platlib")}
    wrong = {}
    for dist in metadata.distributions():
        if Path(dist.locate_file("")).resolve() not in site:
            continue  # a copy vendored inside another package (setuptools/_vendor, put on sys.path by pkg_resources)
        name = canonicalize_name(dist.metadata["Name"])
        if name in locked and dist.version.split("+")[0] != locked[name].split("+")[0]:
            wrong[name] = f"{dist.version} installed, {locked[name]} locked"
    assert not wrong, f"installed versions differ from uv.lock (run `make setup`): {wrong}"


def test_torchaudio_extension_loads_against_this_torch() -> None:
    import torch
    import torchaudio

    # importing torchaudio loads libtorchaudio, which fails where it misses a symbol of this torch
    assert torchaudio._extension._IS_TORCHAUDIO_EXT_AVAILABLE
    assert hasattr(torch.ops.torchaudio, "_lfilter_core_loop")  # an operator the extension registers
    signal = torch.sin(torch.arange(1600) / 10.0).unsqueeze(0)
    assert torchaudio.functional.resample(signal, 16000, 8000).shape == (1, 800)


@pytest.mark.parametrize(
    ("registry", "name"),
    [
        *((TASKS, n) for n in TASKS.names()),
        *((METHODS, n) for n in METHODS.names()),
        *((CORPORA, n) for n in CORPORA.names()),
        *((METRICS, n) for n in METRICS.names()),
    ],
)
def test_every_registered_entry_imports(registry: object, name: str) -> None:
    entry = registry.get(name)  # type: ignore[attr-defined]
    assert registry.describe(name) == getattr(entry, "description", "")  # type: ignore[attr-defined]
