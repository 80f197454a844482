"""A small generic name -> object registry, one instance per kind (tasks, methods, metrics).

It lives in the bottom package so that every layer can use it while imports still flow one way
(tasks <- methods <- bench).
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """An unknown registry name or setting; the message carries the closest matches."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class SettingError(ValueError):
    """A setting with a value of the wrong type or out of its range."""


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

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering an object under `name`."""

        def add(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            known = self.names()
            raise UnknownNameError(
                f"Unknown {self.kind} {name!r}.{did_you_mean(name, known)} "
                f"Registered: {', '.join(known)}"
            ) from None

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style pattern, in natural order."""
        return sorted(fnmatch.filter(self._entries, pattern), key=natural_key)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


def configure(cls: type[T], settings: Mapping[str, Any], what: str) -> T:
    """Instantiate a dataclass from user settings, rejecting unknown names and wrong types.

    `what` names the thing in errors (e.g. "method 'dense'"). Values are checked against the
    field annotations; ints are accepted where floats are expected and lists where tuples are.
    """
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")}
    hints = typing.get_type_hints(cls)
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
        raise SettingError(f"{where}: {value!r} fits none of {hint}")
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise SettingError(f"{where}: {value!r} is not one of {typing.get_args(hint)}")
        return value
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
