"""Dense search against a brute-force numpy reference."""

import numpy as np
import pytest

from rag.index.dense import DenseIndex, RowFile, RowWriter, as_unit_rows, save_mean_vectors


def _vectors(count: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)


def _brute_force(vectors: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    unit = as_unit_rows(vectors)
    q = query / np.linalg.norm(query)
    scores = unit @ q
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


@pytest.mark.parametrize("count", [1, 7, 1000, 2049])
def test_flat_search_matches_brute_force(count: int) -> None:
    vectors = _vectors(count)
    index = DenseIndex.build(vectors)
    for seed in range(5):
        query = _vectors(1, seed=100 + seed)[0]
        rows, scores = index.search(query, 10)
        expected_rows, expected_scores = _brute_force(vectors, query, 10)
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-5)
        assert rows.tolist() == expected_rows.tolist()


def test_scores_are_cosines_of_unnormalised_input() -> None:
    vectors = np.array([[3.0, 0.0], [1.0, 1.0]], dtype=np.float32)
    index = DenseIndex.build(vectors)
    rows, scores = index.search(np.array([2.0, 0.0]), 2)
    assert rows.tolist() == [0, 1]
    np.testing.assert_allclose(scores, [1.0, np.sqrt(0.5)], rtol=1e-6)


def test_k_larger_than_the_index_drops_faiss_padding() -> None:
    index = DenseIndex.build(_vectors(3))
    rows, scores = index.search(_vectors(1, seed=9)[0], 10)
    assert sorted(rows.tolist()) == [0, 1, 2]
    assert len(scores) == 3
    assert (rows >= 0).all()


def test_empty_index_returns_nothing() -> None:
    index = DenseIndex.build(np.zeros((0, 8), dtype=np.float32))
    rows, scores = index.search(np.ones(8), 5)
    assert rows.size == 0 and scores.size == 0


def test_wrong_dimension_is_a_clear_error() -> None:
    index = DenseIndex.build(_vectors(4, dim=8))
    with pytest.raises(ValueError, match="dimension 5"):
        index.search(np.ones(5), 2)


def test_ivf_above_the_exact_limit_keeps_recall(tmp_path) -> None:
    # Clustered like real sentence embeddings (random Gaussian data is IVF's worst case).
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((40, 16))
    vectors = (centres[rng.integers(0, 40, 4000)] + 0.3 * rng.standard_normal((4000, 16))).astype(np.float32)
    index = DenseIndex.build(vectors, exact_limit=1000)
    assert index.kind == "ivf"
    index.save(tmp_path / "ivf.faiss")
    loaded = DenseIndex.load(tmp_path / "ivf.faiss")
    recall = []
    for seed in range(50):
        query = vectors[seed] + 0.1 * _vectors(1, dim=16, seed=seed)[0]
        expected, _ = _brute_force(vectors, query, 10)
        rows, _ = loaded.search(query, 10)
        recall.append(len(set(rows.tolist()) & set(expected.tolist())) / 10)
    assert np.mean(recall) >= 0.9


def test_save_and_load_round_trip(tmp_path) -> None:
    vectors = _vectors(50)
    DenseIndex.build(vectors).save(tmp_path / "flat.faiss")
    loaded = DenseIndex.load(tmp_path / "flat.faiss")
    assert loaded.count == 50 and loaded.kind == "flat"
    rows, _ = loaded.search(vectors[17], 1)
    assert rows.tolist() == [17]


def test_search_leaves_a_read_only_query_untouched(tmp_path) -> None:
    vectors = _vectors(20)
    np.save(tmp_path / "v.npy", vectors)
    mapped = np.load(tmp_path / "v.npy", mmap_mode="r")
    index = DenseIndex.build(mapped)
    rows, _ = index.search(mapped[3], 1)
    assert rows.tolist() == [3]
    np.testing.assert_array_equal(np.load(tmp_path / "v.npy"), vectors)


def test_ivf_cells_are_reused_for_a_similar_corpus_and_keep_recall() -> None:
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((40, 16))
    vectors = (centres[rng.integers(0, 40, 4000)] + 0.3 * rng.standard_normal((4000, 16))).astype(np.float32)
    first = DenseIndex.build(vectors, exact_limit=1000)
    cells = first.centroids()
    assert cells is not None and cells.shape == (int(4 * np.sqrt(4000)), 16)
    grown = np.concatenate([vectors, vectors[:500] + 0.01])
    again = DenseIndex.build(grown, exact_limit=1000, centroids=cells)
    np.testing.assert_allclose(again.centroids(), cells)
    recall = []
    for seed in range(50):
        query = grown[seed * 7]
        expected, _ = _brute_force(grown, query, 10)
        rows, _ = again.search(query, 10)
        recall.append(len(set(rows.tolist()) & set(expected.tolist())) / 10)
    assert np.mean(recall) >= 0.9
    assert DenseIndex.build(vectors[:50]).centroids() is None


def test_cells_of_a_very_different_size_are_not_reused() -> None:
    vectors = _vectors(3000, dim=8)
    small_cells = DenseIndex.build(vectors[:1200], exact_limit=1000).centroids()
    rebuilt = DenseIndex.build(vectors, exact_limit=1000, centroids=small_cells[:20])
    assert len(rebuilt.centroids()) == int(4 * np.sqrt(3000))


@pytest.mark.parametrize("count", [0, 1, 7, 4097, 9000])
def test_write_streams_the_file_build_and_save_would_write(tmp_path, count: int) -> None:
    # An exact index is written without FAISS holding a copy of the rows: byte for byte
    # the file FAISS writes itself, slices of normalisation included (1024 rows each).
    vectors = _vectors(count, dim=16) * 3
    original = vectors.copy()
    DenseIndex.build(vectors).save(tmp_path / "built.faiss")
    kind, cells = DenseIndex.write(vectors, tmp_path / "written.faiss")
    assert (kind, cells) == ("flat", None)
    assert (tmp_path / "written.faiss").read_bytes() == (tmp_path / "built.faiss").read_bytes()
    assert np.array_equal(vectors, original)  # the caller's rows are left as they were
    loaded = DenseIndex.load(tmp_path / "written.faiss")
    assert (loaded.count, loaded.dim, loaded.kind) == (count, 16, "flat")


@pytest.mark.parametrize(("count", "centroids"), [(3000, 0), (5000, 0), (3000, 250)])
def test_write_streams_the_ivf_file_build_and_save_would_write(tmp_path, count: int, centroids: int) -> None:
    # Cells assigned a slice at a time, rows written cell by cell: FAISS's own file, byte for
    # byte, with lists stored "full" (most cells hold rows) or "sprs" (given cells, few filled).
    vectors = _vectors(count, dim=16)
    cells = as_unit_rows(_vectors(centroids, dim=16, seed=9)) if centroids else None
    if cells is not None:
        cells[2:] = cells[0]  # most cells identical to the first: only a few ever win a row
    built = DenseIndex.build(vectors, exact_limit=1000, centroids=cells)
    built.save(tmp_path / "built.faiss")
    kind, written_cells = DenseIndex.write(vectors, tmp_path / "written.faiss", exact_limit=1000, centroids=cells)
    assert kind == "ivf"
    assert np.array_equal(written_cells, built.centroids())
    assert (tmp_path / "written.faiss").read_bytes() == (tmp_path / "built.faiss").read_bytes()
    loaded = DenseIndex.load(tmp_path / "written.faiss")
    assert loaded.search(vectors[5], 5)[0].tolist() == built.search(vectors[5], 5)[0].tolist()


@pytest.mark.parametrize(("rows", "groups"), [(0, 0), (10, 3), (12_000, 5_000)])
def test_mean_vectors_are_saved_as_the_whole_array_would_be(tmp_path, rows: int, groups: int) -> None:
    # Runs of rows in group order are summed a slice of 1024 groups at a time (5,000 crosses it).
    vectors = as_unit_rows(_vectors(rows, dim=8))
    owner = np.sort(np.random.default_rng(1).integers(0, max(groups, 1), rows))
    owner[: min(groups, rows)] = np.arange(min(groups, rows))  # every group holds a row
    owner.sort()
    sums = np.zeros((groups, 8), dtype=np.float32)
    np.add.at(sums, owner, vectors)
    np.save(tmp_path / "whole.npy", as_unit_rows(sums), allow_pickle=False)
    save_mean_vectors(tmp_path / "sliced.npy", vectors, owner, groups)
    assert (tmp_path / "sliced.npy").read_bytes() == (tmp_path / "whole.npy").read_bytes()
    shuffled = np.random.default_rng(2).permutation(rows)  # groups out of order: summed at once
    save_mean_vectors(tmp_path / "shuffled.npy", vectors[shuffled], owner[shuffled], groups)
    np.testing.assert_allclose(np.load(tmp_path / "shuffled.npy"), np.load(tmp_path / "whole.npy"), atol=1e-6)


def test_a_row_file_reads_what_the_array_holds(tmp_path) -> None:
    # Slices are read from the file, sets of rows gathered 1,024 at a time through short mappings.
    vectors = _vectors(5000, dim=7)
    np.save(tmp_path / "rows.npy", vectors, allow_pickle=False)
    rows = RowFile(tmp_path / "rows.npy")
    assert (rows.shape, rows.ndim, len(rows), np.shape(rows)) == ((5000, 7), 2, 5000, (5000, 7))
    picks = np.random.default_rng(3).integers(0, 5000, 3000)  # repeats, out of order, many mappings
    for key in (picks, [4999, 0, 4999], [-1, -5000], np.array([], dtype=np.int64), np.arange(5000)):
        assert np.array_equal(rows[key], vectors[key])
    for key in (slice(0, 10), slice(4990, 6000), slice(10, 5), slice(None, None, 3), slice(-5, None)):
        assert np.array_equal(rows[key], vectors[key])
    with pytest.raises(IndexError):
        rows[[5000]]


def test_a_row_file_refuses_what_is_not_rows_of_float32(tmp_path) -> None:
    np.save(tmp_path / "ints.npy", np.zeros((3, 2), dtype=np.int64))
    np.save(tmp_path / "flat.npy", np.zeros(6, dtype=np.float32))
    for name in ("ints.npy", "flat.npy"):
        with pytest.raises(ValueError, match="not rows of float32"):
            RowFile(tmp_path / name)


def test_rows_written_in_any_order_make_the_file_np_save_makes(tmp_path) -> None:
    vectors = _vectors(5000, dim=7)
    np.save(tmp_path / "saved.npy", vectors, allow_pickle=False)
    order = 100 + np.random.default_rng(4).permutation(4900)
    with RowWriter(tmp_path / "written.npy", 5000, 7) as out:
        out[0:100] = vectors[0:100]  # a slice, then batches of scattered rows (an encoder's sorted batches)
        for start in range(0, 4900, 37):
            rows = order[start : start + 37]
            out[rows] = vectors[rows]
    assert (tmp_path / "written.npy").read_bytes() == (tmp_path / "saved.npy").read_bytes()
    with pytest.raises(FileExistsError):  # never over a file that exists
        RowWriter(tmp_path / "saved.npy", 1, 7)
    with RowWriter(tmp_path / "bad.npy", 2, 7) as out, pytest.raises(IndexError):
        out[[2]] = vectors[:1]


@pytest.mark.parametrize(("count", "exact_limit"), [(4097, None), (3000, 1000)])
def test_the_index_file_written_from_a_row_file_is_the_one_written_from_the_array(tmp_path, count, exact_limit):
    # A build reads its vectors back from the segment's file: flat and IVF files must not change.
    vectors = _vectors(count, dim=16)
    np.save(tmp_path / "rows.npy", vectors, allow_pickle=False)
    from_array = DenseIndex.write(vectors, tmp_path / "array.faiss", exact_limit=exact_limit)
    from_file = DenseIndex.write(RowFile(tmp_path / "rows.npy"), tmp_path / "file.faiss", exact_limit=exact_limit)
    assert from_array[0] == from_file[0]
    assert (tmp_path / "file.faiss").read_bytes() == (tmp_path / "array.faiss").read_bytes()
    groups = np.repeat(np.arange(count // 4 + 1), 4)[:count]
    save_mean_vectors(tmp_path / "array.npy", vectors, groups, count // 4 + 1)
    save_mean_vectors(tmp_path / "file.npy", RowFile(tmp_path / "rows.npy"), groups, count // 4 + 1)
    assert (tmp_path / "file.npy").read_bytes() == (tmp_path / "array.npy").read_bytes()
