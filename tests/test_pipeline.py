"""Build, load, ask and look up through the public API, with a deterministic fake embedder."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

import rag.index.update
from rag import Config, Index, build_index, load_index
from rag.errors import (
    CorpusError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexWriteError,
    QueryError,
    RagError,
)
from rag.index.files import write_lock
from tests.fakes import FakeEmbedder
from tests.helpers import assert_citations, assert_offsets

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "seed-article.md"

OTHER = """---
title: Tea harvest
source: example.org
---
The tea harvest in Yunnan began early this year. Farmers picked leaves in March.

Prices for green tea rose by 3.5% at the spring auction.
"""


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(SEED, folder / "seed-article.md")
    (folder / "news").mkdir()
    (folder / "news" / "tea.md").write_text(OTHER, encoding="utf-8")
    return folder


@pytest.fixture()
def index(corpus: Path, tmp_path: Path):
    return build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())


def test_build_reports_counts_and_stores_exact_offsets(index) -> None:
    report = index.build_report
    assert report.documents == 2 and report.sentences > 20 and report.passages >= report.documents
    assert [d["doc_id"] for d in index.documents()] == ["news/tea.md", "seed-article.md"]
    for header in index.documents():
        document = index.document(header["doc_id"])
        sentences = index.sentences(header["doc_id"])
        assert len(sentences) == header["sentences"]
        assert_offsets(document.text, sentences)
        assert_offsets(document.text, index.passages(header["doc_id"]))


def test_seed_document_has_title_and_source(index) -> None:
    document = index.document("seed-article.md")
    assert document.source == "cgtn.com"
    assert "chip fund" in document.title


def test_ask_cites_verbatim_sentences_with_scores(index) -> None:
    answer = index.ask("How much money does the new chip fund aim to raise?")
    assert not answer.abstained
    first = answer.citations[0]
    assert "$40 billion" in first.text
    assert first.doc_id == "seed-article.md" and first.source == "cgtn.com"
    assert set(first.scores) >= {"dense", "lexical", "dense_passage", "lexical_passage", "score"}
    assert_citations(index, answer.citations)
    assert_citations(index, answer.candidates)


def test_threshold_can_be_changed_per_call(index) -> None:
    question = "How much money does the new chip fund aim to raise?"
    assert index.ask(question, threshold=1.0).abstained
    answer = index.ask(question, threshold=0.0, k=1)
    assert not answer.abstained and len(answer.citations) == 1


def test_load_index_answers_like_the_built_one(index, tmp_path: Path) -> None:
    loaded = load_index(tmp_path / "index", embedder=FakeEmbedder())
    question = "Which companies did Li Qiang visit?"
    assert loaded.ask(question) == index.ask(question)
    assert loaded.info()["counts"] == index.info()["counts"]


def test_lookup_finds_every_sentence_of_a_pasted_article(index) -> None:
    document = index.document("seed-article.md")
    paragraph = document.text.split("\n")[3]
    matches = index.lookup(paragraph)
    assert len(matches) >= 3
    for match in matches:
        assert match.kind == "exact"
        assert paragraph[match.query_start : match.query_end] == match.query
        assert_offsets(document.text, [match.citation])


def test_syndicated_copy_is_cited_once(corpus: Path, tmp_path: Path) -> None:
    shutil.copy(corpus / "news" / "tea.md", corpus / "tea-copy.md")
    index = build_index(corpus, tmp_path / "syndicated", embedder=FakeEmbedder())
    answer = index.ask("When did the tea harvest in Yunnan begin?", k=3)
    first = answer.citations[0]
    assert "tea harvest" in first.text
    assert {first.doc_id, *(s.doc_id for s in first.also_in)} == {"news/tea.md", "tea-copy.md"}
    assert sum("tea harvest" in c.text for c in answer.citations) == 1


@pytest.mark.parametrize("question", ["", "   \n\t"])
def test_empty_question_is_refused(index, question: str) -> None:
    with pytest.raises(QueryError, match="empty"):
        index.ask(question)


def test_huge_question_is_refused(index) -> None:
    with pytest.raises(QueryError, match="limit"):
        index.ask("chip fund " * 10_000)


@pytest.mark.parametrize(("options", "message"), [({"k": 0}, "k must"), ({"threshold": 2.0}, "threshold")])
def test_bad_options_are_refused(index, options, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        index.ask("chip fund", **options)


def test_unknown_document_is_a_clear_error(index) -> None:
    with pytest.raises(RagError, match="no document 'nope.md'"):
        index.document("nope.md")


def test_missing_corpus_folder(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        build_index(tmp_path / "missing", tmp_path / "index", embedder=FakeEmbedder())


def test_empty_corpus(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no readable documents"):
        build_index(tmp_path / "empty", tmp_path / "index", embedder=FakeEmbedder())
    assert not (tmp_path / "index" / "manifest.json").exists()


def test_corpus_of_only_unreadable_files_names_the_reason(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(CorpusError, match="image.txt"):
        build_index(folder, tmp_path / "index", embedder=FakeEmbedder())


def test_unreadable_files_are_skipped_with_reasons(corpus: Path, tmp_path: Path) -> None:
    (corpus / "empty.txt").write_text("")
    (corpus / "latin1.txt").write_bytes("Caf\xe9 prices rose in Paris.".encode("cp1252"))
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    skipped = {s.path: s.reason for s in index.build_report.skipped}
    assert "empty.txt" in skipped
    assert index.document("latin1.txt").text.startswith("Café")


def test_failed_build_leaves_the_previous_index_working(index, corpus: Path, tmp_path: Path, monkeypatch) -> None:
    question = "Which companies did Li Qiang visit?"
    before = index.ask(question)

    def explode(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(rag.index.update, "link_segment", explode)  # an update keeps the segment of the other file
    (corpus / "news" / "tea.md").unlink()
    with pytest.raises(IndexWriteError, match="disk full.*the previous index is unchanged"):
        build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    after = load_index(tmp_path / "index", embedder=FakeEmbedder())
    assert after.ask(question) == before
    assert after.info()["counts"]["documents"] == 2
    assert [p.name for p in (tmp_path / "index").glob("gen-*")] == [after.manifest["generation"]]


def test_rebuild_replaces_the_index(index, corpus: Path, tmp_path: Path) -> None:
    (corpus / "news" / "tea.md").unlink()
    rebuilt = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert rebuilt.info()["counts"]["documents"] == 1
    assert len(list((tmp_path / "index").glob("gen-*"))) == 1


def test_missing_index_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="rag index"):
        load_index(tmp_path / "nothing")


def test_format_mismatch_says_how_to_rebuild(index, tmp_path: Path) -> None:
    manifest_path = tmp_path / "index" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="rebuild it with: rag index"):
        load_index(tmp_path / "index", embedder=FakeEmbedder())


def test_another_encoder_is_refused(index, tmp_path: Path) -> None:
    other = FakeEmbedder()
    other.name = "another-encoder"
    with pytest.raises(IndexMismatchError, match="built with encoder"):
        load_index(tmp_path / "index", embedder=other)


def segment_folder(index: Index) -> Path:
    """The folder of the index's first segment."""
    return index.path / index.manifest["generation"] / index.manifest["segments"][0]["name"]


@pytest.mark.parametrize("victim", ["sentence_vectors.npy", "meta.sqlite", "sentences.faiss"])
def test_damaged_files_are_detected(index, tmp_path: Path, victim: str) -> None:
    path = segment_folder(index) / victim
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexMismatchError, match="checksum"):
        load_index(tmp_path / "index", embedder=FakeEmbedder())


def test_truncated_file_is_detected(index, tmp_path: Path) -> None:
    path = segment_folder(index) / "passage_vectors.npy"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IndexMismatchError, match="wrong size"):
        load_index(tmp_path / "index", embedder=FakeEmbedder(), verify=False)


def test_second_writer_is_refused(corpus: Path, tmp_path: Path) -> None:
    with write_lock(tmp_path / "index"), pytest.raises(IndexLockedError, match="another process"):
        build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())


def test_settings_are_saved_and_used_after_load(corpus: Path, tmp_path: Path) -> None:
    config = Config().with_threshold(0.99)
    build_index(corpus, tmp_path / "strict", config, embedder=FakeEmbedder())
    loaded = load_index(tmp_path / "strict", embedder=FakeEmbedder())
    assert loaded.config.answer.threshold == 0.99
    assert loaded.ask("Which companies did Li Qiang visit?").abstained


def test_add_and_remove_documents(index, tmp_path: Path) -> None:
    new = tmp_path / "volcano.md"
    new.write_text("# Volcano\n\nThe volcano erupted on Tuesday. Ash covered the town.\n", encoding="utf-8")
    updated = index.add_files([new], folder="uploads")
    assert "uploads/volcano.md" in [d["doc_id"] for d in updated.documents()]
    answer = updated.ask("When did the volcano erupt?")
    assert answer.citations[0].doc_id == "uploads/volcano.md"
    assert_citations(updated, answer.citations)
    removed = updated.remove(["uploads/volcano.md"])
    assert "uploads/volcano.md" not in [d["doc_id"] for d in removed.documents()]
    assert list((index.corpus / ".rag-removed").rglob("volcano.md")), "a removed file is kept aside, not deleted"
    with pytest.raises(RagError, match="no document"):
        removed.remove(["uploads/volcano.md"])


def test_add_refuses_names_that_escape_the_corpus(index, tmp_path: Path) -> None:
    new = tmp_path / "x.md"
    new.write_text("Some text here.")
    with pytest.raises(RagError, match="plain, visible file name"):
        index.add_files([new], names=[".hidden.md"])


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        self.encoded = 0

    def encode(self, texts, *, show_progress: bool = False):
        self.encoded += len(texts)
        return super().encode(texts)


QUESTIONS = ["Which companies did Li Qiang visit?", "When did the tea harvest begin?", "What did the volcano do?"]


def test_rebuild_embeds_only_what_changed_and_equals_a_fresh_build(corpus: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    first = build_index(corpus, tmp_path / "index", embedder=embedder)
    assert first.build_report.embedded == first.build_report.sentences
    tea_before = {s.text for s in first.sentences("news/tea.md")}
    (corpus / "volcano.md").write_text("# Volcano\n\nThe volcano erupted on Tuesday. Ash fell.\n", encoding="utf-8")
    (corpus / "news" / "tea.md").write_text(OTHER.replace("early", "late"), encoding="utf-8")
    (corpus / "seed-article.md").rename(corpus / "renamed.md")
    embedder.encoded = 0
    updated = build_index(corpus, tmp_path / "index", embedder=embedder)
    report = updated.build_report
    assert report.added == ("renamed.md", "volcano.md")
    assert report.updated == ("news/tea.md",)
    assert report.removed == ("seed-article.md",)
    tea_changed = [s for s in updated.sentences("news/tea.md") if s.text not in tea_before]
    assert 0 < len(tea_changed) < len(updated.sentences("news/tea.md"))
    changed = len(tea_changed) + len(updated.sentences("volcano.md"))
    assert embedder.encoded == report.embedded == changed, "renamed and unchanged sentences reuse their vectors"
    fresh = build_index(corpus, tmp_path / "fresh", embedder=FakeEmbedder())
    for question in QUESTIONS:
        assert updated.ask(question) == fresh.ask(question)
    for header in updated.documents():
        assert updated.sentences(header["doc_id"]) == fresh.sentences(header["doc_id"])


def test_an_encoder_change_embeds_everything_again(corpus: Path, tmp_path: Path) -> None:
    build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    other = CountingEmbedder()
    other.name = "another-encoder"
    rebuilt = build_index(corpus, tmp_path / "index", embedder=other)
    assert other.encoded == rebuilt.build_report.sentences


def test_date_added_survives_rebuilds_and_the_last_document_cannot_be_removed(index, tmp_path: Path) -> None:
    added = {d["doc_id"]: d["added_at"] for d in index.documents()}
    time.sleep(1.1)  # dates have one-second resolution
    new = tmp_path / "later.md"
    new.write_text("A later note arrived today.", encoding="utf-8")
    updated = index.add_files([new])
    for header in updated.documents():
        if header["doc_id"] in added:
            assert header["added_at"] == added[header["doc_id"]]
    everything = [d["doc_id"] for d in updated.documents()]
    with pytest.raises(RagError, match="at least one"):
        updated.remove(everything)
    assert all((updated.corpus / doc_id).exists() for doc_id in everything), "nothing moved when refused"


def test_stale_citations_are_detected(index, corpus: Path, tmp_path: Path) -> None:
    citation = index.ask("When did the tea harvest in Yunnan begin?").citations[0]
    assert citation.doc_id == "news/tea.md" and index.stale_reason(citation) is None
    (corpus / "news" / "tea.md").write_text(OTHER.replace("The tea harvest", "Early on, the tea harvest"))
    changed = index.rebuild()
    assert "has changed" in changed.stale_reason(citation)
    removed = changed.remove(["news/tea.md"])
    assert "no longer in the index" in removed.stale_reason(citation)


def test_an_update_keeps_an_ivf_segment_and_a_rewrite_reuses_its_cells(
    corpus: Path, tmp_path: Path, monkeypatch
) -> None:
    import numpy as np

    import rag.index.dense

    monkeypatch.setattr(rag.index.dense, "EXACT_LIMIT", 10)
    first = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert first.info()["dense_index"] == "ivf"
    cells = np.load(segment_folder(first) / "ivf_centroids.npy")
    index_bytes = (segment_folder(first) / "sentences.faiss").read_bytes()
    (corpus / "note.md").write_text("The harbour handled a record 12 million tonnes of cargo.", encoding="utf-8")
    updated = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert [s["dense_index"] for s in updated.manifest["segments"]] == ["ivf", "flat"]
    kept = segment_folder(updated) / "sentences.faiss"
    assert kept.read_bytes() == index_bytes, "the first segment is kept, not rebuilt"
    answer = updated.ask("How much cargo did the harbour handle?")
    assert "12 million tonnes" in answer.citations[0].text
    assert_citations(updated, answer.citations)
    # Changing the seed article takes most rows out of the first segment: everything is rewritten.
    with open(corpus / "seed-article.md", "a", encoding="utf-8") as handle:
        handle.write("\nThe fund will be reviewed every year.\n")
    rewritten = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert len(rewritten.manifest["segments"]) == 1
    np.testing.assert_array_equal(np.load(segment_folder(rewritten) / "ivf_centroids.npy"), cells)
    assert rewritten.build_report.embedded == 1, "only the new sentence is encoded"
    assert_citations(rewritten, rewritten.ask("How much cargo did the harbour handle?").citations)


def test_ask_quotes_a_referring_sentence_with_its_antecedent_and_lookup_does_not(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "church.md").write_text(
        "# Church\n\nThe church conference is an annual meeting of all the officers of the church. "
        "This committee has the exclusive power to set pastors' salaries.\n\nOther business follows in spring.\n",
        encoding="utf-8",
    )
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    answer = index.ask("Which committee has the exclusive power to set pastors' salaries?")
    first = answer.citations[0]
    assert first.text.startswith("The church conference is an annual meeting")
    assert first.text.endswith("to set pastors' salaries.")
    assert_citations(index, answer.citations)
    [match] = index.lookup("This committee has the exclusive power to set pastors' salaries.")
    assert match.kind == "exact"
    assert match.citation.text == "This committee has the exclusive power to set pastors' salaries."


@pytest.mark.parametrize("text", ["caf\udce9 chip fund?", "lone \ud800 surrogate"])
def test_text_that_is_not_valid_unicode_is_a_query_error(index, text: str) -> None:
    # What Python makes of argv bytes that are not UTF-8, or what a JSON client may send: the
    # encoder's tokenizer would raise a TypeError without a message.
    with pytest.raises(QueryError, match="not valid text: character"):
        index.ask(text)
    with pytest.raises(QueryError, match="not valid text"):
        index.lookup(text)
