"""What a user can set on a task or method: each setting's type, default, bounds and one-line doc.

The docs are the string literals written under each dataclass field (read from the class source
with `ast`, the convention the suite's settings already follow), so `tradeoff-bench list NAME`
shows what the code documents and nothing is written twice.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, cast

from tradeoff_bench.core.registry import AtLeast, setting_names


@dataclass(frozen=True)
class SettingDoc:
    name: str
    type: str
    default: str
    bounds: str
    doc: str


def setting_docs(cls: type) -> list[SettingDoc]:
    """One row per setting of the configurable dataclass `cls`, in field order."""
    hints = typing.get_type_hints(cls, include_extras=True)
    docs = _field_docs(cls)
    names = setting_names(cls)
    rows = []
    for field in dataclasses.fields(cast(Any, cls)):
        if field.name not in names:
            continue
        hint, bounds = _plain(hints[field.name])
        rows.append(SettingDoc(field.name, _type_name(hint), _default(field), bounds, docs.get(field.name, "")))
    return rows


def _plain(hint: Any) -> tuple[Any, str]:
    """`hint` without `Annotated` (also inside `X | None`), and its bounds as text."""
    if typing.get_origin(hint) is Annotated:
        bounds = ", ".join(f"≥ {m.minimum:g}" for m in hint.__metadata__ if isinstance(m, AtLeast))
        return typing.get_args(hint)[0], bounds
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and any(
        typing.get_origin(a) is Annotated for a in args
    ):
        parts = [_plain(a) for a in args]
        return " | ".join(_type_name(p) for p, _ in parts), ", ".join(b for _, b in parts if b)
    return hint, ""


def _default(field: dataclasses.Field[Any]) -> str:
    if field.default is not dataclasses.MISSING:
        return repr(field.default)
    if field.default_factory is not dataclasses.MISSING:
        return repr(field.default_factory())
    return "(required)"


def _type_name(hint: Any) -> str:
    text = hint if isinstance(hint, str) else hint.__name__ if isinstance(hint, type) else str(hint)
    return text.replace("typing.", "").replace("NoneType", "None")


def _field_docs(cls: type) -> dict[str, str]:
    """The first line of the string under each annotated field, base classes first."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, following in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[node.target.id] = " ".join(following.value.value.split())
    return docs
