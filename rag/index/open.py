"""Opening an index for reading: its manifest checked, the generation it names, every segment's files.

The one opener both readers use: ``rag.pipeline.load_index`` (one process) and
``rag.cluster.serve.load_sharded`` (search structures in Ray actors). Each passes what it
builds from the opened generation; a build that commits meanwhile is retried here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from rag.errors import IndexMismatchError
from rag.index.dense import DensePart
from rag.index.lexical import LexicalPart
from rag.index.manifest import Manifest, live_generation, read_manifest, rebuild_hint, verify_files
from rag.index.metadata import MetadataSegments
from rag.index.segment import open_metadata, open_search_files

# Loads that find the generation they read deleted by a newer build before they give up: one
# retry suffices unless builds commit back to back (tests/test_concurrency.py races them).
LOAD_ATTEMPTS = 5

Opened = TypeVar("Opened")


@dataclass(frozen=True, slots=True)
class Generation:
    """One generation of an index, opened for reading: what every reader builds on."""

    index_dir: Path
    manifest: Manifest
    path: Path  # the generation's folder
    metadata: MetadataSegments
    sentence_vectors: list[np.ndarray]  # each segment's, in manifest order


@dataclass(frozen=True, slots=True)
class SearchParts:
    """Every segment's search structures, removed rows masked, in manifest order."""

    dense: list[DensePart]
    passage_vectors: list[np.ndarray]
    sentence_lexical: list[LexicalPart]
    passage_lexical: list[LexicalPart]


def open_index(
    index_dir: Path,
    read: Callable[[Generation], Opened],
    *,
    encoder: str | None = None,
    verify: bool | None = None,
) -> Opened:
    """What ``read`` makes of the live generation of the index at ``index_dir``.

    Args:
        index_dir: A folder written by ``build_index``.
        read: Builds the caller's index from the opened generation. Its OSError, ValueError
            or RuntimeError (a file deleted or damaged meanwhile) becomes IndexMismatchError;
            on any error the generation's metadata is closed.
        encoder: The encoder the caller brings (its ``name``), which must be the manifest's.
        verify: Hash every file (True), check sizes only (False), or decide by size (None).

    Raises:
        IndexNotFoundError: There is no index there.
        IndexMismatchError: The index is damaged, from another format or another encoder.
    """
    attempts = LOAD_ATTEMPTS
    while True:
        manifest = read_manifest(index_dir)
        try:
            return _open_generation(index_dir, manifest, read, encoder, verify)
        except IndexMismatchError:
            # Between reading the manifest and opening the generation it names, a build may
            # have committed and deleted that generation: then open the new one. When the
            # generation is still live, it is damaged, and that error stands.
            attempts -= 1
            if attempts == 0 or live_generation(index_dir) == manifest.generation:
                raise


def _open_generation(
    index_dir: Path,
    manifest: Manifest,
    read: Callable[[Generation], Opened],
    encoder: str | None,
    verify: bool | None,
) -> Opened:
    path = verify_files(index_dir, manifest, full=verify)
    if encoder is not None and encoder != manifest.encoder:
        raise IndexMismatchError(
            f"the index at {index_dir} was built with encoder {manifest.encoder}, not {encoder}; "
            f"{rebuild_hint(index_dir)}"
        )
    try:
        metadata, sentence_vectors = open_metadata(index_dir, path, manifest.segments)
    except (OSError, ValueError, RuntimeError) as error:  # e.g. deleted meanwhile by a newer build
        raise _unreadable(index_dir, error) from None
    try:
        return read(Generation(index_dir, manifest, path, metadata, sentence_vectors))
    except (OSError, ValueError, RuntimeError) as error:
        metadata.close()
        raise _unreadable(index_dir, error) from None
    except BaseException:
        metadata.close()
        raise


def _unreadable(index_dir: Path, error: Exception) -> IndexMismatchError:
    return IndexMismatchError(f"the index at {index_dir} cannot be read ({error}); {rebuild_hint(index_dir)}")


def open_segments(generation: Generation) -> SearchParts:
    """Every segment's search structures, read as one index in which removed documents are invisible."""
    parts = SearchParts([], [], [], [])
    for number, segment in enumerate(generation.manifest.segments):
        files = open_search_files(
            generation.path, number, segment, generation.metadata, generation.sentence_vectors[number]
        )
        parts.dense.append(DensePart(files.dense, segment.first_row, files.live_sentences))
        parts.passage_vectors.append(files.passage_vectors)
        parts.sentence_lexical.append(LexicalPart(files.sentence_lexical, segment.first_row, files.live_sentences))
        parts.passage_lexical.append(LexicalPart(files.passage_lexical, segment.first_passage, files.live_passages))
    return parts
