"""Tests for rag.text.sentences: paragraph and sentence spans with exact offsets."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.text.sentences import sentence_spans, split_paragraphs, split_sentences
from rag.types import Sentence
from tests.helpers import assert_offsets

SEED_ARTICLE = Path(__file__).resolve().parents[1] / "corpus" / "seed-article.md"
SYMPOSIUM = (
    "During a recent symposium following visits to three “little giants”—small to "
    "medium-sized high-tech companies in strategically significant sectors—Premier Li "
    "underscored that “innovation serves as the soul” of these enterprises."
)


def sentences_of(text: str) -> list[str]:
    """Split ``text``, check every offset, and return the sentence texts."""
    sentences = split_sentences(text, doc_id="doc.txt")
    assert_offsets(text, sentences)
    return [sentence.text for sentence in sentences]


def seed_article() -> str:
    """The seed article's body, without the front matter the ingester strips."""
    text = SEED_ARTICLE.read_text(encoding="utf-8")
    if text.startswith("---\n"):
        text = text.split("\n---\n", 1)[1]
    return text


# --- the seed article ---------------------------------------------------------------


def test_seed_article_splits_into_its_22_sentences() -> None:
    text = seed_article()
    sentences = split_sentences(text, doc_id="seed-article.txt")
    assert_offsets(text, sentences)
    assert len(sentences) == 22
    texts = [sentence.text for sentence in sentences]
    assert texts[0].startswith("China is intensifying its efforts")
    assert texts[1] == (
        "Amid ongoing U.S. sanctions targeting advanced technologies, the Chinese "
        "mainland is responding by bolstering innovation and investing heavily in its "
        "semiconductor industry."
    )
    assert texts[6] == (
        "In response, China is launching a new state-backed investment fund aiming to "
        "raise over $40 billion for its semiconductor sector, according to Reuters."
    )
    assert texts[11] == SYMPOSIUM
    assert texts[15] == "China’s push for technological self-reliance is not a new endeavor."
    assert texts[-2:] == ["Reference(s):", "cgtn.com"]
    assert [s.position for s in sentences] == list(range(22))
    assert [s.paragraph for s in sentences] == [0, 0, 1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 7, 8, 8, 9, 10]
    assert {s.doc_id for s in sentences} == {"seed-article.txt"}


# --- empty and unpunctuated text ----------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n\n", " \t\r\n ", "\xa0\u2003"])
def test_blank_text_has_no_sentences(text: str) -> None:
    assert split_sentences(text) == []
    assert sentence_spans(text) == []
    assert split_paragraphs(text) == []


def test_one_line_without_final_punctuation_is_one_sentence() -> None:
    text = "  a line with no final punctuation at all  "
    assert sentences_of(text) == ["a line with no final punctuation at all"]


# --- paragraphs -----------------------------------------------------------------------


def test_blank_lines_separate_paragraphs() -> None:
    text = "First paragraph, one sentence.\n\n\n  \nSecond one.\r\n\r\nThird one"
    sentences = split_sentences(text)
    assert_offsets(text, sentences)
    assert [(s.paragraph, s.text) for s in sentences] == [
        (0, "First paragraph, one sentence."),
        (1, "Second one."),
        (2, "Third one"),
    ]
    assert [text[s:e] for s, e in split_paragraphs(text)] == [
        "First paragraph, one sentence.",
        "Second one.",
        "Third one",
    ]


def test_paragraph_break_ends_a_sentence_without_punctuation() -> None:
    text = "a heading with no stop\n\nand a paragraph that starts in lowercase"
    assert sentences_of(text) == [
        "a heading with no stop",
        "and a paragraph that starts in lowercase",
    ]


@pytest.mark.parametrize(
    "first_line",
    [
        "It ended here.",
        "Did it end?",
        "It ended!",
        "It ended…",
        "The reasons were as follows:",
        "He said “it ended.”",
        "He said 'it ended.'",
        "It ended (for now.)",
    ],
)
def test_single_newline_after_final_punctuation_separates_paragraphs(
    first_line: str,
) -> None:
    text = f"{first_line}\nThe next paragraph starts here."
    sentences = split_sentences(text)
    assert_offsets(text, sentences)
    assert [(s.paragraph, s.text) for s in sentences] == [
        (0, first_line),
        (1, "The next paragraph starts here."),
    ]


def test_single_newline_after_a_full_stop_separates_paragraphs_before_lowercase() -> None:
    text = "Sales of the phone fell.\niPhone sales rose."
    sentences = split_sentences(text)
    assert_offsets(text, sentences)
    assert [(s.paragraph, s.text) for s in sentences] == [(0, "Sales of the phone fell."), (1, "iPhone sales rose.")]


def test_hard_wrapped_lines_join_into_one_sentence() -> None:
    text = (
        "The committee published its report on the state of the semiconductor\n"
        "industry on Monday, and it called for more\n"
        "funding. A second sentence follows on the\n"
        "same paragraph."
    )
    sentences = split_sentences(text)
    assert_offsets(text, sentences)
    assert [s.text for s in sentences] == [
        "The committee published its report on the state of the semiconductor\n"
        "industry on Monday, and it called for more\nfunding.",
        "A second sentence follows on the\nsame paragraph.",
    ]
    assert {s.paragraph for s in sentences} == {0}
    assert len(split_paragraphs(text)) == 1


@pytest.mark.parametrize(
    "text",
    [
        "Sanctions imposed by the U.S.\nsanctions office hurt exports.",
        "The meeting was chaired by Dr.\nSmith of the Academy.",
        "Founded by George W.\nBush and others in the region.",
    ],
)
def test_line_ending_in_an_abbreviation_is_a_hard_wrap(text: str) -> None:
    assert sentences_of(text) == [text]


def test_wrapped_line_before_a_capitalised_word_joins_when_the_word_did_not_fit() -> None:
    # Wrapped at 40 columns: "Congress" would not have fitted on the first line.
    text = "The bill was passed by a large margin in\nCongress on Monday night."
    assert sentences_of(text) == [text]
    assert len(split_paragraphs(text)) == 1


def test_short_title_line_before_a_capitalised_line_is_its_own_paragraph() -> None:
    text = "China boosts tech self-reliance\nChina is intensifying its efforts to achieve technological self-reliance."
    sentences = split_sentences(text)
    assert_offsets(text, sentences)
    assert [(s.paragraph, s.text) for s in sentences] == [
        (0, "China boosts tech self-reliance"),
        (1, "China is intensifying its efforts to achieve technological self-reliance."),
    ]


# --- headings and list items -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "# Title\nBody text here. More body.",
            ["# Title", "Body text here.", "More body."],
        ),
        (
            "Title\n\nBody text here. More body.",
            ["Title", "Body text here.", "More body."],
        ),
        ("Reference(s):\ncgtn.com", ["Reference(s):", "cgtn.com"]),
        (
            "Shopping list:\n- item one\n- item two\n* item three\n+ item four",
            ["Shopping list:", "- item one", "- item two", "* item three", "+ item four"],
        ),
        (
            "Steps\n1. open the box\n2. take it out\n3) plug it in",
            ["Steps", "1. open the box", "2. take it out", "3) plug it in"],
        ),
        ("## Results\n• first\n• second", ["## Results", "• first", "• second"]),
    ],
)
def test_headings_and_list_items_are_sentences_of_their_own(text: str, expected: list[str]) -> None:
    assert sentences_of(text) == expected


def test_list_item_marker_does_not_end_a_sentence() -> None:
    assert sentences_of("1. Buy milk. Then go home.") == ["1. Buy milk.", "Then go home."]


def test_horizontal_rule_is_its_own_paragraph() -> None:
    assert sentences_of("Title\n=====\nSome text here") == ["Title", "=====", "Some text here"]


# --- abbreviations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Amid ongoing U.S. sanctions, the U.K. and the U.N. met the E.U. in Geneva.",
        "Mr. Smith, Mrs. Jones, Ms. Lee, Dr. Brown and Prof. White arrived.",
        "Sen. Warren, Gov. Newsom and Gen. Milley spoke on St. Patrick's Day.",
        "Martin Luther King Jr. and Frank Sinatra Sr. were born in January.",
        "The team ranked No. 3 in the poll.",
        "Apple Inc. and Acme Ltd. and Big Corp. and Smith & Co. merged.",
        "It was Brazil vs. Argentina in Roe v. Wade style.",
        "They bought apples, pears, etc. and took them home.",
        "Fruit, e.g. apples, and vegetables, i.e. carrots, are healthy.",
        "It happened on Jan. 5 and again on Feb. 12 and Sept. 3 last year.",
        "The train leaves at 9 a.m. and comes back at 5 p.m. on weekdays.",
        "J. K. Rowling met George W. Bush at the event.",
        "Smith et al. reported the result.",
    ],
)
def test_abbreviations_do_not_end_sentences(sentence: str) -> None:
    text = f"{sentence} The next sentence follows."
    assert sentences_of(text) == [sentence, "The next sentence follows."]


def test_us_followed_by_a_lowercase_word_does_not_end_the_sentence() -> None:
    text = "U.S. sanctions have posed challenges. Restrictions followed."
    assert sentences_of(text) == ["U.S. sanctions have posed challenges.", "Restrictions followed."]


@pytest.mark.parametrize("starter", ["The", "This", "It", "He", "She", "They", "We", "In", "But"])
def test_us_followed_by_a_sentence_starter_ends_the_sentence(starter: str) -> None:
    text = f"They moved to the U.S. {starter} next year was hard."
    assert sentences_of(text) == ["They moved to the U.S.", f"{starter} next year was hard."]


def test_us_followed_by_another_capitalised_word_does_not_end_the_sentence() -> None:
    text = "The U.S. Congress passed the bill. It was signed."
    assert sentences_of(text) == ["The U.S. Congress passed the bill.", "It was signed."]


def test_ambiguous_abbreviation_before_a_starter_ends_the_sentence() -> None:
    text = "He founded Acme Inc. The company grew. They sold fruit, nuts, etc. It sold well."
    assert sentences_of(text) == [
        "He founded Acme Inc.",
        "The company grew.",
        "They sold fruit, nuts, etc.",
        "It sold well.",
    ]


def test_no_without_a_number_is_a_word() -> None:
    assert sentences_of("Did it work? No. The test failed.") == [
        "Did it work?",
        "No.",
        "The test failed.",
    ]


# --- numbers and money -----------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "The fund aims to raise over $40 billion for the sector.",
        "Growth slowed to 3.5% in the second quarter.",
        "About 1.5 million people live there.",
        "The release of v2.0 and version 3.10.4 fixed it.",
        "Pi is about 3.14159 and e is about 2.718.",
        "Prices rose by $3.50 to $1,234.56 on Monday.",
    ],
)
def test_numbers_and_money_never_split(sentence: str) -> None:
    text = f"{sentence} Then it ended."
    assert sentences_of(text) == [sentence, "Then it ended."]


def test_number_at_the_end_of_a_sentence_ends_it() -> None:
    text = "The fund was set up in 2014. 2019 saw a second one."
    assert sentences_of(text) == ["The fund was set up in 2014.", "2019 saw a second one."]


# --- quotes and dashes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "He said “innovation serves as the soul.” Then he left.",
            ["He said “innovation serves as the soul.”", "Then he left."],
        ),
        (
            'He said "innovation serves as the soul." Then he left.',
            ['He said "innovation serves as the soul."', "Then he left."],
        ),
        (
            "He said ‘it is done.’ Then he left.",
            ["He said ‘it is done.’", "Then he left."],
        ),
        (
            "He said 'it is done!' Then he left.",
            ["He said 'it is done!'", "Then he left."],
        ),
        ("“Why?” he asked. “Because!” she said.", ["“Why?” he asked.", "“Because!” she said."]),
        (
            "He called it “done.” and left the room.",
            ["He called it “done.” and left the room."],
        ),
    ],
)
def test_closing_quotes_stay_with_their_sentence(text: str, expected: list[str]) -> None:
    assert sentences_of(text) == expected


def test_seed_sentence_with_quotes_and_em_dashes_is_one_sentence() -> None:
    text = f"{SYMPOSIUM} He called for more targeted and effective policies."
    assert sentences_of(text) == [SYMPOSIUM, "He called for more targeted and effective policies."]


@pytest.mark.parametrize("dash", ["—", " — ", "–", " - ", "--"])
def test_dashes_inside_a_sentence_never_split(dash: str) -> None:
    text = f"Small firms{dash}the little giants{dash}lead. Others follow."
    assert sentences_of(text) == [f"Small firms{dash}the little giants{dash}lead.", "Others follow."]


# --- ellipses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wait... what? I see.", ["Wait... what?", "I see."]),
        ("Wait... What? I see.", ["Wait...", "What?", "I see."]),
        ("Wait… what? I see.", ["Wait… what?", "I see."]),
        ("Wait… What? I see.", ["Wait…", "What?", "I see."]),
        ("Wait . . . what? I see.", ["Wait . . . what?", "I see."]),
        ("It rose to 5... 6 and then 7.", ["It rose to 5... 6 and then 7."]),
    ],
)
def test_ellipsis_ends_a_sentence_only_before_a_capital(text: str, expected: list[str]) -> None:
    assert sentences_of(text) == expected


# --- question and exclamation marks, brackets -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Is it true? Yes. It is!", ["Is it true?", "Yes.", "It is!"]),
        ("Really?! Yes!! Wow.", ["Really?!", "Yes!!", "Wow."]),
        ("He left (finally!) Then we ate.", ["He left (finally!)", "Then we ate."]),
        ("(Was it true?) Nobody knew.", ["(Was it true?)", "Nobody knew."]),
        ("See the note [in the appendix.] Then read on.", ["See the note [in the appendix.]", "Then read on."]),
        ("It was done (see above.) and we moved on.", ["It was done (see above.) and we moved on."]),
    ],
)
def test_question_and_exclamation_marks_and_closing_brackets(text: str, expected: list[str]) -> None:
    assert sentences_of(text) == expected


# --- extraction artifacts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The force is weak.[12][13] The next one is strong.[Note 4]",
            ["The force is weak.[12][13]", "The next one is strong.[Note 4]"],
        ),
        (
            "They are: strong and weak.:2–10:79 High energy matters.",
            ["They are: strong and weak.:2–10:79", "High energy matters."],
        ),
        (
            "It checks the address (as well).Cisco talks to it.",
            ["It checks the address (as well).", "Cisco talks to it."],
        ),
        ("Visit cgtn.com or U.S.-origin parts.", ["Visit cgtn.com or U.S.-origin parts."]),
    ],
)
def test_footnotes_and_glued_sentences(text: str, expected: list[str]) -> None:
    assert sentences_of(text) == expected


# --- line endings and unusual whitespace ---------------------------------------------------


def test_windows_line_endings_keep_offsets_into_the_original() -> None:
    text = "First line.\r\nSecond line.\r\n\r\nNew paragraph one. Two\r\n"
    sentences = split_sentences(text)
    assert_offsets(text, sentences)
    assert [(s.paragraph, s.text) for s in sentences] == [
        (0, "First line."),
        (1, "Second line."),
        (2, "New paragraph one."),
        (2, "Two"),
    ]


def test_non_breaking_and_unicode_spaces_separate_sentences() -> None:
    text = "\xa0It\xa0ended.\xa0Then\u2009it began again.\u3000Done.\xa0"
    assert sentences_of(text) == ["It\xa0ended.", "Then\u2009it began again.", "Done."]


def test_old_mac_line_endings_and_form_feeds_are_line_breaks() -> None:
    text = "Page one ends here.\x0cPage two starts.\rThird line."
    assert sentences_of(text) == ["Page one ends here.", "Page two starts.", "Third line."]


# --- API consistency -----------------------------------------------------------------------


def test_sentence_spans_match_split_sentences() -> None:
    text = "One. Two?\n\nThree!\n- four\nFive and\nsix."
    sentences = split_sentences(text, doc_id="a/b.md")
    assert_offsets(text, sentences)
    assert sentence_spans(text) == [(s.start, s.end) for s in sentences]
    assert all(isinstance(s, Sentence) and s.doc_id == "a/b.md" for s in sentences)
    assert [s.paragraph for s in sentences] == [0, 0, 1, 2, 3]


# --- properties ------------------------------------------------------------------------------

TRICKY_PIECES = [
    "U.S.",
    "U.K.",
    "Dr.",
    "Mr.",
    "No.",
    "3",
    "$3.5",
    "3.5%",
    "v2.0",
    "e.g.",
    "etc.",
    "...",
    "…",
    ". . .",
    "“",
    "”",
    '"',
    "'",
    "’",
    "—",
    "-",
    "?!",
    "!!",
    "?",
    "!",
    ".",
    ":",
    "(",
    ")",
    "[1]",
    "#",
    "- ",
    "1. ",
    "\n",
    "\n\n",
    "\r\n",
    "\xa0",
    " ",
    "  ",
    "\t",
    "word",
    "words",
    "the",
    "said",
    "The",
    "It",
    "He",
    "China",
    "Li",
    "A",
    "J.",
    "cgtn.com",
    "well).Cisco",
]
tricky_text = st.lists(st.sampled_from(TRICKY_PIECES), max_size=60).map(
    lambda pieces: " ".join(pieces) if len(pieces) % 2 else "".join(pieces)
)
any_text = st.one_of(tricky_text, st.text(max_size=300))


def assert_well_formed_spans(text: str, spans: list[tuple[int, int]]) -> None:
    """Ordered, non-overlapping, trimmed, non-empty, covering every non-space."""
    covered = [False] * len(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text), (spans, text)
        assert not text[start].isspace() and not text[end - 1].isspace(), (start, end)
        covered[start:end] = [True] * (end - start)
        previous_end = end
    uncovered = [i for i, char in enumerate(text) if not char.isspace() and not covered[i]]
    assert not uncovered, f"characters {uncovered} of {text!r} are in no span"


@settings(max_examples=400)
@given(any_text)
def test_sentences_cover_the_text_in_order_without_overlap(text: str) -> None:
    sentences = split_sentences(text, doc_id="x")
    assert_offsets(text, sentences)
    assert_well_formed_spans(text, [(s.start, s.end) for s in sentences])
    assert [s.position for s in sentences] == list(range(len(sentences)))
    assert sentence_spans(text) == [(s.start, s.end) for s in sentences]


@settings(max_examples=400)
@given(any_text)
def test_every_sentence_lies_inside_its_paragraph(text: str) -> None:
    paragraphs = split_paragraphs(text)
    assert_well_formed_spans(text, paragraphs)
    sentences = split_sentences(text)
    assert {s.paragraph for s in sentences} == set(range(len(paragraphs)))
    for sentence in sentences:
        start, end = paragraphs[sentence.paragraph]
        assert start <= sentence.start and sentence.end <= end


@settings(max_examples=200)
@given(tricky_text)
def test_windows_line_endings_split_like_unix_ones(text: str) -> None:
    unix = text.replace("\r\n", "\n")
    windows = unix.replace("\n", "\r\n")
    assert [s.text.replace("\r\n", "\n") for s in split_sentences(windows)] == [s.text for s in split_sentences(unix)]
