"""Shared fixtures, and the offsets contract checked at the source for every test.

Every sentence, passage, citation and lookup match that rag produces while any test
runs is checked here: ``document.text[start:end] == text``. The stages that make spans
(splitting, chunking, Index.ask / lookup / sentences / passages) are wrapped before any
test module imports them, so no test can produce a span that escapes the check.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import rag.chunking
import rag.sentences

ROOT = Path(__file__).resolve().parent.parent


def _checked(produce, text_of):
    from tests.helpers import assert_offsets

    @functools.wraps(produce)
    def wrapper(*args, **kwargs):
        spans = produce(*args, **kwargs)
        assert_offsets(text_of(*args, **kwargs), spans)
        return spans

    return wrapper


def _install_span_checks() -> None:
    from tests.helpers import assert_citations

    rag.sentences.split_sentences = _checked(rag.sentences.split_sentences, lambda text, *a, **k: text)
    rag.chunking.chunk_passages = _checked(rag.chunking.chunk_passages, lambda text, *a, **k: text)
    from rag import pipeline  # imported after the wrapping, so it binds the checked stages

    index = pipeline.Index
    ask, lookup = index.ask, index.lookup
    sentences, passages = index.sentences, index.passages

    @functools.wraps(ask)
    def checked_ask(self, *args, **kwargs):
        answer = ask(self, *args, **kwargs)
        assert_citations(self, (*answer.citations, *answer.candidates))
        return answer

    @functools.wraps(lookup)
    def checked_lookup(self, text, *args, **kwargs):
        matches = lookup(self, text, *args, **kwargs)
        for match in matches:
            assert text[match.query_start : match.query_end] == match.query
            assert_citations(self, [c for c in (match.citation, match.nearest) if c is not None])
            for difference in match.differences:
                assert text[difference.claim_start : difference.claim_end] == difference.claim_text
                document = self.document(match.citation.doc_id).text
                assert document[difference.source_start : difference.source_end] == difference.source_text
        return matches

    index.ask, index.lookup = checked_ask, checked_lookup
    index.sentences = _checked(sentences, lambda self, doc_id: self.document(doc_id).text)
    index.passages = _checked(passages, lambda self, doc_id: self.document(doc_id).text)


_install_span_checks()

_CACHE_VARIABLE = "RAG_CACHE_DIR"
_cache: dict[str, str | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Export the model once per test session into a temporary cache, not into ~/.cache.

    Set in the environment before any test is collected, so that rag in this process and
    every child the tests start (``ui.py``, the CLI, workers) find the one export.
    """
    _cache["previous"] = os.environ.get(_CACHE_VARIABLE)
    _cache["folder"] = tempfile.mkdtemp(prefix="rag-test-cache-")
    os.environ[_CACHE_VARIABLE] = _cache["folder"]
    # The user's own ~/.config/rag/rag.toml must not change what the CLI tests see.
    os.environ["XDG_CONFIG_HOME"] = os.path.join(_cache["folder"], "config")


def pytest_unconfigure(config: pytest.Config) -> None:
    folder, previous = _cache.pop("folder", None), _cache.pop("previous", None)
    if folder is None:
        return
    shutil.rmtree(folder, ignore_errors=True)
    if previous is None:
        os.environ.pop(_CACHE_VARIABLE, None)
    else:
        os.environ[_CACHE_VARIABLE] = previous


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
