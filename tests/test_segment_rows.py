"""A build keeps its sentences and passages as integer columns (SpanRows) and makes each on demand:
what it reads back must be what the splitter and the chunker made, field for field."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from rag.config import Config
from rag.index.segment import SpanRows, split_documents
from rag.text.chunking import chunk_passages
from rag.text.sentences import split_sentences
from rag.types import Document, FileVersion, Passage, Sentence

TEXTS = {
    "a.md": "First sentence here. Second one here.\n\nA new paragraph starts. It ends. Café “quoted” text.",
    "b.txt": "Another document. With two sentences.",
    "c.txt": " ".join(f"Sentence number {i} talks about chips and funds." for i in range(40)),
}


def documents() -> list[tuple[Document, FileVersion]]:
    return [(Document(doc_id=d, text=t, title=d), FileVersion(sha256="0" * 64)) for d, t in TEXTS.items()]


def test_rows_read_back_as_the_splitter_and_chunker_made_them() -> None:
    contents = split_documents(documents(), Config())
    config = Config().chunking
    sentences, passages, owners = [], [], []
    for document, _ in documents():
        found = split_sentences(document.text, document.doc_id)
        made = chunk_passages(document.text, found, max_sentences=config.passage_sentences,
                              max_tokens=config.passage_max_tokens)  # fmt: skip
        # Each sentence's passage as the old code found it: a dict from position to passage.
        owner = {i: len(passages) + n for n, p in enumerate(made) for i in range(p.first, p.last + 1)}
        owners += [owner[s.position] for s in found]
        sentences += found
        passages += made
    assert list(contents.sentences) == sentences and contents.sentences == sentences
    assert list(contents.passages) == passages
    assert list(contents.sentence_passage) == owners
    assert list(contents.sentences.texts()) == [s.text for s in sentences]
    assert list(contents.sentences.doc_ids()) == [s.doc_id for s in sentences]
    assert contents.sentences[-1] == sentences[-1] and contents.sentences[2:5] == sentences[2:5]
    view = contents.sentences.text_view(np.array([5, 0, 3]))
    assert (len(view), view[0], view[1:]) == (3, sentences[5].text, [sentences[0].text, sentences[3].text])


def test_rows_extend_and_pickle_as_the_rows_they_hold() -> None:
    first, second = split_documents(documents()[:2], Config()), split_documents(documents()[2:], Config())
    joined = SpanRows(Sentence)
    joined.extend(first.sentences)
    joined.extend(second.sentences)
    joined.extend(first.sentences)  # a document seen before keeps its number
    assert list(joined) == [*first.sentences, *second.sentences, *first.sentences]
    assert pickle.loads(pickle.dumps(joined)) == joined  # a Ray task sends them to the driver


def test_a_row_that_is_not_a_span_of_its_document_is_refused() -> None:
    document = Document(doc_id="a.md", text="One sentence. Two sentences.", title="a")
    rows = SpanRows(Passage)
    with pytest.raises(ValueError, match="not a span"):
        rows.add(document, [Passage(doc_id="a.md", position=0, first=0, last=0, start=0, end=3, text="Two")])
