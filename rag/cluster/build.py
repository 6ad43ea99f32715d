"""Distributed indexing: Ray tasks parse and encode batches of files, each batch into its own segment.

The driver scans the corpus and plans the update as a single-process build does, and holds
the index's write lock throughout. Each batch of files to read (contiguous in the plan's
order, so rows are numbered as one process numbers them) is parsed by one task; the driver
then gives each batch its first row and passage, and a second task encodes the batch's
sentences and writes its segment straight into the new generation folder, on storage every
node sees. The driver checks every segment against its batch and commits the manifest with
the single-process commit code. A task whose worker dies is retried by Ray; when it cannot
be, the build fails in one line, the new generation folder is removed, and the previous
index keeps answering.
"""

from __future__ import annotations

import functools
import logging
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.cluster.connect import connect
from rag.config import Config
from rag.encoder.embedding import encode_into
from rag.errors import CorpusError, IndexWriteError, RagError
from rag.index.files import commit_generation, new_generation, write_lock
from rag.index.manifest import SegmentEntry, live_generation
from rag.index.segment import (
    DATABASE,
    PASSAGE_VECTORS,
    SENTENCE_BM25,
    SENTENCE_DENSE,
    SENTENCE_VECTORS,
    SegmentContents,
    split_documents,
    write_segment,
)
from rag.index.update import (
    BuildReport,
    Previous,
    changes,
    keep_segments,
    live_counts,
    new_manifest,
    plan_update,
    previous_index,
)
from rag.ingest import Skipped, doc_id_for, load_documents, scan_corpus
from rag.pipeline import Index, embedder_for, load_built

logger = logging.getLogger(__name__)

PARSE_BATCHES_PER_SEGMENT = 8  # files are read in this many batches per segment, then grouped evenly
TASK_RETRIES = 2  # a task whose worker dies is run again this many times before the build fails
WRITTEN_FILES = (DATABASE, SENTENCE_DENSE, SENTENCE_BM25, SENTENCE_VECTORS, PASSAGE_VECTORS)  # a segment has at least
_MODELS: dict[tuple[str, int], Any] = {}  # per worker process: the model, loaded once for every batch


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """What a parse task found in its batch: counts, document versions and skipped files."""

    sentences: int
    passages: int
    versions: tuple[tuple[str, str, str], ...]  # (doc_id, content hash, file sha256) per document
    skipped: tuple[Skipped, ...]


def parse_batch(corpus: str, paths: Sequence[str], config: Config) -> tuple[BatchSummary, SegmentContents]:
    """Read and split one batch of files (a Ray task): its summary for the driver, and the parsed batch."""
    loaded, failed = load_documents(Path(corpus), [Path(p) for p in paths])
    parsed = split_documents(loaded, config)
    versions = tuple((d.doc_id, d.content_hash, f.sha256) for d, f in zip(parsed.documents, parsed.files, strict=True))
    summary = BatchSummary(len(parsed.sentences), len(parsed.passages), versions, (*failed, *parsed.skipped))
    return summary, parsed


def write_batch(
    folder: str,
    first: tuple[int, int],
    added_before: dict[str, str],
    config: Config,
    embedder: Any | None,
    *batches: SegmentContents,
) -> tuple[SegmentEntry, str]:
    """Encode consecutive parsed batches and write them as the segment ``folder`` (a Ray task); its entry and encoder.

    A retried task first removes what a dead attempt left of the same segment (the folder is
    this build's own, inside its new generation).
    """
    target = Path(folder)
    shutil.rmtree(target, ignore_errors=True)
    parsed = join_parsed(batches)
    encoder = embedder if embedder is not None else _worker_model(config)
    texts = parsed.sentences.text_view()
    vectors = (encoder.dim, lambda out: encode_into(encoder, texts, out))
    kind = write_segment(target, parsed, vectors, first, added_before, None)
    entry = SegmentEntry(target.name, first[0], len(parsed.sentences), first[1], len(parsed.passages), (), kind)
    return entry, encoder.name


def join_parsed(batches: Sequence[SegmentContents]) -> SegmentContents:
    """Consecutive parsed batches as one, their sentences' passage numbers shifted to follow on."""
    if len(batches) == 1:
        return batches[0]
    joined = SegmentContents()
    for batch in batches:
        offset = len(joined.passages)
        joined.documents.extend(batch.documents)
        joined.files.extend(batch.files)
        joined.sentences.extend(batch.sentences)
        joined.passages.extend(batch.passages)
        joined.sentence_passage.extend(offset + p for p in batch.sentence_passage)
        joined.skipped.extend(batch.skipped)
    return joined


def group_batches(sentences: Sequence[int], count: int) -> list[list[int]]:
    """Consecutive parse batches grouped into at most ``count`` segments of about equal sentences.

    Batches without sentences are left out; the order is kept, so rows are numbered as one
    process numbers them.
    """
    holding = [n for n, c in enumerate(sentences) if c]
    total = sum(sentences[n] for n in holding)
    groups: list[list[int]] = []
    done = 0
    for number in holding:
        # Start the next group when this batch's middle lies past the current group's share.
        share = total * len(groups) / count
        if not groups or (len(groups) < count and done + sentences[number] / 2 > share):
            groups.append([])
        groups[-1].append(number)
        done += sentences[number]
    return groups


@dataclass(frozen=True, slots=True)
class Encoder:
    """What the driver records of the workers' model: its name and vector dimension."""

    name: str
    dim: int


def encoder_of(config: Config) -> Encoder:
    """The configured model's name and dimension, as a worker loads it (a Ray task)."""
    model = _worker_model(config)
    return Encoder(model.name, model.dim)


def _encoder_on_cluster(ray: Any, config: Config, cpus: int) -> Encoder:
    """The model's name and dimension, from a worker: the driver of a build never loads the model."""
    task = ray.remote(encoder_of).options(num_cpus=cpus, max_retries=TASK_RETRIES)
    try:
        return ray.get(task.remote(config))
    except ray.exceptions.RayError as error:
        raise RagError(f"a Ray worker cannot load the model ({_cause(error)})") from None


def _worker_model(config: Config) -> Any:
    """The configured model, on as many threads as this worker has CPUs, loaded once per worker process."""
    import ray

    cpus = max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
    key = (repr(config.embedding), cpus)
    if key not in _MODELS:
        _MODELS[key] = embedder_for(replace(config, embedding=replace(config.embedding, threads=cpus, workers=1)))
    return _MODELS[key]


def split_batches(paths: Sequence[Path], count: int) -> list[list[Path]]:
    """``paths`` in ``count`` contiguous batches of about equal bytes (order kept; none empty)."""
    if not paths:
        return []
    sizes = np.array([max(_size(p), 1) for p in paths], dtype=np.float64)
    ends = np.cumsum(sizes)
    count = max(1, min(count, len(paths)))
    cuts = [int(np.searchsorted(ends, ends[-1] * n / count, side="left")) + 1 for n in range(1, count)]
    bounds = sorted({0, *[min(max(c, 1), len(paths) - 1) for c in cuts], len(paths)})
    return [list(paths[a:b]) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def build_on_cluster(
    corpus: str | Path, index_dir: str | Path, config: Config | None, embedder: Any | None, ray: str | bool
) -> Index:
    """``build_index(..., ray=...)``: join the cluster at ``ray`` (True: a local one) and build on it."""
    return build_on_ray(corpus, index_dir, config, embedder, connect(ray))


def build_on_ray(
    corpus: str | Path,
    index_dir: str | Path,
    config: Config | None,
    embedder: Any | None,
    ray: Any,
    *,
    workers: int | None = None,
    cpus_per_worker: int = 1,
    batches: int | None = None,
) -> Index:
    """``build_index`` with the reading and encoding done by Ray tasks on the cluster ``ray`` is connected to.

    Args:
        corpus: The corpus folder, on storage every node sees.
        index_dir: The index folder, on storage every node sees.
        config: Settings; defaults to ``Config()``.
        embedder: An embedder to use instead of the configured model; it is sent to the
            workers by value (tests use a fake). By default each worker loads the model once.
        ray: The ``ray`` module, connected (see ``rag.cluster.connect``).
        workers: Tasks run at once (default: the cluster's CPUs / ``cpus_per_worker``).
        cpus_per_worker: CPUs each task reserves; the model runs on that many threads.
        batches: How many segments the new documents are written into (default: ``workers``).

    Raises:
        CorpusError: The folder does not exist or holds no readable document.
        IndexLockedError: Another process is writing this index.
        RagError: A worker failed and its task could not be retried (the previous index is unchanged).
    """
    started = time.perf_counter()
    config = config or Config()
    corpus, index_dir = Path(corpus).resolve(), Path(index_dir).resolve()
    if workers is None:
        workers = max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_worker))
    with write_lock(index_dir):
        encoder = embedder if embedder is not None else _encoder_on_cluster(ray, config, cpus_per_worker)
        paths, skipped = scan_corpus(corpus)
        previous = previous_index(index_dir, encoder.name, config)
        before = live_generation(index_dir)
        try:
            build = RayBuild(ray, corpus, index_dir, config, embedder, encoder, workers, cpus_per_worker)
            report = build.run(paths, skipped, previous, batches or workers, started)
        except (OSError, sqlite3.Error) as error:  # a read-only folder, a full disk (as a single-process build)
            state = ""
            if live_generation(index_dir) == before:
                state = "; the previous index is unchanged" if before else "; no index was written"
            detail = getattr(error, "strerror", None) or str(error)
            raise IndexWriteError(f"cannot write the index at {index_dir} ({detail}){state}") from None
        finally:
            if previous is not None:
                previous.metadata.close()
    return load_built(index_dir, embedder, report)  # without one, the model loads at the first question


@dataclass(frozen=True, slots=True)
class RayBuild:
    ray: Any
    corpus: Path
    index_dir: Path
    config: Config
    embedder: Any | None  # sent to the workers; None: each loads the configured model
    encoder: Any  # the name and dimension of the vectors the workers write
    workers: int
    cpus_per_worker: int

    def run(
        self,
        paths: Sequence[Path],
        skipped: Sequence[Skipped],
        previous: Previous | None,
        batch_count: int,
        started: float,
    ) -> BuildReport:
        plan = plan_update(self.corpus, paths, previous)
        # Parsed in small batches, then grouped into batch_count segments of equal sentences:
        # file sizes say little about how many sentences a file holds.
        batches = split_batches(plan.read, batch_count * PARSE_BATCHES_PER_SEGMENT)
        summaries, parsed = self._parse(batches)
        versions = {d: (live.content_hash, live.file.sha256) for d, live in plan.unchanged.items()}
        for summary in summaries:
            versions.update((doc_id, (content, sha)) for doc_id, content, sha in summary.versions)
        all_skipped = sorted([*skipped, *(s for b in summaries for s in b.skipped)], key=lambda item: item.path)
        documents = {d: content for d, (content, _) in versions.items()}
        if not documents:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in all_skipped[:5])
            raise CorpusError(
                f"no readable documents in {self.corpus}" + (f" (skipped {reasons})" if reasons else " (it is empty)")
            )
        folder = new_generation(self.index_dir)
        try:
            kept, known = keep_segments(folder, previous, plan)
            added_before = {d: live.added_at for d, live in previous.live.items()} if previous else {}
            written = self._write(folder, kept, summaries, parsed, batches, added_before, batch_count)
            counts = live_counts(kept, previous, SegmentContents(), plan)
            new = [s for s in summaries if s.versions]
            report = BuildReport(
                corpus=str(self.corpus),
                documents=counts["documents"] + sum(len(s.versions) for s in new),
                sentences=counts["sentences"] + sum(s.sentences for s in new),
                passages=counts["passages"] + sum(s.passages for s in new),
                seconds=round(time.perf_counter() - started, 3),
                skipped=tuple(all_skipped),
                encoder=self.encoder.name,
                embedded=sum(s.sentences for s in new),
                **changes(previous, versions),
            )
            manifest = new_manifest(report, documents, [*kept, *written], self.config, self.encoder)
            commit_generation(self.index_dir, folder, manifest, known)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        logger.info("indexed %d batches on Ray into %s", len(written), self.index_dir)
        return report

    def _task(self, function: Any, returns: int = 1) -> Any:
        return self.ray.remote(function).options(
            num_cpus=self.cpus_per_worker, max_retries=TASK_RETRIES, num_returns=returns
        )

    def _parse(self, batches: Sequence[Sequence[Path]]) -> tuple[list[BatchSummary], list[Any]]:
        """Parse every batch on the cluster; the summaries, and references to the parsed batches."""
        task = self._task(parse_batch, returns=2)
        parsed: dict[int, Any] = {}

        def submit(number: int) -> Any:
            summary, parsed[number] = task.remote(str(self.corpus), [str(p) for p in batches[number]], self.config)
            return summary

        summaries = self._gather([functools.partial(submit, n) for n in range(len(batches))], "reading")
        return summaries, [parsed[n] for n in range(len(batches))]

    def _write(
        self,
        folder: Path,
        kept: Sequence[SegmentEntry],
        summaries: Sequence[BatchSummary],
        parsed: Sequence[Any],
        batches: Sequence[Sequence[Path]],
        added_before: dict[str, str],
        count: int,
    ) -> list[SegmentEntry]:
        """Encode and write the parsed batches as ``count`` segments numbered after the kept ones."""
        row = max((s.end_row for s in kept), default=0)
        passage = max((s.end_passage for s in kept), default=0)
        task = self._task(write_batch)
        submits: list[Callable[[], Any]] = []
        expected = []
        for group in group_batches([s.sentences for s in summaries], count):
            ids = {doc_id_for(self.corpus, p) for n in group for p in batches[n]}
            dates = {d: added_before[d] for d in ids if d in added_before}
            target = folder / f"seg-{uuid.uuid4().hex[:12]}"
            arguments = (str(target), (row, passage), dates, self.config, self.embedder, *(parsed[n] for n in group))
            submits.append(functools.partial(task.remote, *arguments))
            sentences, passages = sum(summaries[n].sentences for n in group), sum(summaries[n].passages for n in group)
            expected.append((target, row, sentences, passages))
            row, passage = row + sentences, passage + passages
        written = self._gather(submits, "encoding")
        entries = []
        for (entry, encoder), (target, first_row, sentences, passages) in zip(written, expected, strict=True):
            _verify_segment(target, entry, encoder, first_row, (sentences, passages), self.encoder.name)
            entries.append(entry)
        return entries

    def _gather(self, submits: Sequence[Callable[[], Any]], stage: str) -> list[Any]:
        """Run the tasks ``submits`` start, at most ``workers`` at once; their results in order.

        A task that fails (after Ray's retries) cancels the others and fails the build.
        """
        ray = self.ray
        refs: dict[int, Any] = {}
        results: dict[int, Any] = {}
        waiting = list(range(len(submits)))
        number = 0
        try:
            while waiting or len(results) < len(refs):
                while waiting and len(refs) - len(results) < self.workers:
                    number = waiting.pop(0)
                    refs[number] = submits[number]()
                running = [n for n in refs if n not in results]
                done, _ = ray.wait([refs[n] for n in running], num_returns=1)
                number = next(n for n in running if refs[n] == done[0])
                results[number] = ray.get(refs[number])
        except (ray.exceptions.RayError, RagError, OSError) as error:
            for ref in refs.values():
                ray.cancel(ref, force=True)
            raise RagError(_failure(stage, number, len(submits), error, self.index_dir)) from None
        except BaseException:  # Ctrl-C, SIGTERM: no task may go on writing into the generation being removed
            for ref in refs.values():
                ray.cancel(ref, force=True)
            raise
        return [results[n] for n in range(len(submits))]


def _failure(stage: str, number: int, total: int, error: BaseException, index_dir: Path) -> str:
    return (
        f"the Ray build failed {stage} batch {number + 1} of {total} ({_cause(error)}); "
        f"the index at {index_dir} is unchanged"
    )


def _cause(error: BaseException) -> str:
    """The last line of what went wrong in a task (Ray wraps a task's own exception)."""
    cause = getattr(error, "cause", None) or error
    lines = str(cause).strip().splitlines()
    return (lines[-1] if lines else type(cause).__name__)[:200]


def _verify_segment(
    target: Path, entry: SegmentEntry, encoded_with: str, first_row: int, rows: tuple[int, int], encoder: str
) -> None:
    """A written segment must be where it was asked, hold its batches' rows and come from the same encoder."""
    problem = ""
    if encoded_with != encoder:
        problem = f"was encoded with {encoded_with}, not {encoder}"
    elif (entry.sentences, entry.passages, entry.first_row, entry.name) != (*rows, first_row, target.name):
        problem = "holds other rows than its batches"
    elif missing := [name for name in WRITTEN_FILES if not (target / name).exists()]:
        problem = f"lacks {', '.join(missing)}"
    else:
        vectors = np.load(target / SENTENCE_VECTORS, mmap_mode="r", allow_pickle=False)
        if vectors.shape[0] != rows[0]:
            problem = f"holds {vectors.shape[0]} vectors for {rows[0]} sentences"
    if problem:
        raise RagError(f"segment {target.name} written by a Ray worker {problem}; the index is unchanged")
