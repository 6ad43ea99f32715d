"""The one place that wires the stages together: build an index, load it, ask, look up."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.answer.queries import Queries
from rag.config import Config
from rag.corpus import CorpusMoves, corpus_targets
from rag.errors import CorpusError, DocumentNotFoundError, IndexMismatchError, RagError
from rag.index.dense import DenseSegments, VectorSegments
from rag.index.files import write_lock
from rag.index.lexical import LexicalSegments
from rag.index.manifest import Manifest, live_generation, rebuild_hint
from rag.index.open import Generation, open_index, open_segments
from rag.index.update import BuildReport, update_index
from rag.ingest import doc_id_for, scan_corpus, unchanged_since
from rag.search.filters import Where
from rag.search.retrieval import SearchIndexes
from rag.types import Answer, Citation, Document, Match, Passage, Sentence

if TYPE_CHECKING:
    from rag.encoder.embedding import Embedder

__all__ = ["BuildReport", "Index", "build_index", "load_index"]


def embedder_for(config: Config) -> Embedder:
    from rag.encoder.embedding import load_embedder  # the model's libraries load only when a model is needed

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
    ray: str | bool | None = None,
) -> Index:
    """Index every readable document under ``corpus`` into ``index_dir``, or bring that index up to date.

    When ``index_dir`` already holds an index of the same settings and encoder, only what
    changed is read and embedded: new and changed files go into a new segment, deleted
    and changed documents are marked removed in theirs, and the rest is kept as it is.
    The result answers as a fresh build of the same corpus would. The new state is
    written beside the old one and made live in one atomic step, so a failed or
    interrupted build leaves the previous index working.

    Args:
        corpus: A folder of .txt, .md, .html, .pdf and .docx files (searched recursively).
        index_dir: Where the index lives; created if missing.
        config: Settings; defaults to ``Config()``.
        embedder: An embedder to use instead of the configured model (tests use a fake).
        progress: Show progress bars (for people waiting at a terminal).
        ray: Read and encode on a Ray cluster: its address, or True for a local one
            (needs ``pip install -e ".[ray]"``; see ``rag.cluster.build``).

    Returns:
        The loaded index; ``index.build_report`` says what was indexed, changed and skipped.

    Raises:
        CorpusError: The folder does not exist or holds no readable document.
        IndexLockedError: Another process is writing this index.
    """
    if ray is not None and ray is not False:
        from rag.cluster.build import build_on_cluster

        return build_on_cluster(corpus, index_dir, config, embedder, ray)
    started = time.perf_counter()
    config = config or Config()
    corpus, index_dir = Path(corpus), Path(index_dir)
    with write_lock(index_dir):
        embedder = embedder or embedder_for(config)
        report = update_index(corpus, index_dir, config, embedder, progress, started)
    return load_built(index_dir, embedder, report)


def load_built(index_dir: Path, embedder: Embedder | None, report: BuildReport) -> Index:
    # Sizes only: this build hashed the files it wrote and verified the segments it kept.
    index = load_index(index_dir, embedder=embedder, verify=False)
    index.build_report = report
    return index


def load_index(
    index_dir: str | Path,
    *,
    embedder: Embedder | None = None,
    verify: bool | None = None,
    ray: str | bool | None = None,
    shards: int | None = None,
) -> Index:
    """Open the index at ``index_dir`` for questions and lookups.

    Args:
        index_dir: A folder written by ``build_index``.
        embedder: Use this embedder instead of loading the one the index was built with;
            its ``name`` must equal the manifest's encoder (vectors never mix).
        verify: Hash every file (True), check sizes only (False), or decide by size (None).
        ray: Serve from a Ray cluster (its address, or True for a local one): ``shards``
            actors hold the search structures; answers equal the single-process index's.
        shards: How many actors (default 1); each holds a group of whole segments.

    Raises:
        IndexNotFoundError: There is no index there.
        IndexMismatchError: The index is damaged or from another format; the message says how to rebuild.
    """
    if ray is not None and ray is not False or shards is not None:
        from rag.cluster.serve import load_on_cluster

        return load_on_cluster(index_dir, ray, shards, embedder)
    index_dir = Path(index_dir)

    def read(generation: Generation) -> Index:
        return Index(index_dir, generation.manifest, _search_indexes(generation), embedder)

    return open_index(index_dir, read, encoder=None if embedder is None else embedder.name, verify=verify)


def _search_indexes(generation: Generation) -> SearchIndexes:
    """Every segment's search structures, read as one index in which removed documents are invisible."""
    manifest, parts = generation.manifest, open_segments(generation)
    retrieval = Config.from_dict(manifest.settings).retrieval
    return SearchIndexes(
        dense=DenseSegments(parts.dense),
        sentence_vectors=VectorSegments(generation.sentence_vectors, [s.first_row for s in manifest.segments]),
        passage_vectors=VectorSegments(parts.passage_vectors, [s.first_passage for s in manifest.segments]),
        sentence_lexical=LexicalSegments(parts.sentence_lexical, k1=retrieval.bm25_k1, b=retrieval.bm25_b),
        passage_lexical=LexicalSegments(parts.passage_lexical, k1=retrieval.bm25_k1, b=retrieval.bm25_b),
        store=generation.metadata,
    )


class Index:
    """A loaded index: ask questions, look up quotes, read documents. Safe to share between threads."""

    def __init__(self, path: Path, manifest: Manifest, indexes: SearchIndexes, embedder: Embedder | None) -> None:
        self.path = path
        self._manifest = manifest
        # The manifest as manifest.json holds it, for reading: a copy, so changing it changes nothing.
        self.manifest: dict[str, Any] = copy.deepcopy(manifest.to_json())
        self.config = Config.from_dict(manifest.settings)
        self.build_report: BuildReport | None = None
        self._indexes = indexes
        self._embedder = embedder
        self._lock = threading.RLock()
        self._queries = Queries(indexes, self.config, lambda: self.embedder, self._lock)

    def __repr__(self) -> str:
        counts = self._manifest.counts
        return f"<Index {self.path} documents={counts.get('documents')} sentences={counts.get('sentences')}>"

    @property
    def embedder(self) -> Embedder:
        """The encoder the index was built with, loaded on first use."""
        with self._lock:
            if self._embedder is None:
                embedder = embedder_for(self.config)
                if embedder.name != self._manifest.encoder:
                    raise IndexMismatchError(
                        f"the index at {self.path} was built with encoder {self._manifest.encoder}, "
                        f"but the configured model now loads as {embedder.name}; {rebuild_hint(self.path)}"
                    )
                self._embedder = embedder
            return self._embedder

    def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        threshold: float | None = None,
        history: Sequence[Answer | Mapping[str, Any]] = (),
        where: Where | dict[str, Any] | None = None,
    ) -> Answer:
        """Answer ``question`` with up to ``k`` sentences quoted from the sources, or abstain.

        Args:
            question: A question in plain words.
            k: The most citations to give (default: the index's setting, 3).
            threshold: Abstain when the best sentence scores below this (0..1; default: the
                index's calibrated setting).
            history: The earlier answers of the same conversation, oldest first (``Answer``
                objects or their JSON dicts). A follow-up's referring words ("it", "he",
                "the fund") and ellipses ("And in 2019?") are resolved from them; a
                self-contained question is answered exactly as without history.
            where: Search only some documents, e.g. ``{"folder": ["news"], "since": "2024-01"}``
                (see ``rag.search.filters.Where``): the answer is the one an index of those documents
                alone would give.

        Raises:
            QueryError: The question is empty or too long, or history is not earlier answers, or
                the filter matches no document.
        """
        return self._queries.ask(question, k, threshold=threshold, history=history, where=where)

    def lookup(
        self, text: str, *, threshold: float | None = None, where: Where | dict[str, Any] | None = None
    ) -> list[Match]:
        """Find where each sentence of ``text`` comes from in the sources.

        Args:
            text: A quote, a claim, or whole paragraphs.
            threshold: The score a paraphrase must reach (default: the index's setting).
            where: Look only in some documents (see ``ask``).

        Returns:
            One Match per sentence of ``text``, in order.
        """
        return self._queries.lookup(text, threshold=threshold, where=where)

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

    def corpus_changes(self, doc_ids: Iterable[str] | None = None) -> dict[str, list[str]]:
        """What differs in the corpus folder from what is indexed: documents whose file "changed" or
        was "deleted" since it was read, and "new" files (not indexed, not skipped at the last build).

        Citations of a changed document may point at characters that now hold other text. A
        file is checked by its stat, and hashed only when the stat differs from the one recorded
        (``rag.ingest.unchanged_since``), so checking the few documents an answer cites is cheap.

        Args:
            doc_ids: Check only these documents (those not indexed are left out), and look for no
                new files; None: every document, and the corpus is scanned for new files.
        """
        corpus = self.corpus
        wanted = sorted(set(doc_ids)) if doc_ids is not None else None
        store = self._indexes.store
        with self._lock:
            live = {d: store.live_document(d) for d in wanted} if wanted is not None else store.live_documents()
        changes: dict[str, list[str]] = {"changed": [], "deleted": [], "new": []}
        for doc_id, document in sorted(live.items()):
            if document is None:
                continue
            path = corpus / doc_id
            if not (path.exists() or path.is_symlink()):
                changes["deleted"].append(doc_id)
            elif not unchanged_since(path, document.file, root=corpus):
                changes["changed"].append(doc_id)
        if wanted is None and corpus.is_dir():
            skipped = {item["path"] for item in self._manifest.skipped}
            paths, _ = scan_corpus(corpus)
            changes["new"] = [d for d in (doc_id_for(corpus, p) for p in paths) if d not in live and d not in skipped]
        return changes

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
        """Every indexed document without its text: doc_id, title, source, url, date, content_hash,
        sentences, added_at and pages (each page's start offset; empty but for PDFs)."""
        with self._lock:
            return [header.to_dict() for header in self._indexes.store.document_headers()]

    @property
    def corpus(self) -> Path:
        """The corpus folder this index was built from."""
        return Path(self._manifest.corpus)

    def add_files(self, files: Sequence[str | Path], *, folder: str = "", names: Sequence[str] | None = None) -> Index:
        """Copy ``files`` into the corpus (under ``folder``) and bring the index up to date.

        An existing document of the same name is replaced; its file is first moved to
        ``CORPUS/.rag-removed/`` (never overwritten). Nothing is touched unless this process
        holds the index's write lock, and a failed update puts the corpus back as it was.
        Returns the updated index; ``build_report`` says what was indexed and skipped. This
        index object stays usable (it reads the previous generation) until it is dropped.

        Args:
            files: Paths of documents to add.
            folder: A sub-folder of the corpus to put them in (visible, inside the corpus).
            names: File names to store them under (default: each file's own name).

        Raises:
            CorpusError: The corpus folder has gone (moved or deleted).
            RagError: A file is missing, is a folder, is already in the corpus, would be skipped by
                indexing (its type or content; the reason is given), or a name or folder is not allowed.
            IndexLockedError: Another process is writing this index (nothing was copied).
        """
        started = time.perf_counter()
        with write_lock(self.path):
            corpus = self._existing_corpus()
            targets = corpus_targets(corpus, files, folder, names)
            moves = CorpusMoves(corpus)

            def change() -> None:
                for target in targets:
                    if target.exists():
                        moves.set_aside(target)
                for source, target in zip(files, targets, strict=True):
                    moves.copy_in(Path(source), target)

            report = self._change_corpus(corpus, moves, change, started)
        return load_built(self.path, self.embedder, report)

    def remove(self, doc_ids: Sequence[str]) -> Index:
        """Take documents out of the corpus and the index; returns the updated index.

        Their files are moved to ``CORPUS/.rag-removed/<time>-<random>/`` (hidden, so not
        indexed), never deleted and never over another file; a failed update moves them back.
        """
        started = time.perf_counter()
        with write_lock(self.path):
            corpus = self._existing_corpus()
            for doc_id in doc_ids:
                self.document(doc_id)
            if {d["doc_id"] for d in self.documents()} <= set(doc_ids):
                raise RagError("cannot remove every document: an index needs at least one; add another first")
            moves = CorpusMoves(corpus)

            def change() -> None:
                for doc_id in doc_ids:
                    source = corpus / doc_id
                    if source.exists() or source.is_symlink():
                        moves.set_aside(source)

            report = self._change_corpus(corpus, moves, change, started)
        return load_built(self.path, self.embedder, report)

    def _change_corpus(
        self, corpus: Path, moves: CorpusMoves, change: Callable[[], None], started: float
    ) -> BuildReport:
        """Make ``change`` to the corpus and update the index, under the write lock the caller holds.

        If either fails, ``moves`` puts every file back where it was: a refused or failed
        update leaves the corpus as it was.
        """
        before = live_generation(self.path)
        try:
            change()
            return update_index(corpus, self.path, self.config, self.embedder, False, started)
        except BaseException as error:
            # Stopped after the commit (SIGTERM, Ctrl-C while clearing old generations): the
            # index now holds the change, so the corpus keeps it too.
            if live_generation(self.path) != before:
                raise
            moves.undo()
            if isinstance(error, OSError):
                raise CorpusError(f"cannot change the corpus at {corpus} ({error}); it is as it was") from None
            raise

    def rebuild(self) -> Index:
        """Index the corpus folder again with this index's settings and encoder."""
        return build_index(self._existing_corpus(), self.path, self.config, embedder=self.embedder)

    def _existing_corpus(self) -> Path:
        """The corpus folder, refusing when it has gone: an update would read every document as deleted."""
        corpus = self.corpus
        if not corpus.is_dir():
            raise CorpusError(
                f"the corpus folder of this index, {corpus}, is missing (moved or deleted?); "
                f"put it back, or index its new place with: rag index NEW_FOLDER --index {self.path}"
            )
        return corpus

    def info(self) -> dict[str, Any]:
        """What is indexed and how: the manifest, less per-file checksums."""
        info = {k: v for k, v in self.manifest.items() if k != "files"}
        info["path"] = str(self.path)
        info["size_bytes"] = self._manifest.size_bytes
        return info
