"""The offsets contract is checked at the source in conftest.py; this keeps that check in place."""

import pytest

import rag.index.segment
import rag.pipeline
import rag.text.chunking
import rag.text.sentences
from rag.types import Sentence


def test_every_span_producing_stage_is_checked() -> None:
    for produce in (
        rag.text.sentences.split_sentences,
        rag.text.chunking.chunk_passages,
        rag.index.segment.split_sentences,
        rag.index.segment.chunk_passages,
        rag.pipeline.Index.ask,
        rag.pipeline.Index.lookup,
        rag.pipeline.Index.sentences,
        rag.pipeline.Index.passages,
    ):
        assert hasattr(produce, "__wrapped__"), f"{produce.__qualname__} escapes the offsets check"


def test_the_check_catches_a_wrong_span() -> None:
    from tests.conftest import _checked

    def shifted(text: str, doc_id: str = "") -> list[Sentence]:
        return [Sentence(doc_id, 0, 0, 1, 3, text[0:2])]

    with pytest.raises(AssertionError, match="document_text"):
        _checked(shifted, lambda text, *a, **k: text)("abcdef")
