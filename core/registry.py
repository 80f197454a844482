"""A small generic name -> object registry, one instance per kind (tasks, methods, metrics).

It lives in the bottom package so that every layer can use it while imports still flow one way
(tasks <- methods <- bench).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import fnmatch
import functools
import importlib
import importlib.metadata
import importlib.util
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar, cast

from tradeoff_bench.core.errors import UserError

T = TypeVar("T")


class UnknownNameError(UserError, KeyError):
    """An unknown registry name or setting; the message carries the closest matches."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class SettingError(UserError, ValueError):
    """A setting with a value of the wrong type or out of its range."""


@dataclasses.dataclass(frozen=True)
class AtLeast:
    """`Annotated` metadata of a numeric setting: the smallest value it accepts."""

    minimum: float


Epochs = Annotated[int, AtLeast(1)]
"""A setting counting training epochs: at least one."""
Count = Annotated[int, AtLeast(0)]
"""A setting counting something that may be zero (fine-tuning epochs, say)."""


def did_you_mean(name: str, choices: list[str]) -> str:
    """' Did you mean: x?' for the closest of `choices`, or '' when none is close."""
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
    return f" Did you mean: {', '.join(lowered[c] for c in close)}?" if close else ""


def natural_key(text: str) -> list[Any]:
    """Sort key that orders 'm2' before 'm10'."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


class Registry(Generic[T]):
    """Maps public names to registered objects; duplicate names are an error."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._lazy: dict[str, str] = {}
        """Name -> "package.module:attr" (or a module that registers the name when imported)."""

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering an object under `name` (a lazy entry of that name is resolved by it)."""

        def add(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            target = self._lazy.pop(name, None)
            if target is not None and ":" in target and target != _location(obj):
                self._lazy[name] = target
                raise ValueError(f"{self.kind} {name!r} is registered twice ({target} and {_location(obj)})")
            self._entries[name] = obj
            return obj

        return add

    def register_lazy(self, name: str, target: str) -> None:
        """Register `name` without importing it: `target` is "module:attr", imported on first `get`,
        or a module that registers `name` itself when imported."""
        if name in self._entries or name in self._lazy:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._lazy[name] = target

    def register_entry_points(self, group: str) -> None:
        """Register lazily what installed distributions offer in the entry-point `group` (plugins)."""
        for point in importlib.metadata.entry_points(group=group):
            if point.name in self:
                raise ValueError(
                    f"entry point {point.value} ({group}) registers {self.kind} {point.name!r}, "
                    "which is registered already"
                )
            self.register_lazy(point.name, point.value)

    def get(self, name: str) -> T:
        if name not in self._entries and name in self._lazy:
            self._load(name)
        try:
            return self._entries[name]
        except KeyError:
            known = self.names()
            raise UnknownNameError(
                f"Unknown {self.kind} {name!r}.{did_you_mean(name, known)} Registered: {', '.join(known)}"
            ) from None

    def describe(self, name: str) -> str:
        """The `description` of an entry, read from its source without importing it while it is lazy
        (so listing loads no torch); imported when the source does not spell it out."""
        if name in self._lazy and ":" in self._lazy[name]:
            text = _static_description(self._lazy[name])
            if text is not None:
                return text
        return str(getattr(self.get(name), "description", ""))

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names (lazy ones included) matching a shell-style pattern, in natural order."""
        return sorted(fnmatch.filter([*self._entries, *self._lazy], pattern), key=natural_key)

    def _load(self, name: str) -> None:
        module, _, attr = self._lazy[name].partition(":")
        loaded = importlib.import_module(module)
        if name in self._lazy and attr:  # the module did not register it itself
            target: Any = functools.reduce(getattr, attr.split("."), loaded)
            self.register(name)(target)
        if name in self._lazy:
            raise ValueError(f"importing {module} did not register {self.kind} {name!r}")

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries) + len(self._lazy)


def lazy_attributes(package: str, module: str, names: tuple[str, ...]) -> Callable[[str], Any]:
    """A package's `__getattr__` (PEP 562) that takes `names` from `module` on first use, so that
    importing the package stays light (no torch) while `from package import Name` still works."""

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(module), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


def _location(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', '?')}"


def _static_description(target: str) -> str | None:
    """The string literal assigned to `description` in the class body named by "module:Class"."""
    module, _, qualname = target.partition(":")
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    while spec is not None and spec.origin is None and rest:  # a namespace package (tradeoff_bench)
        top = f"{top}.{rest.pop(0)}"
        spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(next(iter(spec.submodule_search_locations))).joinpath(*rest)
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == qualname:
            for item in node.body:
                if (
                    isinstance(item, ast.Assign)
                    and any(getattr(t, "id", None) == "description" for t in item.targets)
                    and isinstance(item.value, ast.Constant)
                    and isinstance(item.value.value, str)
                ):
                    return item.value.value
    return None


def setting_names(cls: type) -> set[str]:
    """The settings a user can give a configurable dataclass (what `configure` accepts)."""
    return {f.name for f in dataclasses.fields(cast(Any, cls)) if f.init and not f.name.startswith("_")}


def configure(cls: type[T], settings: Mapping[str, Any], what: str) -> T:
    """Instantiate a dataclass from user settings, rejecting unknown names and wrong types.

    `what` names the thing in errors (e.g. "method 'dense'"). Values are checked against the
    field annotations; ints are accepted where floats are expected and lists where tuples are.
    """
    fields = setting_names(cls)
    hints = typing.get_type_hints(cls, include_extras=True)
    values: dict[str, Any] = {}
    for key, value in settings.items():
        if key not in fields:
            raise UnknownNameError(
                f"Unknown setting {key!r} for {what}.{did_you_mean(key, list(fields))} "
                f"Settings: {', '.join(sorted(fields)) or '(none)'}"
            )
        values[key] = _coerce(value, hints[key], f"{what} setting {key!r}")
    return cls(**values)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is Annotated:
        coerced = _coerce(value, typing.get_args(hint)[0], where)
        for bound in hint.__metadata__:
            if isinstance(bound, AtLeast) and coerced < bound.minimum:
                raise SettingError(f"{where}: must be at least {bound.minimum:g}, got {coerced!r}")
        return coerced
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(hint):
            if option is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(value, option, where)
            except SettingError as err:
                errors.append(str(err))
        if len(errors) == 1:  # `X | None`: X's own reason
            raise SettingError(errors[0])
        raise SettingError(f"{where}: {value!r} fits none of {hint}")
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise SettingError(f"{where}: {value!r} is not one of {typing.get_args(hint)}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise SettingError(f"{where}: expected a table, got {value!r}")
        key_hint, value_hint = typing.get_args(hint) or (Any, Any)
        return {_coerce(k, key_hint, where): _coerce(v, value_hint, where) for k, v in value.items()}
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise SettingError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(hint)
        item = args[0] if args else Any
        coerced = [_coerce(v, item, where) for v in value]
        return tuple(coerced) if origin is tuple else coerced
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise SettingError(f"{where}: expected int, got {value!r}")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise SettingError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value
