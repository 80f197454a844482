"""Imports flow one way: core <- tasks <- methods <- bench. A module importing against the direction
(tasks or methods importing bench, tasks importing methods, core importing any of them) fails here."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NS = "tradeoff_bench"
ALLOWED = {
    "core": {"core"},
    "tasks": {"core", "tasks"},
    "methods": {"core", "tasks", "methods"},
    "bench": {"core", "tasks", "methods", "bench"},
}


def suite_imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level suite package) of every absolute import of the suite in `path`, lazy ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == NS:
                parts = parts[1:]
            if parts and parts[0] in ALLOWED:
                found.append((node.lineno, parts[0]))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_follow_the_layers(package: str) -> None:
    wrong = [
        f"{path.relative_to(REPO)}:{line} imports {target}"
        for path in sorted((REPO / package).rglob("*.py"))
        for line, target in suite_imports(path)
        if target not in ALLOWED[package]
    ]
    assert not wrong, f"{package} may import only {sorted(ALLOWED[package])}: " + "; ".join(wrong)


def test_the_check_sees_lazy_and_namespaced_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    bench = "bench"  # built, so that the namespace rewrite leaves this sample alone
    module.write_text(f"def f():\n    from {NS}.{bench}.measure import measure\n    import {bench}.cli\n")
    assert suite_imports(module) == [(2, "bench"), (3, "bench")]
