"""Grid files and cells: what to run, validated in full before anything runs.

A grid file (TOML) lists seeds, tasks and methods::

    name = "default"
    seeds = [0, 1, 2]

    [[tasks]]
    name = "synthetic"
    settings = { model = "mlp" }

    [[methods]]
    name = "dcl"
    settings = { mode = "penalty" }
    sweep = { alpha = [0.01, 0.1] }   # one cell per value (cartesian product over keys)
    tasks = ["synthetic"]             # optional: only on these tasks

A grid may `extends = "default.toml"` (relative to its file): it takes that grid's tasks and methods,
replaces the top-level keys it sets itself (`name`, `seeds`, ...) and merges `task_settings = { vad =
{ epochs = 2 } }` into the settings of every task entry of that name — the same composition at
another scale (`quick.toml`), with no second copy of the method list to drift apart.

A cell is one (task + settings, method + settings, seed); its id is a digest of that spec with
every default filled in, so a cell's records are found again on a re-run. A task with reference
systems (`Task.peers`) also gets one `peers` cell per configuration (not per seed) that evaluates
them; `peers = false` in a grid file leaves them out. `plugins = ["my_method.py", "pkg.module"]`
imports plugins (`bench.plugins`; files relative to the grid file) before any name is checked.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradeoff_bench.bench.errors import GridError
from tradeoff_bench.core.registry import configure, did_you_mean
from tradeoff_bench.methods import METHODS
from tradeoff_bench.tasks import TASKS

if TYPE_CHECKING:
    from tradeoff_bench.methods import Method
    from tradeoff_bench.tasks import Task


PEERS = "peers"
"""The pseudo-method of the cells that evaluate a task's reference systems."""


@dataclass(frozen=True)
class Cell:
    """One unit of work: a configured task, a configured method and a seed."""

    task: str
    task_settings: Mapping[str, Any]
    method: str
    method_settings: Mapping[str, Any]
    seed: int
    source: str | None = None
    """For a cell of `tradeoff-bench eval`: the id of the training cell whose saved models it re-scores."""

    def to_dict(self) -> dict[str, Any]:
        data = {
            "task": self.task,
            "task_settings": dict(self.task_settings),
            "method": self.method,
            "method_settings": dict(self.method_settings),
            "seed": self.seed,
        }
        return data if self.source is None else {**data, "source": self.source}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cell:
        return cls(
            data["task"],
            data["task_settings"],
            data["method"],
            data["method_settings"],
            data["seed"],
            data.get("source"),
        )

    @property
    def cell_id(self) -> str:
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def title(self) -> str:
        return f"{self.task}/{self.method} seed={self.seed}{' (eval)' if self.source else ''}"

    def build_task(self) -> Task:
        return configure(TASKS.get(self.task), self.task_settings, f"task {self.task!r}")

    def build_method(self) -> Method:
        return configure(METHODS.get(self.method), self.method_settings, f"method {self.method!r}")

    @property
    def is_peers(self) -> bool:
        return self.method == PEERS

    @property
    def plugin_code(self) -> dict[str, str]:
        """Digests of the plugins (code outside the suite) that define this cell's task and method, and
        of the user's model builder its `model` setting names (`tasks.user_model`)."""
        from tradeoff_bench.bench.provenance import plugin_code
        from tradeoff_bench.tasks.user_model import load_builder

        task = TASKS.get(self.task)
        code: list[object] = [task] + ([] if self.is_peers else [METHODS.get(self.method)])
        builder = task.builder_of(self.task_settings)
        if builder is not None:
            code.append(load_builder(builder))
        return plugin_code(*code)


def peers_cell(cell: Cell) -> Cell | None:
    """The cell evaluating the reference systems of `cell`'s task configuration, if it has any."""
    from tradeoff_bench.tasks.base import Task

    if TASKS.get(cell.task).peers is Task.peers:
        return None
    return Cell(cell.task, cell.task_settings, PEERS, {}, 0)


def resolve_cell(
    task: str, task_settings: Mapping[str, Any], method: str, method_settings: Mapping[str, Any], seed: int
) -> Cell:
    """A cell with every default filled in; raises on unknown names or bad settings."""
    if method == PEERS:
        raise GridError(f"{PEERS!r} is not a method: a task's reference systems are added to every grid")
    try:
        task_obj = configure(TASKS.get(task), task_settings, f"task {task!r}")
        method_obj = configure(METHODS.get(method), method_settings, f"method {method!r}")
    except (TypeError, ValueError) as err:  # __post_init__ range checks
        raise GridError(f"{task}/{method}: {err}") from err
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise GridError(f"seed must be an integer of 0 or more, got {seed!r}")
    return Cell(task, task_obj.settings(), method, method_obj.settings(), seed)


def load_grid(path: str | Path) -> list[Cell]:
    """Parse and validate a grid file into cells."""
    path = Path(path)
    spec = _read_toml(path)
    try:
        spec = _extended(spec, path.parent)
        _load_grid_plugins(spec, path.parent)
        return plan_grid(spec)
    except GridError as err:
        raise GridError(f"{path}: {err}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise GridError(f"grid file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise GridError(f"grid file {path} is not valid TOML: {err}") from None


def _extended(spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    """`spec` with the grid it `extends` filled in (one level: a base grid may not extend another)."""
    if "extends" not in spec:
        if "task_settings" in spec:
            raise GridError("'task_settings' overrides the tasks of the grid named by 'extends', and there is none")
        return spec
    base_path = folder / str(spec["extends"])
    try:
        base = _read_toml(base_path)
    except GridError as err:
        raise GridError(f"'extends': {err}") from None
    if "extends" in base:
        raise GridError(f"'extends': {base_path} extends another grid itself (one level only)")
    overrides = spec.get("task_settings", {})
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise GridError("'task_settings' must be a table of tables: { task = { setting = value } }")
    tasks = base.get("tasks", [])
    names = {entry.get("name") for entry in tasks if isinstance(entry, dict)}
    for name in overrides:
        if name not in names:
            raise GridError(f"'task_settings': the grid {base_path.name} has no task {name!r}")
    merged = {key: value for key, value in {**base, **spec}.items() if key not in ("extends", "task_settings")}
    merged["tasks"] = [
        {**entry, "settings": {**entry.get("settings", {}), **overrides.get(entry["name"], {})}}
        if isinstance(entry, dict) and entry.get("name") in overrides
        else entry
        for entry in spec.get("tasks", tasks)
    ]
    return merged


def _load_grid_plugins(spec: Mapping[str, Any], folder: Path) -> None:
    """Import the grid's `plugins` (files relative to the grid file) before its names are checked."""
    from tradeoff_bench.bench.plugins import load_plugins

    plugins = spec.get("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(p, str) and p for p in plugins):
        raise GridError("'plugins' must be a list of module names or .py files")
    load_plugins(str(folder / p) if p.endswith(".py") else p for p in plugins)


GRID_KEYS = {"name", "description", "seeds", "tasks", "methods", "peers", "plugins"}
"""Keys of a grid after `extends` and `task_settings` are resolved."""
ENTRY_KEYS = {"tasks": {"name", "settings"}, "methods": {"name", "settings", "sweep", "tasks"}}


def plan_grid(spec: Mapping[str, Any]) -> list[Cell]:
    """Cells of a parsed grid, in order: task, method entry, sweep point, seed."""
    _check_keys(spec, GRID_KEYS, "grid")
    seeds = spec.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise GridError("'seeds' must be a non-empty list of integers")
    tasks = _entries(spec, "tasks")
    methods = _entries(spec, "methods")
    cells: list[Cell] = []
    for task in tasks:
        for method in methods:
            only = method.get("tasks")
            if only is not None:
                for name in only:
                    if name not in TASKS:
                        TASKS.get(name)  # raises with a suggestion
                if task["name"] not in only:
                    continue
            for point in _sweep(method.get("sweep", {})):
                settings = {**method.get("settings", {}), **point}
                for seed in seeds:
                    cells.append(resolve_cell(task["name"], task.get("settings", {}), method["name"], settings, seed))
    if not isinstance(spec.get("peers", True), bool):
        raise GridError("'peers' must be true or false")
    if spec.get("peers", True):
        cells += [peers for peers in map(peers_cell, cells) if peers is not None]
    return unique_cells(cells)


def unique_cells(cells: list[Cell]) -> list[Cell]:
    """`cells` without repeats, in order; an empty grid is an error."""
    first: dict[str, Cell] = {}
    for cell in cells:
        first.setdefault(cell.cell_id, cell)
    unique = list(first.values())
    if not unique:
        raise GridError("the grid has no cells")
    return unique


def _entries(spec: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    entries = spec.get(key)
    if not isinstance(entries, list) or not entries:
        raise GridError(f"grid needs at least one [[{key}]] entry")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise GridError(f"every [[{key}]] entry needs a name")
        _check_keys(entry, ENTRY_KEYS[key], f"[[{key}]] {entry['name']!r}")
        for table in ("settings", "sweep"):
            if not isinstance(entry.get(table, {}), dict):
                raise GridError(f"[[{key}]] {entry['name']!r}: '{table}' must be a table")
    return entries


def _sweep(sweep: Mapping[str, Any]) -> list[dict[str, Any]]:
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise GridError(f"sweep {key!r} must be a non-empty list of values")
    keys = sorted(sweep)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(sweep[k] for k in keys))]


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise GridError(f"unknown key {key!r} in {where}.{did_you_mean(key, sorted(allowed))}")
