"""Text folding, tokens, BM25 (by hand, against bm25s, over segments with deletions) and term coverage."""

import ast
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import rag.index.lexical
from rag.index.lexical import LexicalIndex, LexicalPart, LexicalSegments, TokenRows, coverage, idf
from rag.text.words import fold, tokenize


def test_fold_handles_case_accents_quotes_and_dashes() -> None:
    assert fold("Möngke") == "mongke"
    assert fold("“Dual-Use”") == '"dual-use"'
    assert fold("China’s—state") == "china's-state"


def test_tokenize_drops_stopwords_and_stems() -> None:
    assert tokenize("Which companies did Li Qiang visit?") == ["compani", "li", "qiang", "visit"]
    assert tokenize("Li’s high-profile visits") == ["li", "high", "profil", "visit"]


def test_dotted_acronyms_are_one_token_not_the_pronoun_us() -> None:
    assert "us" in tokenize("U.S. sanctions")
    assert tokenize("give it to us") == ["give"]


def test_numbers_are_tokens() -> None:
    assert tokenize("over $40 billion in 2014") == ["40", "billion", "2014"]


TEXTS = [
    "the cat sat on the mat",
    "a dog chased the cat",
    "dogs and cats living together",
    "a quiet mat",
    "nothing relevant here at all",
]


def test_bm25_ranking_matches_hand_check() -> None:
    index = LexicalIndex.build([tokenize(t) for t in TEXTS])
    rows, scores = index.search(tokenize("cat mat"), 5)
    # "cat" and "mat" both: text 0 first; then one-term texts; text 4 has neither term.
    assert rows[0] == 0
    assert set(rows.tolist()) == {0, 1, 2, 3}
    assert 4 not in rows.tolist()
    assert list(scores) == sorted(scores, reverse=True)
    # Shorter text with the rare term "mat" beats the longer one with the common "cat".
    assert rows.tolist().index(3) < rows.tolist().index(1)


def test_bm25_scores_agree_with_the_formula() -> None:
    docs = [tokenize(t) for t in TEXTS]
    index = LexicalIndex.build(docs, k1=1.2, b=0.75)
    query = tokenize("cat")
    n, average = len(docs), np.mean([len(d) for d in docs])
    df = sum("cat" in d for d in docs)
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    expected = []
    for d in docs:
        tf = d.count("cat")
        expected.append(idf * tf / (tf + 1.2 * (1 - 0.75 + 0.75 * len(d) / average)))
    np.testing.assert_allclose(index.scores(query), expected, rtol=1e-5)


def test_unknown_terms_and_k_beyond_size() -> None:
    index = LexicalIndex.build([tokenize(t) for t in TEXTS])
    rows, _ = index.search(tokenize("zebra"), 3)
    assert rows.size == 0
    rows, _ = index.search(tokenize("cat"), 50)
    assert len(rows) == 3
    assert index.idf(["zebra"]) == {"zebra": pytest.approx(idf(0, len(TEXTS)))}
    np.testing.assert_array_equal(index.scores(["zebra"]), np.zeros(len(TEXTS), dtype=np.float32))


@pytest.mark.parametrize("k", [0, -3])
def test_k_zero_or_less_returns_empty_arrays(k: int) -> None:
    rows, scores = LexicalIndex.build([tokenize(t) for t in TEXTS]).search(tokenize("cat"), k)
    assert rows.dtype == np.int64 and scores.dtype == np.float32
    assert rows.size == scores.size == 0


def test_empty_query_finds_nothing() -> None:
    index = LexicalIndex.build([tokenize(t) for t in TEXTS])
    rows, scores = index.search([], 5)
    assert rows.size == scores.size == 0
    assert index.idf([]) == {}
    assert not index.scores([]).any()


def test_result_types() -> None:
    index = LexicalIndex.build([tokenize(t) for t in TEXTS])
    rows, scores = index.search(tokenize("cat"), 5)
    assert rows.dtype == np.int64 and scores.dtype == np.float32
    assert index.scores(tokenize("cat")).dtype == np.float32
    assert all(isinstance(value, float) for value in index.idf(["cat", "zebra"]).values())


def test_the_convenience_methods_score_the_segment_alone_every_row_live() -> None:
    index = LexicalIndex.build([tokenize(t) for t in TEXTS], k1=1.6, b=0.5)
    view = index.as_segments()
    assert view.count == index.count == len(TEXTS)
    assert (view.k1, view.b) == (1.6, 0.5)
    query = tokenize("cat mat dogs")
    np.testing.assert_array_equal(index.scores(query), view.scores(query))
    assert index.idf(query) == view.idf(query)


def test_ties_go_to_the_lower_row_also_at_the_cut() -> None:
    index = LexicalIndex.build([["apple", "pie"]] * 50 + [["apple"]])
    rows, scores = index.search(["apple"], 5)
    assert rows.tolist() == [50, 0, 1, 2, 3]  # the shorter text first, then equal scores by row
    assert len(set(scores[1:].tolist())) == 1


def test_ties_go_to_the_lower_global_row_across_segments() -> None:
    same = [["apple", "pie"]] * 3
    view = LexicalSegments([LexicalPart(LexicalIndex.build(same), 10), LexicalPart(LexicalIndex.build(same), 0)])
    rows, scores = view.search(["apple"], 4)
    assert rows.tolist() == [0, 1, 2, 10]
    assert len(set(scores.tolist())) == 1
    assert view.search(["apple"], 2)[0].tolist() == [0, 1]


def test_repeated_query_tokens_count_once_per_occurrence() -> None:
    index = LexicalIndex.build([tokenize(t) for t in TEXTS])
    np.testing.assert_allclose(index.scores(["cat", "cat", "mat"]), 2 * index.scores(["cat"]) + index.scores(["mat"]))
    assert list(index.idf(["cat", "cat"])) == ["cat"]


def random_corpus(rng: np.random.Generator, count: int, vocabulary: int = 60) -> list[list[str]]:
    """Texts of 0 to 11 tokens, from a vocabulary small enough that terms repeat within texts."""
    return [[f"w{i}" for i in rng.integers(0, vocabulary, size=rng.integers(0, 12))] for _ in range(count)]


@pytest.mark.parametrize("count", [10, 1500])
def test_search_matches_argsort_reference(count: int) -> None:
    docs = random_corpus(np.random.default_rng(count), count)
    index = LexicalIndex.build(docs)
    query = ["w1", "w7", "w33"]
    rows, scores = index.search(query, 10)
    all_scores = index.scores(query)
    positive = np.flatnonzero(all_scores > 0)
    reference = positive[np.argsort(-all_scores[positive], kind="stable")][:10]
    np.testing.assert_array_equal(rows, reference)
    np.testing.assert_array_equal(scores, all_scores[reference])


QUERIES = [["w1"], ["w3", "w5", "w8"], ["w2", "w2", "w9", "w2"], ["w4", "zebra"], ["w0", "w11", "w0", "w59"]]


@pytest.mark.parametrize(
    ("count", "k1", "b"), [(1, 1.2, 0.75), (9, 1.5, 0.75), (300, 0.9, 0.4), (1001, 1.2, 0.75), (2600, 2.0, 1.0)]
)
def test_scores_match_bm25s_lucene(count: int, k1: float, b: float) -> None:
    bm25s = pytest.importorskip("bm25s")
    docs = random_corpus(np.random.default_rng(count), count)
    reference = bm25s.BM25(k1=k1, b=b, method="lucene")
    reference.index(docs, show_progress=False)
    index = LexicalIndex.build(docs, k1=k1, b=b)
    for query in QUERIES:
        np.testing.assert_allclose(index.scores(query), reference.get_scores(query), rtol=1e-5, err_msg=str(query))


@pytest.mark.parametrize("seed", range(8))
def test_a_view_scores_exactly_as_one_index_over_its_live_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k1, b = [(1.2, 0.75), (0.8, 0.3), (2.0, 1.0)][seed % 3]
    parts, live_docs, live_rows = [], [], []
    first_row = int(rng.integers(0, 3))
    for number in range(2 + seed % 3):
        docs = random_corpus(rng, int(rng.integers(0, 800)))
        live = rng.random(len(docs)) > 0.3
        if number == 1 and seed % 2 == 0:
            live[:] = False  # a segment whose every row is deleted
        for row in np.flatnonzero(~live)[::2]:
            docs[row].append("ghost")  # a term found only in deleted rows
        parts.append(LexicalPart(LexicalIndex.build(docs), first_row, live))
        live_docs += [d for d, keep in zip(docs, live, strict=True) if keep]
        live_rows += [first_row + r for r in np.flatnonzero(live)]
        first_row += len(docs) + int(rng.integers(0, 3))  # gaps between segments are allowed
    rng.shuffle(parts)  # the order the parts are given in does not matter
    view = LexicalSegments(parts, k1=k1, b=b)
    reference = LexicalIndex.build(live_docs, k1=k1, b=b)
    global_row = np.asarray(live_rows, dtype=np.int64)

    assert view.count == reference.count
    for query in [*QUERIES, ["ghost", "w1"]]:
        rows, scores = view.search(query, 25)
        expected_rows, expected_scores = reference.search(query, 25)
        np.testing.assert_array_equal(rows, global_row[expected_rows])
        np.testing.assert_array_equal(scores, expected_scores)
        assert view.idf(query) == reference.idf(query)
        dense = view.scores(query)
        assert len(dense) == max(p.first_row + p.index.count for p in parts)
        np.testing.assert_array_equal(dense[global_row], reference.scores(query))
        assert not np.delete(dense, global_row).any()  # dead rows and gaps score 0
    assert view.search(["ghost"], 5)[0].size == 0
    assert view.idf(["ghost"])["ghost"] == pytest.approx(idf(0, view.count))
    assert view.idf(["ghost"])["ghost"] >= max(view.idf([f"w{i}" for i in range(60)]).values())


def test_a_view_of_nothing_live() -> None:
    index = LexicalIndex.build([tokenize(t) for t in TEXTS])
    for view in (LexicalSegments([]), LexicalSegments([LexicalPart(index, 3, np.zeros(index.count, dtype=bool))])):
        rows, scores = view.search(tokenize("cat"), 5)
        assert view.count == 0 and rows.size == scores.size == 0
        assert not view.scores(tokenize("cat")).any()
        assert view.idf(["cat"]) == {"cat": pytest.approx(idf(0, 0))}


def test_a_view_keeps_its_own_copy_of_the_live_mask() -> None:
    index = LexicalIndex.build([tokenize(t) for t in TEXTS])
    live = np.ones(index.count, dtype=bool)
    live[0] = False
    view = LexicalSegments([LexicalPart(index, 0, live)])
    before = view.search(tokenize("cat"), 5)
    live[:] = True
    np.testing.assert_array_equal(view.search(tokenize("cat"), 5)[0], before[0])
    assert 0 not in before[0].tolist() and view.count == index.count - 1


def test_adjacent_parts_are_fine_and_overlapping_ones_are_refused() -> None:
    index = LexicalIndex.build([tokenize(t) for t in TEXTS])  # 5 rows
    assert LexicalSegments([LexicalPart(index, 0), LexicalPart(index, 5)]).count == 10
    with pytest.raises(ValueError, match="overlap"):
        LexicalSegments([LexicalPart(index, 5), LexicalPart(index, 0), LexicalPart(index, 9)])


@pytest.mark.parametrize(
    ("first_row", "live"),
    [
        (0, np.ones(4, dtype=bool)),  # one short
        (0, np.ones(5, dtype=np.int8)),  # not bool
        (0, [True] * 5),  # not an array
        (0, np.ones((5, 1), dtype=bool)),
        (-1, None),
        (1.5, None),
    ],
)
def test_a_part_refuses_a_bad_mask_or_first_row(first_row: object, live: object) -> None:
    index = LexicalIndex.build([tokenize(t) for t in TEXTS])
    with pytest.raises(ValueError):
        LexicalSegments([LexicalPart(index, first_row, live)])  # type: ignore[arg-type]


@pytest.mark.parametrize(("k1", "b"), [(-0.1, 0.75), (1.2, 1.5), (float("nan"), 0.75)])
def test_a_view_refuses_bad_parameters(k1: float, b: float) -> None:
    with pytest.raises(ValueError, match="k1"):
        LexicalSegments([], k1=k1, b=b)


SEGMENT_FILES = {"vocab.json", "params.json", "indptr.npy", "rows.npy", "tf.npy", "lengths.npy"}


@pytest.mark.parametrize("mmap", [False, True])
def test_save_and_load_round_trip(tmp_path: Path, mmap: bool) -> None:
    docs = [tokenize(t) for t in TEXTS] + random_corpus(np.random.default_rng(0), 1200)
    index = LexicalIndex.build(docs, k1=1.5, b=0.6)
    index.save(tmp_path / "nested" / "bm25")
    assert {p.name for p in (tmp_path / "nested" / "bm25").iterdir()} == SEGMENT_FILES
    loaded = LexicalIndex.load(tmp_path / "nested" / "bm25", mmap=mmap)
    assert (loaded.count, loaded.k1, loaded.b) == (index.count, 1.5, 0.6)
    for query in [tokenize("cat mat"), *QUERIES]:
        np.testing.assert_array_equal(loaded.scores(query), index.scores(query))
        assert loaded.idf(query) == index.idf(query)
        for got, expected in zip(loaded.search(query, 7), index.search(query, 7), strict=True):
            np.testing.assert_array_equal(got, expected)
    live = np.random.default_rng(1).random(index.count) > 0.5
    query = ["w1", "w2", "cat"]
    np.testing.assert_array_equal(
        LexicalSegments([LexicalPart(loaded, 0, live)]).scores(query),
        LexicalSegments([LexicalPart(index, 0, live)]).scores(query),
    )


def test_saved_files_are_plain_arrays_and_json(tmp_path: Path) -> None:
    LexicalIndex.build([["b", "a", "b"], [], ["a"]], k1=1.2, b=0.75).save(tmp_path)
    assert json.loads((tmp_path / "vocab.json").read_text()) == ["b", "a"]
    assert json.loads((tmp_path / "params.json").read_text()) == {"count": 3, "k1": 1.2, "b": 0.75}
    arrays = {
        name: np.load(tmp_path / f"{name}.npy", allow_pickle=False) for name in ("indptr", "rows", "tf", "lengths")
    }
    assert arrays["indptr"].dtype == np.int64 and arrays["indptr"].tolist() == [0, 1, 3]
    assert arrays["rows"].dtype == np.int32 and arrays["rows"].tolist() == [0, 0, 2]
    assert arrays["tf"].tolist() == [2, 1, 1]
    assert arrays["lengths"].dtype == np.int32 and arrays["lengths"].tolist() == [3, 0, 1]


def test_an_empty_segment_saves_and_loads(tmp_path: Path) -> None:
    LexicalIndex.build([]).save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert loaded.count == 0 and loaded.search(["a"], 3)[0].size == 0


def _write_array(name: str, transform: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        array = np.load(folder / f"{name}.npy", allow_pickle=False)
        np.save(folder / f"{name}.npy", transform(array), allow_pickle=False)

    return damage


def _write_text(name: str, text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text(text)


def _truncate(name: str, size: int) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path = folder / name
        path.write_bytes(path.read_bytes()[:size])

    return damage


DAMAGE = {
    "missing rows": lambda folder: (folder / "rows.npy").unlink(),
    "missing params": lambda folder: (folder / "params.json").unlink(),
    "missing vocabulary": lambda folder: (folder / "vocab.json").unlink(),
    "vocabulary not a list": _write_text("vocab.json", '{"cat": 0}'),
    "vocabulary not JSON": _write_text("vocab.json", '["cat", '),
    "vocabulary of numbers": _write_text("vocab.json", "[1, 2, 3]"),
    "params not a dict": _write_text("params.json", "[5, 1.2, 0.75]"),
    "params without k1": _write_text("params.json", '{"count": 5, "b": 0.75}'),
    "count not an integer": _write_text("params.json", '{"count": "5", "k1": 1.2, "b": 0.75}'),
    "count disagrees": _write_text("params.json", '{"count": 6, "k1": 1.2, "b": 0.75}'),
    "lengths too short": _write_array("lengths", lambda a: a[:-1]),
    "indptr too short": _write_array("indptr", lambda a: a[:-1]),
    "indptr decreasing": _write_array("indptr", lambda a: np.concatenate([a[:1], a[1:][::-1]])),
    "rows out of range": _write_array("rows", lambda a: a + 100),
    "tf too short": _write_array("tf", lambda a: a[:-1]),
    "rows of floats": _write_array("rows", lambda a: a.astype(np.float32)),
    "two-dimensional lengths": _write_array("lengths", lambda a: a.reshape(1, -1)),
    "empty array file": _truncate("tf.npy", 0),
    "truncated header": _truncate("indptr.npy", 20),
    "truncated data": _truncate("rows.npy", 130),
    "pickled objects": lambda folder: np.save(folder / "tf.npy", np.array([{}], dtype=object), allow_pickle=True),
}


@pytest.mark.parametrize("mmap", [False, True])
@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_folder_raises_value_or_os_error(tmp_path: Path, damage: Callable[[Path], None], mmap: bool) -> None:
    LexicalIndex.build([tokenize(t) for t in TEXTS]).save(tmp_path)
    damage(tmp_path)
    with pytest.raises((ValueError, OSError)):
        LexicalIndex.load(tmp_path, mmap=mmap)


def test_the_engine_needs_no_bm25_library_and_no_pickle() -> None:
    tree = ast.parse(Path(rag.index.lexical.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not {name.split(".")[0] for name in imported} & {"bm25s", "pickle", "scipy"}


def test_coverage_is_idf_weighted_share() -> None:
    weights = {"a": 1.0, "b": 3.0}
    assert coverage(weights, ["b", "x"]) == pytest.approx(0.75)
    assert coverage(weights, []) == 0.0
    assert coverage({}, ["a"]) == 0.0


def test_a_name_counts_once_and_is_present_when_a_part_is_mentioned_capitalised() -> None:
    from rag.text.words import capitalised_tokens, name_groups

    question = "Which companies did Li Qiang visit?"
    names = name_groups(question)
    assert names == [("li", "qiang")]
    weights = {"compani": 1.0, "li": 1.0, "qiang": 3.0, "visit": 1.0}
    surname_only = "Li's visits to companies"
    assert coverage(weights, tokenize(surname_only), names, capitalised_tokens(surname_only)) == 1.0
    assert coverage(weights, tokenize(surname_only)) == pytest.approx(3 / 6)
    lower_case = "they visited li companies"
    assert coverage(weights, tokenize(lower_case), names, capitalised_tokens(lower_case)) == pytest.approx(2 / 5)


_ROWS = [
    "Chip makers raised the chip fund.",
    "",
    "U.S. export rules; the court ruled on export rules.",
    "River city market.",
    "The fund grew, the market grew.",
]


def _same_segment(one: LexicalIndex, other: LexicalIndex) -> bool:
    arrays = ("_indptr", "_rows", "_tf", "_lengths")
    return list(one._columns) == list(other._columns) and all(
        np.array_equal(getattr(one, a), getattr(other, a)) and getattr(one, a).dtype == getattr(other, a).dtype
        for a in arrays
    )


def test_token_rows_hold_the_tokens_of_each_text() -> None:
    rows = TokenRows.of_texts(_ROWS)
    assert len(rows) == len(_ROWS)
    assert list(rows) == [tokenize(text) for text in _ROWS]
    assert rows.ids.dtype == np.int32 and len(rows.terms) == len({t for text in _ROWS for t in tokenize(text)})
    assert len(TokenRows.of_texts([])) == 0 and LexicalIndex.build(TokenRows.of_texts([])).count == 0


@pytest.mark.parametrize("groups", [[0, 0, 1, 1, 2], [2, 0, 1, 0, 2], [0, 1, 1, 1, 3]])
def test_token_rows_index_exactly_as_token_lists_do(groups: list[int]) -> None:
    lists = [tokenize(text) for text in _ROWS]
    assert _same_segment(LexicalIndex.build(TokenRows.of_texts(_ROWS)), LexicalIndex.build(lists))
    joined: list[list[str]] = [[] for _ in range(max(groups) + 1)]
    for tokens, group in zip(lists, groups, strict=True):
        joined[group].extend(tokens)
    grouped = TokenRows.of_texts(_ROWS).grouped(groups, len(joined))
    assert list(grouped) == joined
    assert _same_segment(LexicalIndex.build(grouped), LexicalIndex.build(joined))
