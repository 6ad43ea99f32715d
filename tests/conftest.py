"""Shared fixtures: the seed corpus copied aside, and one real-model index per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def seed_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped corpus/ folder (tests never write into the project)."""
    folder = tmp_path_factory.mktemp("seed") / "corpus"
    shutil.copytree(ROOT / "corpus", folder)
    return folder


@pytest.fixture(scope="session")
def real_index(seed_corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    """The seed corpus indexed with the real packaged model and the default encoder."""
    from rag import build_index

    return build_index(seed_corpus, tmp_path_factory.mktemp("real") / "index")
