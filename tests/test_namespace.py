"""The installed distribution has one top-level name, `tradeoff_bench`, mapped onto the repository's
top-level folders; every subpackage of those folders is listed for installation."""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NS = "tradeoff_bench"


def setuptools_config() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_is_installed_under_the_namespace() -> None:
    config = setuptools_config()
    mapped = {name: folder for name, folder in config["package-dir"].items()}
    assert all(name.startswith(f"{NS}.") for name in [*mapped, *config["packages"]])
    on_disk = {
        f"{NS}." + ".".join(init.parent.relative_to(REPO).parts)
        for folder in mapped.values()
        for init in (REPO / folder).rglob("__init__.py")
    }
    assert on_disk == set(config["packages"]), "list new subpackages in pyproject's [tool.setuptools] packages"


def test_the_suite_imports_under_the_namespace() -> None:
    import tradeoff_bench.bench.cli  # noqa: F401
    from tradeoff_bench.methods import METHODS
    from tradeoff_bench.tasks import TASKS

    assert "dense" in METHODS.names() and "synthetic" in TASKS.names()
    assert METHODS.get("dense").__module__ == "tradeoff_bench.methods.dense"


@pytest.mark.slow
def test_the_wheel_installs_only_the_namespace(tmp_path: Path) -> None:
    """A non-editable install puts `tradeoff_bench` (and its dist-info) in site-packages, nothing else."""
    build = "import setuptools.build_meta as backend, sys; print(backend.build_wheel(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", build, str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    with zipfile.ZipFile(tmp_path / done.stdout.split()[-1]) as wheel:
        names = wheel.namelist()
    assert {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")} == {NS}
    assert f"{NS}/bench/grids/default.toml" in names and f"{NS}/bench/report/assets/site.js" in names
