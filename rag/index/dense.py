"""Dense vector search over L2-normalised embeddings (the only faiss import)."""

from __future__ import annotations

import logging
import math
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

# Below this many vectors exact search is fast enough (one thread, 384 floats: about 1 ms
# at 10k vectors, 9 ms at 100k on this class of machine); above it an IVF index keeps
# queries near 1 ms (measured 1.1 ms at 1M with recall@10 1.000 against exact search).
# See benchmarks/latency.py.
EXACT_LIMIT = 50_000
IVF_NPROBE = 16
# The k-means of an IVF index is trained on this many rows per cell, drawn at random. The
# sample is the largest thing a build holds (at 32 rows per cell, 4 bytes x 384 x 128 x the
# square root of the row count: 49 MB at 60k sentences, 160 MB at 400k). Measured on 63,510
# real sentence vectors, recall@10 against exact search with 400 SQuAD questions: 64 rows per
# cell 0.9727, 32 rows 0.9725, 24 rows 0.9682, 16 rows 0.9588 (benchmarks/latency.py covers 1M).
TRAIN_ROWS_PER_CELL = 32
# Index files are memory-mapped where FAISS can (1.10 and later): a loaded exact index reads its
# rows from the page cache, shared by every process that loads it, instead of a private copy.
_LOAD_FLAGS = "IO_FLAG_MMAP_IFC"
_ADD_SLICE = 1024  # rows (or passages) normalised, summed, written or added to FAISS at a time
_GATHER_ROWS = 1024  # rows a RowFile reads at a time for a set of rows
# The head of FAISS's file of an exact inner-product index (IndexFlatIP), up to its rows:
# type, dimension, row count, two unused counts, "trained", metric 0 (inner product), and
# the number of floats that follow. tests/test_dense.py checks it against faiss's own file.
_FLAT_IP_HEAD = struct.Struct("<4siqqq?iQ")
# FAISS's inverted lists of an IVF index: type, cell count, bytes per row, then the list sizes,
# "full" (one per cell) or "sprs" (cell, size pairs of the cells that hold rows), then each
# non-empty cell's rows and their ids. The empty lists of a trained index end its file.
_LISTS_HEAD = struct.Struct("<4sQQ4sQ")


def load_faiss():  # untyped: faiss has no type stubs
    import faiss

    faiss.omp_set_num_threads(1)  # one query at a time: a second thread only adds noise here
    return faiss


def as_unit_rows(vectors: np.ndarray, *, copy: bool = True) -> np.ndarray:
    """Contiguous float32 rows of unit length (zero rows stay zero).

    The input is never changed unless ``copy=False``: then a contiguous float32 array is
    normalised in place (an array of its own, such as a sum just computed) and returned.
    """
    # np.asarray copies only when it must (numpy 1.26 has no copy=None).
    array = np.array(vectors, dtype=np.float32, order="C") if copy else np.asarray(vectors, np.float32, order="C")
    if array.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors, got shape {array.shape}")
    # A slice at a time: the norm squares its input into a temporary as large as the input
    # (a whole IVF training sample). A row's norm is the same whatever the slice.
    for start in range(0, len(array), _ADD_SLICE):
        rows = array[start : start + _ADD_SLICE]
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        np.divide(rows, norms, out=rows, where=norms > 0)
    return array


class DenseSearch(Protocol):
    """What a search asks of the dense vectors: :class:`DenseSegments`, or the cluster's shards."""

    @property
    def count(self) -> int: ...

    def search(self, query: np.ndarray, k: int, *, ties: bool = False) -> tuple[np.ndarray, np.ndarray]: ...


class Rows(Protocol):
    """Vectors a build reads a slice or a set of rows at a time: an array, or a :class:`RowFile` on disk."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def __len__(self) -> int: ...

    def __getitem__(self, key: slice | np.ndarray, /) -> np.ndarray: ...


def save_mean_vectors(path: Path, vectors: Rows, groups: Sequence[int] | np.ndarray, count: int) -> None:
    """Save as ``.npy`` the unit mean vector of each of ``count`` groups of rows (a passage's sentences).

    Row ``i`` of ``vectors`` belongs to group ``groups[i]``. When the groups never decrease (each
    a run of rows), the means are summed and written a slice of groups at a time; the file is the
    one ``np.save(path, as_unit_rows(sums))`` writes, without the whole array in memory.
    """
    groups = np.asarray(groups, dtype=np.int64)
    dim = vectors.shape[1]
    if len(groups) and np.any(groups[1:] < groups[:-1]):
        sums = np.zeros((count, dim), dtype=np.float32)
        np.add.at(sums, groups, vectors[: len(groups)])
        np.save(path, as_unit_rows(sums, copy=False), allow_pickle=False)
        return
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
        "fortran_order": False,
        "shape": (count, dim),
    }
    with open(path, "wb") as out:
        np.lib.format.write_array_header_1_0(out, header)
        for first in range(0, count, _ADD_SLICE):
            last = min(first + _ADD_SLICE, count)
            start, end = np.searchsorted(groups, [first, last])
            sums = np.zeros((last - first, dim), dtype=np.float32)
            np.add.at(sums, groups[start:end] - first, vectors[start:end])
            out.write(as_unit_rows(sums, copy=False).tobytes())


class RowFile:
    """The rows of a 2-d float32 ``.npy`` file, read a slice or a set of rows at a time.

    It stands in for the array where a build reads its vectors back (passage means, the FAISS
    file): every read copies only the rows asked for, with read calls, never through a mapping.
    The vectors, about 14 bytes per byte of prose, are never all in memory.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as file:
            version = np.lib.format.read_magic(file)
            formats = np.lib.format
            read_header = formats.read_array_header_1_0 if version == (1, 0) else formats.read_array_header_2_0
            shape, fortran_order, dtype = read_header(file)
            self._offset = file.tell()
        if len(shape) != 2 or fortran_order or dtype != np.float32:
            raise ValueError(f"{self.path.name} holds {dtype} of shape {shape}, not rows of float32")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.ndim = 2
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: slice | np.ndarray | Sequence[int]) -> np.ndarray:
        """A copy of the rows ``key`` selects: a slice (step 1) or row numbers, in the order given."""
        count, dim = self.shape
        if isinstance(key, slice) and key.indices(count)[2] == 1:
            start, stop, _ = key.indices(count)
            length = max(stop - start, 0)
            if not length:
                return np.empty((0, dim), dtype=np.float32)
            offset = self._offset + start * dim * 4
            return np.fromfile(self.path, dtype=np.float32, count=length * dim, offset=offset).reshape(length, dim)
        wanted = np.arange(count)[key] if isinstance(key, slice) else np.asarray(key, dtype=np.int64).reshape(-1)
        if len(wanted) and (wanted.min() < -count or wanted.max() >= count):
            raise IndexError(f"a row outside the file's {count} rows")
        wanted = np.where(wanted < 0, wanted + count, wanted)
        rows = np.empty((len(wanted), dim), dtype=np.float32)
        order = np.argsort(wanted, kind="stable")
        row_bytes = dim * 4
        # Read, not mapped: a mapped page fault may map a whole large folio of the file (a
        # megabyte per row touched was measured), and the process would hold what it skips.
        with open(self.path, "rb") as file:
            for start in range(0, len(order), _GATHER_ROWS):
                chosen = order[start : start + _GATHER_ROWS]
                positions = wanted[chosen]  # ascending
                block = np.empty((len(chosen), dim), dtype=np.float32)
                for first, stop in _runs(positions):
                    offset = self._offset + int(positions[first]) * row_bytes
                    if os.preadv(file.fileno(), [block[first:stop].data], offset) != (stop - first) * row_bytes:
                        raise ValueError(f"{self.path.name} is shorter than its header says")
                rows[chosen] = block
        return rows


class RowWriter:
    """Writes a ``count`` x ``dim`` float32 ``.npy`` file a set of rows at a time, in any order.

    Once every row is written the file is the one ``np.save`` writes of the whole array (the
    same header); rows never written read as zeros. The file must not exist yet.
    """

    def __init__(self, path: Path, count: int, dim: int) -> None:
        self.path = Path(path)
        self.shape = (count, dim)
        self._file = open(self.path, "xb")  # noqa: SIM115 - closed by close() or the with block
        try:
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
                      "shape": (count, dim)}  # fmt: skip
            np.lib.format.write_array_header_1_0(self._file, header)
            self._file.flush()
            self._offset = self._file.tell()
            self._file.truncate(self._offset + count * dim * 4)
        except BaseException:
            self._file.close()
            raise

    def __setitem__(self, rows: slice | np.ndarray | Sequence[int], values: np.ndarray) -> None:
        count, dim = self.shape
        wanted = np.arange(count)[rows] if isinstance(rows, slice) else np.asarray(rows, dtype=np.int64).reshape(-1)
        block = np.ascontiguousarray(values, dtype=np.float32).reshape(len(wanted), dim)
        if len(wanted) and (wanted.min() < 0 or wanted.max() >= count):
            raise IndexError(f"a row outside the file's {count} rows")
        order = np.argsort(wanted, kind="stable")
        ordered = wanted[order]
        for first, stop in _runs(ordered):  # one write per run of consecutive rows (a slice is one)
            data = block[order[first:stop]].tobytes()
            os.pwrite(self._file.fileno(), data, self._offset + int(ordered[first]) * dim * 4)

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


def _runs(ascending: np.ndarray) -> list[tuple[int, int]]:
    """The (start, stop) index ranges of ``ascending`` that hold runs of consecutive row numbers."""
    breaks = (np.flatnonzero(np.diff(ascending) != 1) + 1).tolist()
    return [(first, stop) for first, stop in zip([0, *breaks], [*breaks, len(ascending)], strict=True) if stop > first]


def _cells(count: int) -> int:
    return int(4 * math.sqrt(count))


def _reusable(centroids: np.ndarray | None, count: int, dim: int) -> np.ndarray | None:
    if centroids is None or centroids.ndim != 2 or centroids.shape[1] != dim:
        return None
    wanted = _cells(count)
    return centroids if wanted / 2 <= len(centroids) <= wanted * 2 else None


def _ivf(faiss, array: Rows, centroids: np.ndarray | None):  # untyped: faiss objects
    """An empty IVF index over ``array``'s space: trained on a sample, or on given cells."""
    count, dim = array.shape
    quantizer = faiss.IndexFlatIP(dim)
    if centroids is None:
        nlist = _cells(count)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.min_points_per_centroid = TRAIN_ROWS_PER_CELL  # FAISS would warn below 39 on stderr
        sample = np.random.default_rng(0).choice(count, min(count, nlist * TRAIN_ROWS_PER_CELL), replace=False)
        index.train(as_unit_rows(array[sample], copy=False))  # the sample is a copy already: normalised in place
    else:
        quantizer.add(np.ascontiguousarray(centroids, dtype=np.float32))
        index = faiss.IndexIVFFlat(quantizer, dim, len(centroids), faiss.METRIC_INNER_PRODUCT)
        index.is_trained = True  # an IVFFlat is trained once its quantizer holds the cells
    index.nprobe = IVF_NPROBE
    return index  # faiss's wrapper keeps the quantizer alive as long as the index


def _write_cells(out, vectors: Rows, cells: np.ndarray, nlist: int, code_size: int) -> None:  # untyped: a file
    """The inverted lists FAISS writes after adding ``vectors`` assigned to ``cells``, rows in order within a cell."""
    order = np.argsort(cells, kind="stable")
    sizes = np.bincount(cells, minlength=nlist).astype(np.uint64)
    filled = np.flatnonzero(sizes)
    if len(filled) > nlist // 2:
        out.write(_LISTS_HEAD.pack(b"ilar", nlist, code_size, b"full", nlist) + sizes.tobytes())
    else:
        pairs = np.column_stack([filled.astype(np.uint64), sizes[filled]]).reshape(-1)
        out.write(_LISTS_HEAD.pack(b"ilar", nlist, code_size, b"sprs", len(pairs)) + pairs.tobytes())
    ends = np.cumsum(sizes.astype(np.int64))
    for cell in filled.tolist():
        rows = order[ends[cell] - int(sizes[cell]) : ends[cell]]
        out.write(as_unit_rows(vectors[rows]).tobytes())
        out.write(rows.astype(np.int64).tobytes())


class DenseIndex:
    """Inner-product search, so scores are cosines; exact below EXACT_LIMIT, IVF above."""

    def __init__(self, index, dim: int) -> None:  # untyped: a faiss.Index
        self._index = index
        self.dim = dim

    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(self._index, load_faiss().IndexIVF) else "flat"

    @classmethod
    def build(
        cls, vectors: np.ndarray, *, exact_limit: int | None = None, centroids: np.ndarray | None = None
    ) -> DenseIndex:
        """Index ``vectors`` (row i gets id i).

        Args:
            vectors: One row per sentence.
            exact_limit: Up to this many rows the search is exact; above, IVF (default EXACT_LIMIT).
            centroids: The IVF cells of a previous build of the same corpus. They are reused
                while the corpus has not grown or shrunk by more than half, which spares the
                k-means training (most of an update's time on a large corpus).
        """
        faiss = load_faiss()
        if len(vectors.shape) != 2:
            raise ValueError(f"expected a 2-d array of vectors, got shape {vectors.shape}")
        count, dim = vectors.shape
        if count <= (EXACT_LIMIT if exact_limit is None else exact_limit):
            index = faiss.IndexFlatIP(dim)
            # Room for every row at once (shrinking keeps the capacity): adding slices would
            # otherwise grow FAISS's buffer by doubling, copying it and overshooting the size.
            index.codes.resize(count * index.code_size)
            index.codes.resize(0)
        else:
            index = _ivf(faiss, vectors, _reusable(centroids, count, dim))
        # Normalised and added a slice at a time: FAISS keeps its own copy of the rows, and a
        # whole normalised copy besides would hold the vectors three times at the peak.
        for start in range(0, count, _ADD_SLICE):
            index.add(as_unit_rows(vectors[start : start + _ADD_SLICE]))
        return cls(index, dim)

    @classmethod
    def write(
        cls, vectors: Rows, path: Path, *, exact_limit: int | None = None, centroids: np.ndarray | None = None
    ) -> tuple[str, np.ndarray | None]:
        """Write to ``path`` the file that ``build(vectors, ...).save(path)`` writes, without building it in memory.

        FAISS keeps its own copy of every row, as large as the caller's array, until the file
        is written; here the normalised rows go to the file a slice (or an IVF cell) at a time.
        An IVF index is trained and its cells assigned as :meth:`build` does.

        Returns:
            The index kind ("flat" or "ivf") and, for IVF, its cells' centres.
        """
        if len(vectors.shape) != 2:
            raise ValueError(f"expected a 2-d array of vectors, got shape {vectors.shape}")
        count, dim = vectors.shape
        if count <= (EXACT_LIMIT if exact_limit is None else exact_limit):
            with open(path, "wb") as out:
                out.write(_FLAT_IP_HEAD.pack(b"IxFI", dim, count, 1 << 20, 1 << 20, True, 0, count * dim))
                for start in range(0, count, _ADD_SLICE):
                    out.write(as_unit_rows(vectors[start : start + _ADD_SLICE]).tobytes())
            return "flat", None
        faiss = load_faiss()
        index = _ivf(faiss, vectors, _reusable(centroids, count, dim))
        quantizer = faiss.downcast_index(index.quantizer)
        empty = faiss.serialize_index(index).tobytes()
        no_lists = _LISTS_HEAD.pack(b"ilar", index.nlist, index.code_size, b"sprs", 0)
        if not empty.endswith(no_lists):  # another FAISS file layout: let FAISS build and write it
            for start in range(0, count, _ADD_SLICE):
                index.add(as_unit_rows(vectors[start : start + _ADD_SLICE]))
            faiss.write_index(index, str(path))
            return "ivf", quantizer.reconstruct_n(0, quantizer.ntotal)
        cells = np.concatenate(
            [
                quantizer.assign(as_unit_rows(vectors[start : start + _ADD_SLICE]), 1)[:, 0]
                for start in range(0, count, _ADD_SLICE)
            ]
        )
        with open(path, "wb") as out:
            out.write(empty[:8] + struct.pack("<q", count) + empty[16 : -len(no_lists)])
            _write_cells(out, vectors, cells, index.nlist, index.code_size)
        return "ivf", quantizer.reconstruct_n(0, quantizer.ntotal)

    def centroids(self) -> np.ndarray | None:
        """The IVF cells' centres, for a later build to reuse; None for an exact index."""
        if self.kind != "ivf":
            return None
        quantizer = load_faiss().downcast_index(self._index.quantizer)
        return quantizer.reconstruct_n(0, quantizer.ntotal)

    def search(self, query: np.ndarray, k: int, *, live: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest rows to one query vector, best first: (rows, cosines).

        Args:
            query: One vector of the index's dimension.
            k: How many rows to return at most.
            live: A bool per row; rows marked False are never returned (deleted documents).
                FAISS skips them inside the search, so ``k`` live rows come back when there are.

        FAISS pads with -1 when it holds fewer than ``k`` vectors; those are dropped.
        """
        if self.count == 0 or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        vector = as_unit_rows(np.reshape(query, (1, -1)))
        if vector.shape[1] != self.dim:
            raise ValueError(f"query has dimension {vector.shape[1]}, the index holds {self.dim}")
        params = None
        if live is not None:
            if live.shape != (self.count,):
                raise ValueError(f"live mask has shape {live.shape}, the index holds {self.count} rows")
            params = self._without(live)
        scores, rows = self._index.search(vector, min(k, self.count), params=params)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    def _without(self, live: np.ndarray):  # untyped: faiss search parameters
        faiss = load_faiss()
        bits = np.packbits(np.asarray(live, dtype=bool), bitorder="little")
        selector = faiss.IDSelectorBitmap(self.count, faiss.swig_ptr(bits))
        if self.kind == "ivf":
            params = faiss.SearchParametersIVF(sel=selector, nprobe=IVF_NPROBE)
        else:
            params = faiss.SearchParameters(sel=selector)
        params.bits = bits  # the selector points into this array: keep it alive with the parameters
        return params

    def save(self, path: Path) -> None:
        load_faiss().write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        faiss = load_faiss()
        index = faiss.read_index(str(path), getattr(faiss, _LOAD_FLAGS, 0))
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = IVF_NPROBE
        return cls(index, index.d)


@dataclass(frozen=True, slots=True)
class DensePart:
    """One segment's vector index, where its rows sit among all rows, and which are live."""

    index: DenseIndex
    first_row: int
    live: np.ndarray | None = None  # a bool per row of the segment; None: every row is live


class DenseSegments:
    """Several segments' vector indexes searched as one; rows not live are never returned."""

    def __init__(self, parts: Sequence[DensePart]) -> None:
        self.parts = tuple(sorted(parts, key=lambda p: p.first_row))
        for before, after in zip(self.parts, self.parts[1:], strict=False):
            if before.first_row + before.index.count > after.first_row:
                raise ValueError(f"segments overlap at row {after.first_row}")
        self.dim = self.parts[0].index.dim if self.parts else 0

    @property
    def count(self) -> int:
        """Live rows over all segments."""
        return sum(p.index.count if p.live is None else int(p.live.sum()) for p in self.parts)

    @property
    def kind(self) -> str:
        """The kind of the largest segment's index ("flat" or "ivf")."""
        return max(self.parts, key=lambda p: p.index.count).index.kind if self.parts else "flat"

    def search(self, query: np.ndarray, k: int, *, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest live rows over every segment, best first, ties by row: (rows, cosines).

        Args:
            query: One vector.
            k: How many rows to return.
            ties: Also return every row that ties with the k-th. Which of tied rows make
                the first ``k`` depends on row numbers, and so on the order documents were
                added in; with the ties the set depends on the scores alone, so an updated
                index finds what a fresh build of the same corpus finds.
        """
        found = [_search_with_ties(p.index, query, k, p.live) if ties else p.index.search(query, k, live=p.live)
                 for p in self.parts]  # fmt: skip
        rows = np.concatenate([r + p.first_row for (r, _), p in zip(found, self.parts, strict=True)] or [_NO_ROWS])
        scores = np.concatenate([s for _, s in found] or [_NO_ROWS]).astype(np.float32)
        order = np.lexsort((rows, -scores))
        rows, scores = rows[order].astype(np.int64), scores[order]
        if k <= 0 or len(rows) <= k:
            return rows[: max(k, 0)], scores[: max(k, 0)]
        end = k if not ties else int(np.searchsorted(-scores, -scores[k - 1], side="right"))
        return rows[:end], scores[:end]


_NO_ROWS = np.empty(0, dtype=np.int64)  # what an index of no segments finds


def _search_with_ties(
    index: DenseIndex, query: np.ndarray, k: int, live: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of one index and every row tied with the k-th (asking for more until none is cut off)."""
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    wanted = k
    while True:
        rows, scores = index.search(query, wanted + 1, live=live)
        if len(rows) <= k:
            return rows, scores
        if len(rows) <= wanted or scores[wanted] < scores[k - 1]:  # the last tie is inside what came back
            end = int(np.searchsorted(-scores, -scores[k - 1], side="right"))
            return rows[:end], scores[:end]
        wanted *= 2


class VectorSegments:
    """The stored vectors of several segments, read by global row as if one array."""

    def __init__(self, arrays: Sequence[np.ndarray], first_rows: Sequence[int]) -> None:
        order = np.argsort(np.asarray(first_rows, dtype=np.int64), kind="stable")
        self._arrays = [arrays[i] for i in order]
        self._first = np.asarray([first_rows[i] for i in order], dtype=np.int64)
        self._ends = self._first + np.asarray([len(a) for a in self._arrays], dtype=np.int64)

    def __getitem__(self, rows: np.ndarray | slice) -> np.ndarray:
        """The vectors of ``rows`` (global row numbers, or a slice of them), in the order given."""
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(len(self)))
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(self._arrays) == 1 and len(rows):  # one segment (most indexes): no grouping by segment
            local = rows - self._first[0]
            if local.min() < 0 or local.max() >= len(self._arrays[0]):
                raise IndexError("a row outside every segment")
            return np.asarray(self._arrays[0][local], dtype=np.float32)
        part = np.searchsorted(self._first, rows, side="right") - 1
        if len(rows) and (part.min() < 0 or np.any(rows >= self._ends[np.maximum(part, 0)])):
            raise IndexError("a row outside every segment")
        dim = self._arrays[0].shape[1] if self._arrays else 0
        result = np.empty((len(rows), dim), dtype=np.float32)
        for number in np.unique(part):
            where = np.flatnonzero(part == number)
            result[where] = self._arrays[number][rows[where] - self._first[number]]
        return result

    def __len__(self) -> int:
        return int(self._ends.max()) if len(self._ends) else 0
