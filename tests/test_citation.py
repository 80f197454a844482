"""CITATION.cff is valid Citation File Format and names the version pyproject.toml installs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_citation_file_has_the_required_keys_and_the_package_version():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert all(citation.get(key) for key in ("message", "title", "authors", "type"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert str(citation["version"]) == project["version"] and citation["license"] == project["license"]
