"""Dependency floors exclude every release with a published advisory, and what is installed meets them."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
# The last release of each package that a published advisory was fixed in.
LAST_ADVISORY_FIX = {"gradio": "6.16", "pypdf": "6.16.1"}


def requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {Requirement(line).name: Requirement(line) for line in project["dependencies"]}


@pytest.mark.parametrize("name", sorted(LAST_ADVISORY_FIX))
def test_no_allowed_version_predates_the_last_advisory_fix(name: str) -> None:
    specifier = requirements()[name].specifier
    fixed = Version(LAST_ADVISORY_FIX[name])
    floors = [Version(s.version) for s in specifier if s.operator in (">=", ">", "==")]
    assert floors and min(floors) >= fixed, f"{name}{specifier} allows versions before {fixed}"
    assert version(name) in specifier, f"the installed {name} {version(name)} does not meet {specifier}"
