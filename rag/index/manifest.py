"""manifest.json, the commit point of an index: what it records, its checksum, reading and verifying it.

The manifest names the live generation folder, the settings and encoder the index was built
with, its counts, its segments and the size and sha256 of every file. It carries the sha256
of its own content, so a damaged byte anywhere in it is found. ``Manifest`` and
``SegmentEntry`` are its typed form: ``to_dict`` writes exactly the JSON of format 3, key for
key and in the same order (tests/test_manifest_format.py holds it).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rag.errors import IndexMismatchError, IndexNotFoundError

# Format 3 stores the index as segments with term frequencies for BM25 (formats 1 and 2
# held one bm25s index with scores baked in, which cannot be updated in place): older
# indexes are refused with the rebuild command, and a build over one starts afresh.
FORMAT_VERSION = 3
READABLE_FORMATS = (3,)
MANIFEST = "manifest.json"
MANIFEST_CHECKSUM = "manifest_sha256"
# Marks a folder as a rag index: rag writes only into a new or empty folder or one holding it.
MARKER = ".rag-index"
# Checksums of every file are verified at load below this size; larger indexes check sizes
# only (hashing gigabytes would dominate start-up) unless a full check is asked for.
VERIFY_LIMIT_BYTES = 256 * 1024 * 1024
GENERATION_NAME = re.compile(r"gen-[A-Za-z0-9-]+")
SEGMENT_NAME = re.compile(r"seg-[a-z0-9]+")
# The file every segment holds (its metadata); the other names are in rag.index.segment.
SEGMENT_DATABASE = "meta.sqlite"


_ENTRY_KEYS = ("name", "first_row", "sentences", "first_passage", "passages", "removed", "dense_index")


@dataclass(frozen=True, slots=True)
class FileChecksum:
    """The size and sha256 of one file of a generation."""

    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class SegmentEntry:
    """One segment as the manifest lists it: its folder, where its rows sit among all rows, what it lost."""

    name: str
    first_row: int
    sentences: int
    first_passage: int
    passages: int
    removed: tuple[str, ...] = ()  # documents taken out of this segment by later updates
    dense_index: str | None = None  # "flat" or "ivf"

    def __post_init__(self) -> None:
        if not SEGMENT_NAME.fullmatch(str(self.name)):
            raise ValueError(f"lists an invalid segment {self.name!r:.80}")
        if not all(_count(v) for v in (self.first_row, self.sentences, self.first_passage, self.passages)):
            raise ValueError(f"has no valid row counts for segment {self.name}")
        if not isinstance(self.removed, tuple) or not all(isinstance(d, str) for d in self.removed):
            raise ValueError(f"has no valid list of removed documents for segment {self.name}")

    @property
    def end_row(self) -> int:
        return self.first_row + self.sentences

    @property
    def end_passage(self) -> int:
        return self.first_passage + self.passages

    def to_dict(self) -> dict[str, Any]:
        entry = {
            "name": self.name,
            "first_row": self.first_row,
            "sentences": self.sentences,
            "first_passage": self.first_passage,
            "passages": self.passages,
            "removed": list(self.removed),
        }
        if self.dense_index is not None:
            entry["dense_index"] = self.dense_index
        return entry

    @classmethod
    def from_dict(cls, entry: Any) -> SegmentEntry:
        """The entry of a manifest's JSON (ValueError saying what is wrong with it)."""
        if not isinstance(entry, dict) or not SEGMENT_NAME.fullmatch(str(entry.get("name"))):
            raise ValueError(f"lists an invalid segment {entry!r:.80}")
        # The JSON's values are whatever the file holds (Any): __post_init__ checks each one.
        fields: dict[str, Any] = {key: entry.get(key) for key in _ENTRY_KEYS}
        removed = fields["removed"]
        return cls(**{**fields, "removed": tuple(removed) if isinstance(removed, list) else removed})


@dataclass(frozen=True, slots=True)
class Manifest:
    """What manifest.json records, in the order it writes it.

    ``format_version``, ``generation`` and ``files`` are filled in when a generation is
    committed (``rag.index.files.commit_generation``).
    """

    package_version: str
    built_at: str
    corpus: str
    corpus_fingerprint: str
    model: str
    encoder: str
    dimension: int
    settings: Mapping[str, Any]
    counts: Mapping[str, int]
    skipped: tuple[Mapping[str, str], ...]
    build_seconds: float
    dense_index: str | None  # the largest segment's kind; None where that segment predates the field
    segments: tuple[SegmentEntry, ...]
    last_update: Mapping[str, int]
    format_version: int = FORMAT_VERSION
    generation: str = ""
    files: Mapping[str, FileChecksum] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The manifest's JSON content, without its checksum."""
        return {
            "package_version": self.package_version,
            "built_at": self.built_at,
            "corpus": self.corpus,
            "corpus_fingerprint": self.corpus_fingerprint,
            "model": self.model,
            "encoder": self.encoder,
            "dimension": self.dimension,
            "settings": self.settings,
            "counts": self.counts,
            "skipped": list(self.skipped),
            "build_seconds": self.build_seconds,
            "dense_index": self.dense_index,
            "segments": [s.to_dict() for s in self.segments],
            "last_update": self.last_update,
            "format_version": self.format_version,
            "generation": self.generation,
            "files": {name: f.to_dict() for name, f in self.files.items()},
        }

    def to_json(self) -> dict[str, Any]:
        """The manifest's JSON content with its checksum: what manifest.json holds."""
        content = self.to_dict()
        content[MANIFEST_CHECKSUM] = manifest_checksum(content)
        return content

    @classmethod
    def from_dict(cls, content: dict[str, Any]) -> Manifest:
        """The manifest of a manifest.json's content (ValueError saying what is wrong with its shape)."""
        problem = _shape_problem(content)
        if problem:
            raise ValueError(problem)
        segments = tuple(SegmentEntry.from_dict(s) for s in content["segments"])
        _check_segments(segments, content["files"])
        return cls(
            package_version=content.get("package_version", ""),
            built_at=content.get("built_at", ""),
            corpus=content.get("corpus", ""),
            corpus_fingerprint=content.get("corpus_fingerprint", ""),
            model=content.get("model", ""),
            encoder=content["encoder"],
            dimension=content.get("dimension", 0),
            settings=content.get("settings", {}),
            counts=content.get("counts", {}),
            skipped=tuple(content.get("skipped", ())),
            build_seconds=content.get("build_seconds", 0.0),
            dense_index=content.get("dense_index", ""),
            segments=segments,
            last_update=content.get("last_update", {}),
            format_version=content["format_version"],
            generation=content["generation"],
            files={name: FileChecksum(f["size"], f["sha256"]) for name, f in content["files"].items()},
        )

    def committed(self, generation: str, files: Mapping[str, FileChecksum]) -> Manifest:
        """This manifest naming ``generation`` and its files, in the current format."""
        return replace(self, format_version=FORMAT_VERSION, generation=generation, files=dict(files))

    def segment_files(self, segment: SegmentEntry) -> dict[str, FileChecksum]:
        """The checksums of one segment's files, keyed as in ``files``."""
        prefix = f"{segment.name}/"
        return {name: f for name, f in self.files.items() if name.startswith(prefix)}

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files.values())


def manifest_checksum(manifest: dict[str, Any]) -> str:
    """The sha256 of the manifest's content (every key but the checksum itself, canonical JSON)."""
    body = {k: v for k, v in manifest.items() if k != MANIFEST_CHECKSUM}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it with: rag index CORPUS --index {index_dir}"


def read_manifest(index_dir: Path) -> Manifest:
    """The manifest of the index at ``index_dir``, checked for format version, checksum and shape."""
    path = index_dir / MANIFEST
    if not path.is_file():
        raise IndexNotFoundError(f"no index at {index_dir}: build one with: rag index CORPUS --index {index_dir}")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IndexMismatchError(
            f"the index manifest {path} is unreadable ({error}); {rebuild_hint(index_dir)}"
        ) from None
    version = content.get("format_version") if isinstance(content, dict) else None
    if version is None and not (index_dir / MARKER).is_file():  # someone else's manifest.json
        raise IndexNotFoundError(
            f"no rag index at {index_dir} (its manifest.json is not rag's): give a new or empty folder"
        )
    if version not in READABLE_FORMATS or isinstance(version, bool):
        raise IndexMismatchError(
            f"the index at {index_dir} has format version {version}, this rag reads {FORMAT_VERSION}; "
            f"{rebuild_hint(index_dir)}"
        )
    if content.get(MANIFEST_CHECKSUM) != manifest_checksum(content):
        raise IndexMismatchError(f"the index manifest {path} fails its checksum (damaged?); {rebuild_hint(index_dir)}")
    try:
        return Manifest.from_dict(content)
    except ValueError as problem:  # a damaged manifest must not crash the loader
        raise IndexMismatchError(f"the index manifest {path} {problem} (damaged?); {rebuild_hint(index_dir)}") from None


def _shape_problem(content: dict[str, Any]) -> str:
    """What is wrong with the manifest's shape outside its segments, or ""."""
    generation, files = content.get("generation"), content.get("files")
    if not isinstance(generation, str) or not GENERATION_NAME.fullmatch(generation):
        return f"names no valid generation folder ({generation!r})"
    if not isinstance(content.get("encoder"), str):
        return "names no encoder"
    if not isinstance(files, dict) or not files:
        return "lists no files"
    for name, entry in files.items():
        parts = name.split("/")
        if not name or any(p in ("", ".", "..") for p in parts) or not isinstance(entry, dict):
            return f"lists an invalid file {name!r}"
        size, digest = entry.get("size"), entry.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(digest, str):
            return f"has no valid size and sha256 for {name!r}"
    if not isinstance(content.get("segments"), list) or not content["segments"]:
        return "lists no segments"
    return ""


def _check_segments(segments: tuple[SegmentEntry, ...], files: dict[str, Any]) -> None:
    end_row = end_passage = 0
    for segment in segments:
        if segment.first_row < end_row or segment.first_passage < end_passage:
            raise ValueError(f"has overlapping segments at {segment.name}")
        end_row, end_passage = segment.end_row, segment.end_passage
        if f"{segment.name}/{SEGMENT_DATABASE}" not in files:
            raise ValueError(f"lists no files for segment {segment.name}")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def live_generation(index_dir: Path) -> str | None:
    """The generation the manifest names, or None when there is no readable manifest."""
    try:
        generation = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8")).get("generation")
    except (OSError, ValueError, AttributeError):
        return None
    return generation if isinstance(generation, str) else None


def is_rag_index(index_dir: Path) -> bool:
    """Whether ``index_dir`` holds a rag index: its marker, or a manifest in rag's format (older indexes)."""
    if (index_dir / MARKER).is_file():
        return True
    try:
        content = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and isinstance(content.get("format_version"), int) and "encoder" in content


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_checksums(folder: Path, known: Mapping[str, FileChecksum] | None = None) -> dict[str, FileChecksum]:
    """Size and sha256 of every file under ``folder``, keyed by relative path.

    A file listed in ``known`` with the same size keeps its known checksum (not hashed again).
    """
    known = known or {}
    checksums: dict[str, FileChecksum] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name, size = path.relative_to(folder).as_posix(), path.stat().st_size
        before = known.get(name)
        if before is not None and before.size == size:
            checksums[name] = FileChecksum(size, before.sha256)
        else:
            checksums[name] = FileChecksum(size, file_digest(path))
    return checksums


def verify_files(index_dir: Path, manifest: Manifest, *, full: bool | None = None) -> Path:
    """Check the live generation's files against the manifest; returns the generation folder.

    Args:
        index_dir: The index directory.
        manifest: Its manifest (as returned by ``read_manifest``).
        full: Hash every file (True), check sizes only (False), or decide by size (None).

    Raises:
        IndexMismatchError: A file is missing, has the wrong size or fails its checksum.
    """
    generation = index_dir / manifest.generation
    hash_them = manifest.size_bytes <= VERIFY_LIMIT_BYTES if full is None else full
    try:
        for name, expected in manifest.files.items():
            path = generation / name
            if not path.is_file():
                raise IndexMismatchError(f"index file {path} is missing; {rebuild_hint(index_dir)}")
            if path.stat().st_size != expected.size:
                raise IndexMismatchError(f"index file {path} has the wrong size (damaged?); {rebuild_hint(index_dir)}")
        for name, expected in manifest.files.items() if hash_them else ():
            if file_digest(generation / name) != expected.sha256:
                raise IndexMismatchError(
                    f"index file {generation / name} fails its checksum (damaged?); {rebuild_hint(index_dir)}"
                )
    except OSError as error:  # unreadable, or deleted meanwhile by a build that replaced this generation
        raise IndexMismatchError(
            f"index file of {generation} cannot be read ({error}); {rebuild_hint(index_dir)}"
        ) from None
    return generation
