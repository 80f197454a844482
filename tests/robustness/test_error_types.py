"""Every exception class of the package is a `UserError` (one `error:` line, exit 2) or an internal
one listed here with why: the command line catches `UserError` alone, so a new user error that
forgot the base would otherwise end in a traceback."""

import importlib
import inspect
import pkgutil

import pytest

from tradeoff_bench.bench.cli import main
from tradeoff_bench.core.errors import UserError

PACKAGES = ("tradeoff_bench.core", "tradeoff_bench.tasks", "tradeoff_bench.methods", "tradeoff_bench.bench")
INTERNAL = {
    "tradeoff_bench.bench.executors.WorkerDiedError": "a cell's outcome: recorded as its failed record",
    "tradeoff_bench.methods.training.NonFiniteLossError": "a cell's outcome: recorded as its failed record",
    "tradeoff_bench.core.pruning_graph.LayerCollapseError": "an invariant of pruning: raised only by a bug",
    "tradeoff_bench.tasks.user_model._Seen": "stops a probing forward pass inside the knob finder, never escapes it",
}
"""Exception classes that never mean the user did something wrong, with the reason."""
COMPATIBLE = {
    "GridError": ValueError,
    "SettingError": ValueError,
    "SchemaError": ValueError,
    "ArtifactError": ValueError,
    "AudioError": ValueError,
    "CorpusError": ValueError,
    "ProtocolError": ValueError,
    "UnknownNameError": KeyError,
    "StoreError": OSError,
    "PluginError": ImportError,
}
"""Builtin bases that callers catch (`except ValueError`), kept beside `UserError`."""


def exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of the package, by qualified name."""
    found: dict[str, type[BaseException]] = {}
    for name in PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            module = importlib.import_module(info.name)
            for obj in vars(module).values():
                if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                    found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_every_exception_class_is_a_user_error_or_listed_as_internal() -> None:
    classes = exception_classes()
    assert len(classes) >= 19, sorted(classes)
    unclassified = sorted(
        name for name, cls in classes.items() if not issubclass(cls, UserError) and name not in INTERNAL
    )
    assert not unclassified, (
        f"derive these from core.errors.UserError, or list them in INTERNAL with why: {unclassified}"
    )
    misfiled = sorted(name for name in INTERNAL if name in classes and issubclass(classes[name], UserError))
    assert not misfiled and set(INTERNAL) <= set(classes), (misfiled, set(INTERNAL) - set(classes))


def test_user_errors_keep_their_builtin_base() -> None:
    by_name = {cls.__name__: cls for cls in exception_classes().values()}
    for name, base in COMPATIBLE.items():
        assert issubclass(by_name[name], UserError) and issubclass(by_name[name], base), name


@pytest.mark.parametrize("internal", [False, True])
def test_the_command_line_catches_the_base_alone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], internal: bool
) -> None:
    """A new subclass of `UserError` is one line and exit 2 with no edit of the CLI; a bug is not caught."""

    class NewUserError(UserError, LookupError):
        pass

    def fail(args: object) -> int:
        raise RuntimeError("a bug") if internal else NewUserError("where: what went wrong; what to do")

    monkeypatch.setattr("tradeoff_bench.bench.cli._list_corpora", fail)
    if internal:
        with pytest.raises(RuntimeError, match="a bug"):
            main(["data", "list"])
        return
    assert main(["data", "list"]) == 2
    assert capsys.readouterr().err == "error: where: what went wrong; what to do\n"
