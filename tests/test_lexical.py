"""Text folding, tokens, BM25 ranking (checked by hand) and term coverage."""

import numpy as np
import pytest

from rag.lexical import LexicalIndex, coverage, fold, tokenize


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


def test_save_and_load_round_trip(tmp_path) -> None:
    index = LexicalIndex.build([tokenize(t) for t in TEXTS])
    index.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    np.testing.assert_allclose(loaded.scores(tokenize("cat mat")), index.scores(tokenize("cat mat")))
    assert loaded.idf(["cat"]) == pytest.approx(index.idf(["cat"]))


@pytest.mark.parametrize("count", [10, 1500])
def test_search_matches_argsort_reference(count: int) -> None:
    rng = np.random.default_rng(count)
    vocabulary = [f"w{i}" for i in range(60)]
    docs = [list(rng.choice(vocabulary, size=rng.integers(1, 12))) for _ in range(count)]
    index = LexicalIndex.build(docs)
    query = ["w1", "w7", "w33"]
    rows, scores = index.search(query, 10)
    all_scores = index.scores(query)
    positive = np.flatnonzero(all_scores > 0)
    reference = positive[np.argsort(-all_scores[positive], kind="stable")][:10]
    np.testing.assert_allclose(scores, all_scores[reference], rtol=1e-6)
    assert set(rows.tolist()) <= set(positive.tolist())


def test_coverage_is_idf_weighted_share() -> None:
    weights = {"a": 1.0, "b": 3.0}
    assert coverage(weights, ["b", "x"]) == pytest.approx(0.75)
    assert coverage(weights, []) == 0.0
    assert coverage({}, ["a"]) == 0.0


def test_a_name_counts_once_and_is_present_when_a_part_is_mentioned_capitalised() -> None:
    from rag.lexical import capitalised_tokens, name_groups

    question = "Which companies did Li Qiang visit?"
    names = name_groups(question)
    assert names == [("li", "qiang")]
    weights = {"compani": 1.0, "li": 1.0, "qiang": 3.0, "visit": 1.0}
    surname_only = "Li's visits to companies"
    assert coverage(weights, tokenize(surname_only), names, capitalised_tokens(surname_only)) == 1.0
    assert coverage(weights, tokenize(surname_only)) == pytest.approx(3 / 6)
    lower_case = "they visited li companies"
    assert coverage(weights, tokenize(lower_case), names, capitalised_tokens(lower_case)) == pytest.approx(2 / 5)
