"""The yardsticks of benchmarks/real.py: what decides whether a change lands must itself be right.

``faithful`` says which human paraphrases lookup must support (the data README's "the same numbers
and the same names"); ``auroc`` and the gold checks turn each run's citations into its figures.
These read no data set and build no index.
"""

from __future__ import annotations

import pytest

from benchmarks.real import _holds, _overlaps, auroc, faithful, faithful_before, numbers_in, word_usage


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("three others were hurt", {"3"}),
        ("twenty-five people", {"25"}),
        ("the fifth and the 5th", {"5"}),
        ("sales of $36.9bn", {"36.9", "billion"}),
        ("1,200 jobs in 2004.", {"1200", "2004"}),
        ("one million and 1 million", {"1", "million"}),
        ("at first, a second look", set()),  # a sequence or a time, not a number
    ],
)
def test_numbers_are_read_in_digits_and_words(text: str, numbers: set[str]) -> None:
    assert numbers_in(text) == numbers


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        # A number word and its digits are the same number; another number is not.
        ("Three others were injured in the blast.", "3 others were injured in the blast.", True),
        ("Three others were injured in the blast.", "Four others were injured in the blast.", False),
        # A name that opens one side only: "Taylor" is never written in lower case, so it is a name.
        ("Taylor's aides declined to comment.", "His aides declined to comment.", False),
        # The same names, in another order and with other words around them.
        ("Shares of Microsoft rose after Gates spoke.", "Gates spoke and Microsoft shares rose.", True),
        # A capital that only opens the sentence names nobody: "The" is written in lower case too.
        ("The company said the deal closed.", "The firm said the deal was closed.", True),
        # Another name in the same place is not faithful.
        ("Texas has the most members.", "Oklahoma has the most members.", False),
    ],
)
def test_faithful_means_the_same_numbers_and_names(first: str, second: str, expected: bool) -> None:
    assert faithful(first, second) is expected
    assert faithful(second, first) is expected  # a pair is faithful both ways or neither


def test_a_word_capitalised_mid_sentence_elsewhere_in_the_data_is_a_name_when_it_opens_one() -> None:
    usage = word_usage(["He met Moose at noon.", "Moose was there.", "A moose crossed the road."])
    # "Moose" is capitalised mid-sentence in as many texts as it is written in lower case: a name.
    assert not faithful("Moose said no.", "The chief said no.", usage)
    # "Police" is written in lower case far more often: opening a sentence it names nobody.
    usage = word_usage(["The police came.", "Local police said so.", "police work", "Police said it.", "officers"])
    assert faithful("Police said no.", "Officers said no.", usage)
    # A word the data never writes in lower case is taken for a name ("Officers" here).
    assert not faithful("Police said no.", "Officers said no.", word_usage(["The police came."]))


def test_the_old_definition_differs_where_the_new_one_was_made_to() -> None:
    # The definition before this release compared digits only: "three" and "four" looked the same.
    assert faithful_before("Three others were hurt.", "Four others were hurt.")
    assert not faithful("Three others were hurt.", "Four others were hurt.")


def test_auroc_counts_ordered_pairs_and_half_a_tie() -> None:
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1], [0.9]) == 0.0
    assert auroc([0.5], [0.5]) == 0.5
    assert auroc([0.9, 0.3], [0.5]) == 0.5
    assert auroc([], [0.5]) != auroc([], [0.5])  # nan: nothing to compare


def test_a_top_candidate_is_right_only_inside_the_gold_of_its_own_document() -> None:
    top = ("a.txt", 10, 60, "...")
    assert _holds(top, "a.txt", [(20, 30)])  # the sentence holds the answer span
    assert not _holds(top, "b.txt", [(20, 30)])  # the same span of another document
    assert not _holds(top, "a.txt", [(50, 70)])  # the answer runs past the sentence
    assert _overlaps(top, [("a.txt", 55, 90)])
    assert not _overlaps(top, [("a.txt", 60, 90)])  # touching is not overlapping
    assert not _overlaps(top, [("b.txt", 0, 100)])
    assert not _holds((), "a.txt", [(20, 30)]) and not _overlaps((), [("a.txt", 0, 9)])
