"""Dense vector search over L2-normalised embeddings (the only faiss import)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# Below this many vectors exact search is fast enough (one thread, 384 floats: about 1 ms
# at 10k vectors, 9 ms at 100k on this class of machine); above it an IVF index keeps
# queries near 1 ms (measured 1.1 ms at 1M with recall@10 1.000 against exact search).
# See benchmarks/latency.py.
EXACT_LIMIT = 50_000
IVF_NPROBE = 16


def _faiss():  # noqa: ANN202 - faiss has no type stubs
    import faiss

    faiss.omp_set_num_threads(1)  # one query at a time: a second thread only adds noise here
    return faiss


def as_unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Contiguous float32 rows of unit length (zero rows stay zero); the input is never changed."""
    array = np.array(vectors, dtype=np.float32, order="C", copy=True)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors, got shape {array.shape}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    np.divide(array, norms, out=array, where=norms > 0)
    return array


def _cells(count: int) -> int:
    return int(4 * math.sqrt(count))


def _reusable(centroids: np.ndarray | None, count: int, dim: int) -> np.ndarray | None:
    if centroids is None or centroids.ndim != 2 or centroids.shape[1] != dim:
        return None
    wanted = _cells(count)
    return centroids if wanted / 2 <= len(centroids) <= wanted * 2 else None


def _ivf(faiss, array: np.ndarray, centroids: np.ndarray | None):  # noqa: ANN001, ANN202 - faiss objects
    """An empty IVF index over ``array``'s space: trained on a sample, or on given cells."""
    count, dim = array.shape
    quantizer = faiss.IndexFlatIP(dim)
    if centroids is None:
        nlist = _cells(count)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(array[np.random.default_rng(0).choice(count, min(count, nlist * 64), replace=False)])
    else:
        quantizer.add(np.ascontiguousarray(centroids, dtype=np.float32))
        index = faiss.IndexIVFFlat(quantizer, dim, len(centroids), faiss.METRIC_INNER_PRODUCT)
        index.is_trained = True  # an IVFFlat is trained once its quantizer holds the cells
    index.nprobe = IVF_NPROBE
    return index  # faiss's wrapper keeps the quantizer alive as long as the index


class DenseIndex:
    """Inner-product search, so scores are cosines; exact below EXACT_LIMIT, IVF above."""

    def __init__(self, index, dim: int) -> None:  # noqa: ANN001 - a faiss.Index
        self._index = index
        self.dim = dim

    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(self._index, _faiss().IndexIVF) else "flat"

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
        faiss = _faiss()
        array = as_unit_rows(vectors)
        count, dim = array.shape
        if count <= (EXACT_LIMIT if exact_limit is None else exact_limit):
            index = faiss.IndexFlatIP(dim)
        else:
            index = _ivf(faiss, array, _reusable(centroids, count, dim))
        index.add(array)
        return cls(index, dim)

    def centroids(self) -> np.ndarray | None:
        """The IVF cells' centres, for a later build to reuse; None for an exact index."""
        if self.kind != "ivf":
            return None
        quantizer = _faiss().downcast_index(self._index.quantizer)
        return quantizer.reconstruct_n(0, quantizer.ntotal)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest rows to one query vector, best first: (rows, cosines).

        FAISS pads with -1 when it holds fewer than ``k`` vectors; those are dropped.
        """
        if self.count == 0 or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        vector = as_unit_rows(np.reshape(query, (1, -1)))
        if vector.shape[1] != self.dim:
            raise ValueError(f"query has dimension {vector.shape[1]}, the index holds {self.dim}")
        scores, rows = self._index.search(vector, min(k, self.count))
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    def save(self, path: Path) -> None:
        _faiss().write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        faiss = _faiss()
        index = faiss.read_index(str(path))
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = IVF_NPROBE
        return cls(index, index.d)
