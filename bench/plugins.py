"""Plugins: tasks, methods and corpora registered from outside the repository.

Three ways in:

- an installed distribution's entry points in the groups `tradeoff_bench.tasks`,
  `tradeoff_bench.methods` and `tradeoff_bench.corpora` (entry point name = registered name, value =
  `module:object`), registered lazily whenever the registries load (`Registry.register_entry_points`);
- `--plugin MODULE_OR_FILE` on the command line, or `plugins = [...]` in a grid file (files relative
  to the grid file): modules that register themselves with the usual decorators when imported;
- the environment variable `TRADEOFF_BENCH_PLUGINS` (entries separated by `os.pathsep`), read by
  `load_plugins` too, e.g. to run the contract tests on a plugin.

The driver imports them before the grid is planned and hands the same list to every worker process
and Ray task, so a cell runs the same code wherever it runs.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from tradeoff_bench.bench.errors import PluginError

ENV = "TRADEOFF_BENCH_PLUGINS"
_LOADED: dict[str, None] = {}
"""Plugins imported by this process, in order (a dict as an ordered set)."""


def load_plugins(specs: Iterable[str] = ()) -> list[str]:
    """Import the plugins named by `$TRADEOFF_BENCH_PLUGINS` and `specs` (each once); returns every
    plugin this process has loaded, as workers must load them (files as absolute paths)."""
    from_env = [spec for spec in os.environ.get(ENV, "").split(os.pathsep) if spec]
    for spec in [*from_env, *specs]:
        resolved = _resolve(spec)
        if resolved not in _LOADED:
            _import(resolved)
            _LOADED[resolved] = None
    return list(_LOADED)


def loaded_plugins() -> list[str]:
    """The plugins this process has imported, for its workers to import too."""
    return list(_LOADED)


def _resolve(spec: str) -> str:
    """A file plugin as an absolute path (workers may run elsewhere); a module name as it is."""
    if spec.endswith(".py") or os.sep in spec:
        path = Path(spec).expanduser().resolve()
        if not path.is_file():
            raise PluginError(f"plugin file {spec} does not exist")
        return str(path)
    return spec


def _import(spec: str) -> None:
    name = spec
    try:
        if spec.endswith(".py"):
            name = f"tradeoff_bench_plugin_{Path(spec).stem}_{hashlib.sha256(spec.encode()).hexdigest()[:8]}"
            module_spec = importlib.util.spec_from_file_location(name, spec)
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module  # pickling a plugin's class in a worker finds it here
            module_spec.loader.exec_module(module)
        else:
            importlib.import_module(spec)
    except PluginError:
        raise
    except Exception as err:  # the plugin's own code failed: name it, in one line
        sys.modules.pop(name, None)
        raise PluginError(f"plugin {spec} failed to load: {type(err).__name__}: {err}") from None
