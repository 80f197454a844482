"""A method written outside the repository runs without editing the suite: from a file given with
--plugin or a grid's `plugins` key (in worker processes too), or from an installed entry point."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_args import TINY_SYNTHETIC
from tradeoff_bench.bench.cli import EXIT_ERROR, main

REPO = Path(__file__).resolve().parents[2]
PLUGIN = '''
"""A plugin method: the dense control under another name, with no __main__ guard."""
from dataclasses import dataclass

from tradeoff_bench.methods.base import METHODS
from tradeoff_bench.methods.dense import Dense


@METHODS.register("outside-dense")
@dataclass
class OutsideDense(Dense):
    description = "dense, registered from a file outside the repository"
'''
TINY = [*TINY_SYNTHETIC, "--set", "multipliers=[1.0]", "--no-progress"]


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere" / "outside_method.py"
    path.parent.mkdir()
    path.write_text(PLUGIN)
    return path


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradeoff_bench.bench.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def test_a_plugin_file_runs_in_worker_processes(plugin: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = cli(
        "run",
        "--plugin",
        str(plugin),
        "--method",
        "outside-dense",
        *TINY,
        "--seeds",
        "0,1",
        "--jobs",
        "2",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ran 2 of 2 cells" in done.stdout and done.stdout.strip().endswith("0 cells failed.")
    assert len(list((out / "records").glob("*.json"))) == 2


def test_a_grid_names_its_plugins(plugin: Path, tmp_path: Path) -> None:
    grid = plugin.parent / "grid.toml"
    grid.write_text(
        'plugins = ["outside_method.py"]\nseeds = [0]\n[[tasks]]\nname = "synthetic"\n'
        "settings = { n_train = 128, n_val = 32, n_test = 64, epochs = 1 }\n"
        '[[methods]]\nname = "outside-dense"\nsettings = { multipliers = [1.0] }\n'
    )
    done = cli("run", str(grid), "--jobs", "2", "--out", str(tmp_path / "run"), "--no-progress")
    assert done.returncode == 0, done.stdout + done.stderr


def test_listing_shows_plugins_from_the_environment(plugin: Path) -> None:
    done = cli("list", "outside*", env={"TRADEOFF_BENCH_PLUGINS": str(plugin)})
    assert done.returncode == 0 and "outside-dense" in done.stdout
    assert "dense, registered from a file outside the repository" in done.stdout


def test_an_installed_entry_point_is_registered(tmp_path: Path) -> None:
    """A distribution's `tradeoff_bench.methods` entry point: registered lazily, imported on use."""
    site = tmp_path / "site"
    (site / "outside_pkg").mkdir(parents=True)
    (site / "outside_pkg" / "__init__.py").write_text(PLUGIN.replace('@METHODS.register("outside-dense")\n', ""))
    info = site / "outside_pkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: outside-pkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[tradeoff_bench.methods]\noutside-dense = outside_pkg:OutsideDense\n")
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    done = cli("list", "outside*", env=env)
    assert done.returncode == 0 and "outside-dense" in done.stdout, done.stderr
    done = cli("run", "--method", "outside-dense", *TINY, "--out", str(tmp_path / "run"), env=env)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_plugin_module", "plugin no_such_plugin_module failed to load: ModuleNotFoundError"),
        ("missing/plugin.py", "plugin file missing/plugin.py does not exist"),
    ],
)
def test_a_missing_plugin_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    code = main(["run", "--plugin", spec, "--method", "dense", *TINY, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_ERROR and len(err) == 1 and message in err[0]
    assert not (tmp_path / "out").exists()


def test_a_plugin_that_raises_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('half-written plugin')\n")
    code = main(["list", "--plugin", str(broken)])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_ERROR and err == f"error: plugin {broken} failed to load: RuntimeError: half-written plugin"


def test_an_edited_plugin_makes_its_cells_stale_and_rerun_stale_reruns_them(plugin: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ("run", "--plugin", str(plugin), "--method", "outside-dense", *TINY, "--out", str(out))
    assert cli(*args).returncode == 0
    [record] = list((out / "records").glob("*.json"))
    assert '"plugins"' in record.read_text()  # the plugin's digest is part of the record's code identity
    unchanged = cli(*args)
    assert "nothing to train" in unchanged.stdout and "made by other code" not in unchanged.stdout
    plugin.write_text(PLUGIN + "\n# an edit of the plugin's code\n")
    edited = cli(*args)
    assert "1 finished cells were made by other code" in edited.stdout, edited.stdout
    rerun = cli(*args, "--rerun-stale")
    assert "ran 1 of 1 cells" in rerun.stdout, rerun.stdout + rerun.stderr
