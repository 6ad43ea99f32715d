"""Incremental updates: after any sequence of changes the index answers exactly as a fresh build would.

The core test drives a seeded random news corpus through adds, edits, deletions, renames,
syndicated copies, unreadable files and restorations; after every change the updated index
is compared with a fresh build of the same folder (documents, spans, answers, lookups,
counts), and the segment policy (append, merge, rewrite) is checked against the manifest.
The other tests pin what an update reads, embeds, keeps and hides.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rag.index.files
import rag.index.manifest
import rag.index.update
from rag import Document, Index, build_index, load_index
from rag.errors import DocumentNotFoundError, IndexMismatchError
from rag.index.manifest import MANIFEST
from rag.index.metadata import MetadataStore
from rag.index.segment import DATABASE
from rag.ingest import Skipped
from tests.fakes import FakeEmbedder

# --- a random news corpus ------------------------------------------------------------------

CITIES = ("Lisbon", "Rotterdam", "Hamburg", "Valencia", "Genoa", "Antwerp", "Gdansk", "Piraeus")
REGIONS = ("Alentejo", "Flanders", "Pomerania", "Thessaly", "Murcia", "Liguria")
MONTHS = ("January", "March", "May", "July", "September", "November")
SOURCES = ("harbour-news.example", "grain-wire.example", "coastal-times.example")
TEMPLATES = (
    "The port of {city} handled {n}.{d} million tonnes of cargo in {month}.",
    "Officials in {city} said the new rail link to the harbour would open in {year}.",
    "Wheat prices rose by {n}% after heavy rain in {region}.",
    "The solar farm near {city} produced {n} megawatts at its peak in {month}.",
    "Farmers in {region} harvested {n} thousand tonnes of grain this season.",
    "The city council of {city} approved a budget of {n} million euros for the harbour.",
    "Shipping companies reported delays of {d} days at the container terminal in {city}.",
    "A storm closed the harbour of {city} for {d} days in {month}.",
    "The mayor of {city} visited the container terminal with dock workers in {month}.",
    "Exports of grain from {region} fell by {n}% compared with {year}.",
    "Dock workers in {city} went on strike over pay for {d} days.",
    "This week the port of {city} reported {n} ship arrivals.",
)
# Sentences that refer back to the one before them (scored with it, see rag.search.retrieval).
FOLLOW_UPS = (
    "It was the largest figure since {year}.",
    "They expect exports to grow by {n}% next year.",
    "This came after a strike by dock workers in {month}.",
)
QUESTIONS = (
    "How much cargo did the port of Lisbon handle?",
    "When will the new rail link to the harbour open?",
    "Why did wheat prices rise in Alentejo?",
    "How many megawatts did the solar farm near Genoa produce?",
    "What budget did the city council of Hamburg approve for the harbour?",
    "How long did the storm close the harbour of Antwerp?",
    "Why did dock workers go on strike?",
    "What is the best recipe for chocolate cake?",
)


def random_sentence(rng: random.Random, templates: Sequence[str] = TEMPLATES) -> str:
    return rng.choice(templates).format(
        city=rng.choice(CITIES),
        region=rng.choice(REGIONS),
        month=rng.choice(MONTHS),
        year=rng.randint(2001, 2024),
        n=rng.randint(2, 95),
        d=rng.randint(2, 9),
    )


def random_paragraph(rng: random.Random) -> list[str]:
    sentences = [random_sentence(rng) for _ in range(rng.randint(2, 4))]
    if rng.random() < 0.4:
        sentences.insert(rng.randint(1, len(sentences)), random_sentence(rng, FOLLOW_UPS))
    return sentences


@dataclass(slots=True)
class Article:
    """A Markdown news story: front matter, an optional heading, paragraphs of sentences."""

    title: str
    source: str
    heading: bool
    paragraphs: list[list[str]]

    def render(self) -> bytes:
        lines = ["---", f"title: {self.title}", f"source: {self.source}", "date: 2024-05-01", "---"]
        if self.heading:
            lines += [f"# {self.title}", ""]
        body = "\n\n".join(" ".join(paragraph) for paragraph in self.paragraphs)
        return ("\n".join(lines) + "\n" + body + "\n").encode("utf-8")

    def sentences(self) -> list[str]:
        return [s for paragraph in self.paragraphs for s in paragraph]


def random_article(rng: random.Random, number: int) -> Article:
    paragraphs = [random_paragraph(rng) for _ in range(rng.randint(2, 4))]
    title = f"{rng.choice(CITIES)} {rng.choice(('harbour', 'grain', 'energy', 'rail'))} report {number}"
    return Article(title, rng.choice(SOURCES), rng.random() < 0.6, paragraphs)


@dataclass(slots=True)
class NewsCorpus:
    """A corpus folder and what the test knows it holds: readable articles and unreadable files."""

    folder: Path
    rng: random.Random
    articles: dict[str, Article] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)
    deleted: dict[str, Article] = field(default_factory=dict)
    written: int = 0

    def live(self) -> dict[str, bytes]:
        """doc_id -> file bytes of every document a build should index."""
        return {name: article.render() for name, article in self.articles.items()}

    def write(self, name: str, article: Article) -> None:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(article.render())
        self.articles[name] = article
        self.unreadable.discard(name)

    def new_name(self, folder: str = "") -> str:
        self.written += 1
        return f"{folder}story-{self.written:03d}.md"

    def pick(self) -> str:
        return self.rng.choice(sorted(self.articles))

    def fill(self, count: int) -> None:
        for _ in range(count):
            self.write(self.new_name(), random_article(self.rng, self.written))

    # The operations: each changes the folder and says what it did.

    def add(self) -> str:
        name = self.new_name()
        self.write(name, random_article(self.rng, self.written))
        return f"add {name}"

    def add_nested(self) -> str:
        name = self.new_name(self.rng.choice(("world/", "world/europe/", "business/markets/")))
        self.write(name, random_article(self.rng, self.written))
        return f"add {name}"

    def edit_sentence(self, name: str | None = None) -> str:
        name = name or self.pick()
        article = self.articles[name]
        paragraph = self.rng.choice(article.paragraphs)
        position = self.rng.randrange(len(paragraph))
        replacement = paragraph[position]
        while replacement == paragraph[position] or replacement in article.sentences():
            replacement = random_sentence(self.rng)
        paragraph[position] = replacement
        self.write(name, article)
        return f"edit one sentence of {name}"

    def append_paragraph(self) -> str:
        name = self.pick()
        article = self.articles[name]
        article.paragraphs.append(random_paragraph(self.rng))
        self.write(name, article)
        return f"append a paragraph to {name}"

    def delete(self) -> str:
        name = self.pick()
        (self.folder / name).unlink()
        self.deleted[name] = self.articles.pop(name)
        return f"delete {name}"

    def rename(self) -> str:
        name = self.pick()
        target = self.new_name(self.rng.choice(("", "archive/")))
        (self.folder / target).parent.mkdir(parents=True, exist_ok=True)
        (self.folder / name).rename(self.folder / target)
        self.articles[target] = self.articles.pop(name)
        return f"rename {name} to {target}"

    def copy(self) -> str:
        name = self.pick()
        target = self.new_name("syndicated/")
        source = self.articles[name]
        self.write(target, Article(source.title, source.source, source.heading, [list(p) for p in source.paragraphs]))
        return f"copy {name} to {target}"

    def write_unreadable(self) -> str:
        data = self.rng.choice((b"", b"\x00\x01\x02 not text \x00", b"   \n\n  "))
        if self.rng.random() < 0.5 and len(self.articles) > 2:
            name = self.pick()  # a document's file becomes unreadable: it leaves the index
            self.deleted[name] = self.articles.pop(name)
        else:
            name = self.new_name()
        (self.folder / name).write_bytes(data)
        self.unreadable.add(name)
        return f"write an unreadable {name}"

    def restore(self) -> str:
        restorable = sorted(n for n in self.deleted if n not in self.articles)
        if not restorable:
            return self.add()
        name = self.rng.choice(restorable)
        self.write(name, self.deleted.pop(name))
        return f"restore {name}"

    def bulk_edit(self) -> str:
        names = self.rng.sample(sorted(self.articles), k=max(2, round(len(self.articles) * 0.4)))
        for name in names:
            self.edit_sentence(name)
        return f"edit one sentence in each of {len(names)} documents"


OPERATIONS = (
    "add",
    "add_nested",
    "edit_sentence",
    "append_paragraph",
    "delete",
    "rename",
    "copy",
    "write_unreadable",
    "restore",
    "bulk_edit",
)


def operation_sequence(rng: random.Random, extra: int) -> list[str]:
    """Every operation once, in random order, plus ``extra`` random ones (additions weigh double).

    A restoration comes after the first deletion, and the large change (``bulk_edit``) in the
    second half, when updates have piled up segments for it to rewrite.
    """
    names = [n for n in OPERATIONS if n != "bulk_edit"] + rng.choices([*OPERATIONS[:-1], "add"], k=extra)
    rng.shuffle(names)
    first_delete, first_restore = names.index("delete"), names.index("restore")
    if first_restore < first_delete:
        names[first_delete], names[first_restore] = names[first_restore], names[first_delete]
    names.insert(rng.randint(len(names) // 2, len(names)), "bulk_edit")
    return names


# --- comparing an updated index with a fresh build ------------------------------------------


def headers(index: Index) -> list[dict[str, Any]]:
    """documents() without the date added (a fresh build dates everything now)."""
    return [{k: v for k, v in header.items() if k != "added_at"} for header in index.documents()]


def assert_same_as_fresh(
    updated: Index, fresh: Index, *, gone: Sequence[str] = (), lookups: Sequence[str] = (), step: str = ""
) -> None:
    """Everything a user can read from ``updated`` equals what ``fresh`` answers."""
    assert headers(updated) == headers(fresh), step
    for header in fresh.documents():
        doc_id = header["doc_id"]
        assert updated.document(doc_id) == fresh.document(doc_id), f"{step}: {doc_id}"
        assert updated.sentences(doc_id) == fresh.sentences(doc_id), f"{step}: {doc_id}"
        assert updated.passages(doc_id) == fresh.passages(doc_id), f"{step}: {doc_id}"
    for doc_id in gone:
        with pytest.raises(DocumentNotFoundError):
            updated.document(doc_id)
    for question in QUESTIONS:
        assert updated.ask(question) == fresh.ask(question), f"{step}: {question}"
    for text in lookups:
        assert updated.lookup(text) == fresh.lookup(text), f"{step}: lookup {text!r}"
    for key in ("documents", "sentences", "passages", "skipped"):
        assert updated.manifest["counts"][key] == fresh.manifest["counts"][key], f"{step}: {key}"
    assert updated.build_report.skipped == fresh.build_report.skipped, step


def expected_changes(before: dict[str, bytes], after: dict[str, bytes]) -> dict[str, tuple[str, ...]]:
    return {
        "added": tuple(sorted(set(after) - set(before))),
        "updated": tuple(sorted(d for d in after if d in before and before[d] != after[d])),
        "removed": tuple(sorted(set(before) - set(after))),
    }


# --- the segment policy, read from the manifest and each segment's database -----------------


def segment_members(index: Index) -> list[dict[str, int]]:
    """For each segment in manifest order: its live documents and their sentence counts."""
    generation = index.path / index.manifest["generation"]
    members = []
    for segment in index.manifest["segments"]:
        store = MetadataStore.open(generation / segment["name"] / DATABASE)
        try:
            rows = store.document_index()
        finally:
            store.close()
        members.append({doc_id: count for doc_id, _, _, count, _ in rows if doc_id not in segment["removed"]})
    return members


def expected_path(segments: list[dict[str, Any]], members: list[dict[str, int]], unchanged: set[str]) -> str:
    """What the documented policy does with the segments, given the documents left unchanged."""
    keep = [n for n, live in enumerate(members) if set(live) & unchanged]
    rows = sum(segments[n]["sentences"] for n in keep)
    live_rows = sum(count for n in keep for doc_id, count in members[n].items() if doc_id in unchanged)
    if rows and 1 - live_rows / rows > rag.index.update.MAX_REMOVED_SHARE:
        return "rewrite"
    if len(keep) + 1 > rag.index.update.MAX_SEGMENTS:
        return "merge"
    return "append"


def assert_segment_policy(
    before: Index, members: list[dict[str, int]], after: Index, unchanged: set[str], read_any: bool
) -> str:
    """The new manifest's segments follow the policy; returns the path taken."""
    old, new = before.manifest["segments"], after.manifest["segments"]
    old_names, new_names = [s["name"] for s in old], [s["name"] for s in new]
    path = expected_path(old, members, unchanged)
    kept = [old_names[n] for n, live in enumerate(members) if set(live) & unchanged]
    assert len(new) <= rag.index.update.MAX_SEGMENTS
    if path == "rewrite":
        assert len(new) == 1 and new_names[0] not in old_names, "more than a quarter removed: everything rewritten"
    elif path == "merge":
        live_rows = {
            old_names[n]: sum(c for d, c in members[n].items() if d in unchanged)
            for n, live in enumerate(members)
            if set(live) & unchanged
        }
        assert len(new) == 2 and new_names[1] not in old_names, "the smaller segments are merged into the new one"
        assert live_rows.get(new_names[0]) == max(live_rows.values()), "the largest segment is kept"
    else:
        assert new_names[: len(kept)] == kept, "every segment holding an unchanged document is kept"
        assert len(new) == len(kept) + read_any
    for segment in new:
        if segment["name"] in old_names:
            previous = old[old_names.index(segment["name"])]
            assert {k: v for k, v in segment.items() if k != "removed"} == {
                k: v for k, v in previous.items() if k != "removed"
            }
            assert set(previous["removed"]) <= set(segment["removed"])
    return path


# --- counting what an update reads and encodes ------------------------------------------


class CountingEmbedder(FakeEmbedder):
    """The fake embedder, counting the texts it encodes."""

    def __init__(self) -> None:
        self.encoded = 0

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        self.encoded += len(texts)
        return super().encode(texts, show_progress=show_progress)


@pytest.fixture()
def files_read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The file names a build reads, in order (load_documents wrapped, still called)."""
    read: list[str] = []
    original = rag.index.update.load_documents

    def counting(
        root: Path, paths: Sequence[Path], **options: bool
    ) -> tuple[list[tuple[Document, str]], list[Skipped]]:
        read.extend(Path(p).relative_to(root).as_posix() for p in paths)
        return original(root, paths, **options)

    monkeypatch.setattr(rag.index.update, "load_documents", counting)
    return read


# --- 1. equivalence under random change sequences -------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_any_sequence_of_changes_answers_as_a_fresh_build(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files_read: list[str]
) -> None:
    monkeypatch.setattr(rag.index.update, "MAX_SEGMENTS", 3)  # reach the merge path within a few updates
    rng = random.Random(seed)
    corpus = NewsCorpus(tmp_path / "corpus", rng)
    corpus.fill(rng.randint(20, 30))
    index_dir = tmp_path / "index"
    index = build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
    paths = []
    for step, operation in enumerate(operation_sequence(rng, 4)):
        before, members = corpus.live(), segment_members(index)
        what = f"seed {seed} step {step}: " + getattr(corpus, operation)()
        after = corpus.live()
        changes = expected_changes(before, after)
        files_read.clear()
        updated = build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
        read = set(files_read)
        fresh = build_index(corpus.folder, tmp_path / f"fresh-{step}", embedder=FakeEmbedder())
        report = updated.build_report
        assert {k: getattr(report, k) for k in changes} == changes, what
        unchanged = {d for d in after if before.get(d) == after[d]}
        changed_sentences = sum(len(fresh.sentences(d)) for d in (*changes["added"], *changes["updated"]))
        assert report.embedded <= changed_sentences, f"{what}: only new sentence texts are encoded"
        lookups = [" ".join(rng.sample(corpus.articles[rng.choice(sorted(after))].sentences(), 2)) for _ in range(2)]
        lookups += [rng.choice(article.sentences()) for article in list(corpus.deleted.values())[-1:]]
        assert_same_as_fresh(updated, fresh, gone=changes["removed"], lookups=lookups, step=what)
        paths.append(assert_segment_policy(index, members, updated, unchanged, read_any=len(unchanged) < len(after)))
        survivors = {segment["name"] for segment in updated.manifest["segments"]}
        left_in_place = {
            doc_id
            for segment, live in zip(index.manifest["segments"], members, strict=True)
            if segment["name"] in survivors
            for doc_id in live
            if doc_id in unchanged
        }
        assert read == (set(after) | corpus.unreadable) - left_in_place, f"{what}: only what changed is read"
        assert sorted(p.name for p in index_dir.glob("gen-*")) == [updated.manifest["generation"]]
        shutil.rmtree(tmp_path / f"fresh-{step}")
        index = updated
    assert {"append", "merge", "rewrite"} <= set(paths), f"every path of the segment policy is driven: {paths}"


@pytest.mark.slow
def test_more_updates_than_max_segments_merge_and_stay_equal(tmp_path: Path) -> None:
    rng = random.Random(7)
    corpus = NewsCorpus(tmp_path / "corpus", rng)
    corpus.fill(20)
    index_dir = tmp_path / "index"
    index = build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
    counts = []
    for _ in range(rag.index.update.MAX_SEGMENTS + 3):
        name = corpus.add()[len("add ") :]
        index = build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
        assert index.build_report.added == (name,)
        counts.append(len(index.manifest["segments"]))
        assert counts[-1] <= rag.index.update.MAX_SEGMENTS, counts
    # One segment more per update; past the limit the smaller ones merge into the new one, beside the largest.
    assert counts == [*range(2, rag.index.update.MAX_SEGMENTS + 1), 2, 3, 4, 5]
    fresh = build_index(corpus.folder, tmp_path / "fresh", embedder=FakeEmbedder())
    assert_same_as_fresh(index, fresh, lookups=[corpus.articles[corpus.pick()].sentences()[0]])


def test_everything_is_rewritten_once_more_than_a_quarter_of_the_rows_is_removed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for number in range(20):  # 20 documents of 4 sentences: each holds 5% of the rows
        sentences = [f"Ship {number} reached {city} with {number + 2} crates." for city in CITIES[:4]]
        (corpus / f"ship-{number:02d}.md").write_text(" ".join(sentences) + "\n", encoding="utf-8")
    embedder = CountingEmbedder()
    index_dir = tmp_path / "index"
    first = build_index(corpus, index_dir, embedder=embedder)
    assert first.manifest["counts"]["sentences"] == 80

    def edit(numbers: range) -> Index:
        for number in numbers:
            path = corpus / f"ship-{number:02d}.md"
            path.write_text(path.read_text(encoding="utf-8").replace("crates", "barrels", 1), encoding="utf-8")
        embedder.encoded = 0
        return build_index(corpus, index_dir, embedder=embedder)

    quarter = edit(range(5))  # 20 of 80 rows removed, exactly a quarter: kept
    names = [s["name"] for s in quarter.manifest["segments"]]
    assert names[0] == first.manifest["segments"][0]["name"] and len(names) == 2
    assert len(quarter.manifest["segments"][0]["removed"]) == 5 and embedder.encoded == 5
    below = edit(range(5, 6))  # 24 of the 100 kept rows removed: kept
    assert [s["name"] for s in below.manifest["segments"]][:2] == names and len(below.manifest["segments"]) == 3
    more = edit(range(6, 7))  # 28 of 104: everything is rewritten, its vectors reused
    assert len(more.manifest["segments"]) == 1 and more.manifest["segments"][0]["removed"] == []
    assert more.manifest["segments"][0]["name"] not in {s["name"] for s in below.manifest["segments"]}
    assert embedder.encoded == more.build_report.embedded == 1
    assert more.build_report.updated == ("ship-06.md",)
    fresh = build_index(corpus, tmp_path / "fresh", embedder=FakeEmbedder())
    assert_same_as_fresh(more, fresh, lookups=["Ship 3 reached Lisbon with 5 barrels."])


def test_an_edited_document_that_ended_its_segment_answers_as_a_fresh_build(tmp_path: Path) -> None:
    """The new version's rows follow its removed old version's: a sentence opening "This" must not borrow from it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    farms = " ".join(f"Farmers near river town {i} sold wheat to the mills in spring." for i in range(30))
    (corpus / "a-farms.md").write_text(farms + "\n", encoding="utf-8")
    (corpus / "z-harbour.md").write_text("Cranes lifted steel beams at the Zeta harbour.\n", encoding="utf-8")
    build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    (corpus / "z-harbour.md").write_text("This week the harbour crane broke down.\n", encoding="utf-8")
    updated = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert updated.manifest["segments"][0]["removed"] == ["z-harbour.md"], "the old version is tombstoned"
    fresh = build_index(corpus, tmp_path / "fresh", embedder=FakeEmbedder())
    question = "Which cranes lifted steel beams at the Zeta harbour?"
    assert fresh.ask(question).abstained, "no live document says so"
    assert updated.ask(question) == fresh.ask(question)


def test_whole_copies_tie_so_the_first_by_name_is_cited(tmp_path: Path) -> None:
    """Every signal of a sentence and of its copy in a syndicated copy of the document is the same.

    Ties go by document name (rows depend on the order documents were added in, and an
    updated index must rank as a fresh build does), so the copy never ranks first.
    """
    rng = random.Random(21)
    corpus = NewsCorpus(tmp_path / "corpus", rng)
    corpus.fill(25)
    originals = sorted(corpus.articles)[:10]
    for name in originals:
        corpus.write(f"z-copies/{name}", corpus.articles[name])
    index = build_index(corpus.folder, tmp_path / "index", embedder=FakeEmbedder())
    questions = [*QUESTIONS, *(s for name in originals for s in corpus.articles[name].sentences())]
    for question in questions:
        for citation in index.ask(question).candidates:
            original = citation.doc_id.removeprefix("z-copies/")
            assert original not in {s.doc_id for s in citation.also_in}, f"{question}: {citation.doc_id} first"
    for sentence in questions[len(QUESTIONS) :]:
        [match] = index.lookup(sentence)
        assert not match.citation.doc_id.startswith("z-copies/"), sentence


def test_a_changed_title_is_reported_as_an_update(tmp_path: Path) -> None:
    rng = random.Random(17)
    corpus = NewsCorpus(tmp_path / "corpus", rng)
    corpus.fill(8)
    name = corpus.pick()
    index_dir = tmp_path / "index"
    build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
    corpus.articles[name].title = "A new headline"
    corpus.write(name, corpus.articles[name])
    updated = build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
    assert updated.document(name).title == "A new headline"
    fresh = build_index(corpus.folder, tmp_path / "fresh", embedder=FakeEmbedder())
    assert_same_as_fresh(updated, fresh)
    assert updated.build_report.updated == (name,), "the indexed document changed: its title"


# --- 2. only what changed is read and embedded ----------------------------------------------


def long_article(rng: random.Random, paragraphs: int) -> Article:
    return Article("Long harbour review", SOURCES[0], True, [random_paragraph(rng) for _ in range(paragraphs)])


def test_only_what_changed_is_read_and_embedded(tmp_path: Path, files_read: list[str]) -> None:
    rng = random.Random(11)
    corpus = NewsCorpus(tmp_path / "corpus", rng)
    corpus.fill(12)
    corpus.write("long.md", long_article(rng, 8))
    embedder = CountingEmbedder()
    index_dir = tmp_path / "index"
    first = build_index(corpus.folder, index_dir, embedder=embedder)
    assert embedder.encoded == first.build_report.embedded == first.build_report.sentences
    assert len(files_read) == len(corpus.articles)

    def update() -> Index:
        files_read.clear()
        embedder.encoded = 0
        index = build_index(corpus.folder, index_dir, embedder=embedder)
        assert embedder.encoded == index.build_report.embedded
        return index

    same = update()
    assert files_read == [] and same.build_report.embedded == 0
    assert (same.build_report.added, same.build_report.updated, same.build_report.removed) == ((), (), ())
    assert [s["name"] for s in same.manifest["segments"]] == [s["name"] for s in first.manifest["segments"]]

    name = corpus.add()[len("add ") :]
    added = update()
    assert files_read == [name] and added.build_report.added == (name,)
    assert added.build_report.embedded == len(added.sentences(name)) > 0

    corpus.edit_sentence("long.md")
    edited = update()
    assert files_read == ["long.md"] and edited.build_report.updated == ("long.md",)
    assert edited.build_report.embedded == 1, "one changed sentence: one sentence encoded"
    assert len(edited.manifest["segments"]) == 3, "the long document is a small share: no rewrite"

    corpus.folder.joinpath("long.md").rename(corpus.folder / "renamed.md")
    renamed = update()
    assert files_read == ["renamed.md"]
    assert (renamed.build_report.added, renamed.build_report.removed) == (("renamed.md",), ("long.md",))
    assert renamed.build_report.embedded == 0, "a renamed document reuses its vectors"
    fresh = build_index(corpus.folder, tmp_path / "fresh", embedder=FakeEmbedder())
    assert_same_as_fresh(renamed, fresh, gone=["long.md"])


# --- 3. kept segments are linked, not rewritten ----------------------------------------------


def segment_files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Each file of a segment folder by relative path: its bytes and its inode."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_ino) for p in folder.rglob("*") if p.is_file()
    }


def test_kept_segments_are_linked_with_their_checksums_carried_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(5)
    corpus = NewsCorpus(tmp_path / "corpus", rng)
    corpus.fill(10)
    index_dir = tmp_path / "index"
    first = build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
    segment = first.manifest["segments"][0]["name"]
    before = segment_files(index_dir / first.manifest["generation"] / segment)
    assert len(before) >= 8
    hashed: list[Path] = []
    digest, checksums = rag.index.manifest.file_digest, rag.index.files.file_checksums
    hashed_at_commit: list[str] = []

    def recording_digest(path: Path) -> str:
        hashed.append(Path(path))
        return digest(path)

    def recording_checksums(folder: Path, known: dict[str, Any] | None = None) -> dict[str, Any]:
        hashed.clear()
        result = checksums(folder, known)
        hashed_at_commit.extend(p.relative_to(folder).as_posix() for p in hashed)
        return result

    monkeypatch.setattr(rag.index.manifest, "file_digest", recording_digest)
    monkeypatch.setattr(rag.index.files, "file_checksums", recording_checksums)
    corpus.add()
    updated = build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
    generation = updated.manifest["generation"]
    assert generation != first.manifest["generation"]
    assert [s["name"] for s in updated.manifest["segments"]][0] == segment
    assert segment_files(index_dir / generation / segment) == before, "same bytes, same files: hard links"
    prefix = f"{segment}/"
    old_sums = {k: v for k, v in first.manifest["files"].items() if k.startswith(prefix)}
    new_sums = {k: v for k, v in updated.manifest["files"].items() if k.startswith(prefix)}
    assert new_sums == old_sums and len(new_sums) == len(before)
    new_segment = updated.manifest["segments"][1]["name"]
    assert {name.split("/")[0] for name in hashed_at_commit} == {new_segment}, "only the new segment is hashed"
    assert sorted(p.name for p in index_dir.iterdir() if p.name.startswith("gen-")) == [generation]
    assert json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))["generation"] == generation


# --- 4. removed documents are invisible everywhere -------------------------------------------

NOTE = """---
title: Skerry Island
source: island-post.example
---
The lighthouse keeper on Skerry Island counted 412 grey seals in August. Fog delayed the ferry twice.
"""
SEALS = "How many grey seals did the lighthouse keeper count on Skerry Island?"
SEAL_SENTENCE = "The lighthouse keeper on Skerry Island counted 412 grey seals in August."


def test_removed_documents_are_invisible_everywhere(tmp_path: Path) -> None:
    rng = random.Random(3)
    corpus = NewsCorpus(tmp_path / "corpus", rng)
    corpus.fill(15)
    (corpus.folder / "islands").mkdir()
    (corpus.folder / "islands" / "skerry.md").write_text(NOTE, encoding="utf-8")
    (corpus.folder / "islands" / "skerry-copy.md").write_text(NOTE, encoding="utf-8")
    index_dir = tmp_path / "index"
    first = build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
    best = first.ask(SEALS)
    assert best.citations[0].doc_id == "islands/skerry-copy.md" and best.citations[0].text == SEAL_SENTENCE
    assert [s.doc_id for s in best.citations[0].also_in] == ["islands/skerry.md"]

    (corpus.folder / "islands" / "skerry-copy.md").unlink()
    one_left = build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
    assert one_left.manifest["segments"][0]["removed"] == ["islands/skerry-copy.md"], "tombstoned, not rewritten"
    answer = one_left.ask(SEALS)
    assert answer.citations[0].doc_id == "islands/skerry.md" and answer.citations[0].also_in == ()
    assert_invisible(one_left, "islands/skerry-copy.md")
    [match] = one_left.lookup(SEAL_SENTENCE)
    assert match.kind == "exact" and match.citation.doc_id == "islands/skerry.md"

    (corpus.folder / "islands" / "skerry.md").unlink()
    none_left = build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
    assert set(none_left.manifest["segments"][0]["removed"]) == {"islands/skerry.md", "islands/skerry-copy.md"}
    for doc_id in ("islands/skerry.md", "islands/skerry-copy.md"):
        assert_invisible(none_left, doc_id)
    [match] = none_left.lookup(SEAL_SENTENCE)
    assert match.kind == "unsupported" and match.citation is None
    assert match.nearest is None or not match.nearest.doc_id.startswith("islands/")
    assert none_left.stale_reason(best.citations[0]) is not None


def assert_invisible(index: Index, doc_id: str) -> None:
    for question in (SEALS, "Fog delayed the ferry twice", *QUESTIONS):
        answer = index.ask(question)
        assert doc_id not in {c.doc_id for c in (*answer.citations, *answer.candidates)}, question
        assert doc_id not in {s.doc_id for c in (*answer.citations, *answer.candidates) for s in c.also_in}
    for match in index.lookup(SEAL_SENTENCE + " Fog delayed the ferry twice."):
        assert doc_id not in {c.doc_id for c in (match.citation, match.nearest) if c is not None}
    with pytest.raises(DocumentNotFoundError):
        index.document(doc_id)
    with pytest.raises(DocumentNotFoundError):
        index.sentences(doc_id)
    assert doc_id not in {h["doc_id"] for h in index.documents()}


# --- 5. a stale citation is detected after an update ----------------------------------------


def test_a_citation_of_an_edited_document_is_stale_after_the_update(tmp_path: Path) -> None:
    rng = random.Random(9)
    corpus = NewsCorpus(tmp_path / "corpus", rng)
    corpus.fill(12)
    (corpus.folder / "skerry.md").write_text(NOTE, encoding="utf-8")
    index_dir = tmp_path / "index"
    first = build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
    edited = first.ask(SEALS).citations[0]
    untouched = first.ask("How much cargo did the port of Lisbon handle?").citations[0]
    assert edited.doc_id == "skerry.md" and untouched.doc_id != "skerry.md"
    assert first.stale_reason(edited) is None and first.stale_reason(untouched) is None
    (corpus.folder / "skerry.md").write_text(NOTE.replace("412", "413"), encoding="utf-8")
    updated = build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
    assert updated.build_report.updated == ("skerry.md",)
    assert "changed" in updated.stale_reason(edited)
    assert updated.stale_reason(untouched) is None
    assert updated.stale_reason(updated.ask(SEALS).citations[0]) is None


# --- 6. damage in a kept segment is still detected after an update --------------------------


@pytest.mark.parametrize("victim", ["meta.sqlite", "sentence_vectors.npy", "sentences.faiss", "passage_vectors.npy"])
def test_damage_in_a_kept_segment_is_detected_and_a_rebuild_repairs_it(tmp_path: Path, victim: str) -> None:
    rng = random.Random(13)
    corpus = NewsCorpus(tmp_path / "corpus", rng)
    corpus.fill(10)
    index_dir = tmp_path / "index"
    build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
    corpus.add()
    updated = build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
    kept = updated.manifest["segments"][0]["name"]
    path = index_dir / updated.manifest["generation"] / kept / victim
    data = bytearray(path.read_bytes())
    data[len(data) * 2 // 3] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IndexMismatchError, match="rebuild it with: rag index"):
        load_index(index_dir, embedder=FakeEmbedder(), verify=True)
    repaired = build_index(corpus.folder, index_dir, embedder=FakeEmbedder())
    assert len(repaired.manifest["segments"]) == 1, "nothing damaged is kept"
    load_index(index_dir, embedder=FakeEmbedder(), verify=True)
    fresh = build_index(corpus.folder, tmp_path / "fresh", embedder=FakeEmbedder())
    assert_same_as_fresh(repaired, fresh, lookups=[corpus.articles[corpus.pick()].sentences()[1]])
