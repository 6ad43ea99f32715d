"""Lookup kinds: exact, near-exact, paraphrase and unsupported, with exact spans."""

import unicodedata

from rag.answer.lookup import find_exact, find_near_exact, match_sentence
from rag.answer.select import Candidate
from rag.types import Citation
from tests.helpers import assert_offsets

TEXT = "Intro line here. Premier Li underscored that “innovation serves as the soul” of these enterprises. End."


def _candidate(score: float = 0.8) -> Candidate:
    start, end = 17, 99
    citation = Citation(
        text=TEXT[start:end], doc_id="seed.md", title="Seed", source="cgtn.com", start=start, end=end,
        score=score, context=TEXT, context_start=0,
    )  # fmt: skip
    return Candidate(citation, 0, 1, 1)


def test_find_exact_and_near_exact_spans() -> None:
    assert find_exact("serves as the soul", TEXT) == (TEXT.index("serves"), TEXT.index("serves") + 18)
    assert find_exact("Serves as the soul", TEXT) is None
    span = find_near_exact('INNOVATION "serves" as the   soul', TEXT)
    assert TEXT[span[0] : span[1]] == "innovation serves as the soul"


def test_near_exact_finds_words_folded_however_the_text_writes_them() -> None:
    # The folded-text check that rules candidates out first must fold as the words are folded:
    # accents written decomposed, a full-width letter (NFKC), "ß" folded to "ss".
    text = "Yesterday THE STRASSE by Mo\u0308ngke's \uff21rchive closed, they said."
    span = find_near_exact("the Straße by Möngke's Archive closed", text)
    assert span is not None and text[span[0] : span[1]] == "THE STRASSE by Mo\u0308ngke's \uff21rchive closed"
    assert find_near_exact("the Straße by Möngke's Archive opened", text) is None


def test_exact_match_cites_the_very_span() -> None:
    query = "innovation serves as the soul"
    match = match_sentence(query, 0, [_candidate()], paraphrase_threshold=0.5)
    assert match.kind == "exact" and match.score == 1.0
    assert match.citation.text == query
    assert_offsets(TEXT, [match.citation])


def test_near_exact_match_up_to_case_and_quotes() -> None:
    query = 'Premier Li underscored that "Innovation serves as the soul" of these enterprises.'
    match = match_sentence(query, 5, [_candidate()], paraphrase_threshold=0.5)
    assert match.kind == "near-exact"
    assert match.citation.text.startswith("Premier Li") and match.citation.text.endswith("enterprises")
    assert (match.query_start, match.query_end) == (5, 5 + len(query))
    assert_offsets(TEXT, [match.citation])


def test_paraphrase_above_threshold_and_unsupported_below() -> None:
    query = "Innovation is the soul of these companies."
    assert match_sentence(query, 0, [_candidate(0.7)], paraphrase_threshold=0.5).kind == "paraphrase"
    weak = match_sentence(query, 0, [_candidate(0.3)], paraphrase_threshold=0.5)
    assert weak.kind == "unsupported" and weak.citation is None
    assert weak.nearest is not None and weak.score == 0.3
    assert_offsets(TEXT, [weak.nearest, match_sentence(query, 0, [_candidate(0.7)], paraphrase_threshold=0.5).citation])
    assert match_sentence(query, 0, [], paraphrase_threshold=0.5).kind == "unsupported"


def test_a_changed_number_is_not_a_paraphrase() -> None:
    text = "The fund aims to raise over $40 billion for chips."
    citation = Citation(text=text, doc_id="d.md", title="D", source="", start=0, end=len(text), score=0.8)
    candidate = Candidate(citation, 0, 0, 0)
    changed = match_sentence("The fund will raise $90 billion.", 0, [candidate], paraphrase_threshold=0.5)
    assert changed.kind == "altered"
    assert [(d.kind, d.claim_text, d.source_text) for d in changed.differences] == [
        ("number", "$90 billion", "$40 billion")
    ]
    assert (
        match_sentence("The fund will raise 40 billion.", 0, [candidate], paraphrase_threshold=0.5).kind == "paraphrase"
    )


HEDGED = (
    "Officials praised the plan. There is no evidence that the fund will end corruption in the sector. "
    "The fund raised $40 billion."
)


def _hedged_candidate(sentence: str, score: float = 0.9) -> Candidate:
    start = HEDGED.index(sentence)
    citation = Citation(
        text=sentence, doc_id="h.md", title="H", source="", start=start, end=start + len(sentence),
        score=score, context=HEDGED, context_start=0,
    )  # fmt: skip
    return Candidate(citation, 0, 1, 1)


def test_an_exact_quote_lifted_from_a_hedge_is_altered_with_a_context_difference() -> None:
    candidate = _hedged_candidate("There is no evidence that the fund will end corruption in the sector.")
    for quote in ("the fund will end corruption in the sector", "The fund will end corruption in the sector."):
        match = match_sentence(quote, 4, [candidate], paraphrase_threshold=0.5)
        assert match.kind == "altered", quote
        (difference,) = match.differences
        assert (difference.kind, difference.source_text) == ("context", "There is no evidence that")
        assert HEDGED[difference.source_start : difference.source_end] == difference.source_text
        assert (difference.claim_start, difference.claim_end) == (4, 4 + len(quote))
        assert match.reason == "quoted out of context: the source says *There is no evidence that* \u2026"
        assert match.citation.text.lower().startswith("the fund will end corruption")
        assert_offsets(HEDGED, [match.citation])


def test_faithful_quotes_stay_exact_or_near_exact() -> None:
    whole = "There is no evidence that the fund will end corruption in the sector."
    candidates = [_hedged_candidate(whole), _hedged_candidate("The fund raised $40 billion.", 0.6)]
    assert match_sentence(whole, 0, candidates, paraphrase_threshold=0.5).kind == "exact"
    assert match_sentence(whole.upper(), 0, candidates, paraphrase_threshold=0.5).kind == "near-exact"
    plain = match_sentence("The fund raised $40 billion.", 0, candidates, paraphrase_threshold=0.5)
    assert plain.kind == "exact" and plain.reason == "the sentence occurs verbatim in the source"
    assert match_sentence("fund raised $40 billion", 0, candidates, paraphrase_threshold=0.5).kind == "exact"


def test_a_claim_merging_two_adjacent_sentences_is_aligned_with_both() -> None:
    text = "Officials praised the plan. The fund raised $40 billion."
    citation = Citation(text=text[28:], doc_id="t.md", title="T", source="", start=28, end=len(text), score=0.7,
                        context=text, context_start=0)  # fmt: skip
    claim = "Officials praised the plan and the fund raised $40 billion."
    match = match_sentence(claim, 0, [Candidate(citation, 0, 1, 1)], paraphrase_threshold=0.5)
    assert match.kind == "paraphrase" and match.citation.text == text
    assert_offsets(text, [match.citation])
    changed = match_sentence(claim.replace("$40", "$50"), 0, [Candidate(citation, 0, 1, 1)], paraphrase_threshold=0.5)
    assert changed.kind == "altered" and changed.citation.text == text
    assert [(d.kind, d.claim_text, d.source_text) for d in changed.differences] == [
        ("number", "$50 billion", "$40 billion")
    ]


def test_every_match_says_why() -> None:
    for query in ("innovation serves as the soul", "Innovation is the soul of these companies.", "The moon."):
        for score in (0.2, 0.8):
            assert match_sentence(query, 0, [_candidate(score)], paraphrase_threshold=0.5).reason
    assert match_sentence("x", 0, [], paraphrase_threshold=0.5).reason == "the index holds no sentence near it"


def test_a_verbatim_quote_of_a_decomposed_source_is_exact() -> None:
    text = unicodedata.normalize("NFD", "Intro. Möngke Khan ruled the Mongol Empire from Karakorum. End.")
    citation = Citation(text=text[7:-5], doc_id="m.md", title="M", source="", start=7, end=len(text) - 5, score=0.9,
                        context=text, context_start=0)  # fmt: skip
    quote = "Möngke Khan ruled the Mongol Empire from Karakorum."  # typed composed (NFC)
    match = match_sentence(quote, 0, [Candidate(citation, 0, 1, 1)], paraphrase_threshold=0.5)
    assert match.kind == "exact" and match.citation.text == text[7:-5]
    assert_offsets(text, [match.citation])
    near = match_sentence(
        "möngke khan RULED the mongol empire", 0, [Candidate(citation, 0, 1, 1)], paraphrase_threshold=0.5
    )
    assert near.kind == "near-exact" and near.citation.text == text[7 : text.index(" from")]
    assert_offsets(text, [near.citation])


def test_an_altered_match_says_whether_it_says_something_else_or_adds_a_detail() -> None:
    text = "The fund aims to raise over $40 billion for chips, Reuters reported."
    citation = Citation(text=text, doc_id="d.md", title="D", source="", start=0, end=len(text), score=0.8)
    candidate = Candidate(citation, 0, 0, 0)
    changed = match_sentence("The fund aims to raise $90 billion for chips.", 0, [candidate], paraphrase_threshold=0.5)
    assert (changed.kind, changed.verdict) == ("altered", "says something else")
    assert [d.change for d in changed.differences] == ["replaced"]
    added = match_sentence(
        "The fund aims to raise over $40 billion for chips from Tencent, Reuters reported.",
        0, [candidate], paraphrase_threshold=0.5, corpus_terms=frozenset({"tencent"}),
    )  # fmt: skip
    assert (added.kind, added.verdict) == ("altered", "adds a detail"), added.reason
    assert [(d.kind, d.claim_text, d.change) for d in added.differences] == [("name", "Tencent", "added")]
    assert match_sentence("The fund will raise 40 billion.", 0, [candidate], paraphrase_threshold=0.5).verdict == ""


def _sentence(text: str, doc_id: str, score: float) -> Candidate:
    citation = Citation(text=text, doc_id=doc_id, title=doc_id, source="", start=0, end=len(text), score=score,
                        context=text, context_start=0)  # fmt: skip
    return Candidate(citation, 0, 0, 0)


def test_a_source_stating_every_amount_of_the_claim_is_aligned_though_it_shares_fewer_words() -> None:
    own = _sentence("The Nasdaq composite held on to the slimmest of gains, up 4.64 at 1,735.34.", "a.md", 0.66)
    other = _sentence("The Nasdaq Composite Index gained 13.73 points to finish at 1,700.34.", "b.md", 0.53)
    claim = "However, the Nasdaq composite index managed to eke out a gain of 4.64 points at 1,735.34."
    match = match_sentence(claim, 0, [own, other], paraphrase_threshold=0.4)
    assert (match.kind, match.citation.doc_id) == ("paraphrase", "a.md"), match.reason
    assert_offsets(own.citation.text, [match.citation])  # each document here is its one sentence
    # A claim changing an amount is still altered against the sentence it was taken from.
    changed = match_sentence(claim.replace("4.64", "4.94"), 0, [own, other], paraphrase_threshold=0.4)
    assert changed.kind == "altered"
    assert changed.citation is not None
    cited = {"a.md": own, "b.md": other}[changed.citation.doc_id].citation.text
    assert_offsets(cited, [changed.citation])
    assert [(d.claim_text, d.source_text) for d in changed.differences][:1] in (
        [("4.94", "4.64")], [("4.94", "13.73")]
    )  # fmt: skip


def test_a_claim_naming_whom_a_better_scored_source_names_is_about_that_source() -> None:
    own = _sentence('"In return we expect North Korea to give up nuclear weapons."', "a.md", 0.55)
    other = _sentence(
        "The contact between the delegations ended a drought between two nations at odds over the nuclear "
        "weapons program, which both sides were required to end in exchange for aid.", "b.md", 0.42,
    )  # fmt: skip
    claim = "In exchange, North Korea would be required to end its nuclear weapons program."
    match = match_sentence(claim, 0, [own, other], paraphrase_threshold=0.4)
    assert (match.kind, match.citation.doc_id) == ("paraphrase", "a.md"), match.reason
    assert_offsets(own.citation.text, [match.citation])
    # A name the better-scored source does not hold either (a name of the corpus): still altered.
    iran = claim.replace("North Korea", "Iran")
    swapped = match_sentence(iran, 0, [own, other], paraphrase_threshold=0.4, corpus_terms=frozenset({"iran"}))
    assert swapped.kind == "altered", swapped.reason
    assert [(d.kind, d.claim_text) for d in swapped.differences] == [("name", "Iran")]


def test_a_name_a_pronoun_of_the_source_refers_to_is_no_detail_added() -> None:
    text = (
        "An unrelated paragraph names Senator Smith.\n\nGovernor Taylor met the board on Monday. "
        "The meeting ran long. His aides said the plan would go ahead."
    )
    start = text.index("His aides")
    citation = Citation(text=text[start:], doc_id="t.md", title="T", source="", start=start, end=len(text),
                        score=0.8, context=text[start:], context_start=start)  # fmt: skip
    candidate = Candidate(citation, 1, 2, 2)

    def read(doc_id: str, a: int, b: int) -> str:
        return text[a:b]

    def looked_up(claim: str) -> tuple[str, str]:
        terms = frozenset({"taylor", "smith"})
        match = match_sentence(claim, 0, [candidate], paraphrase_threshold=0.4, corpus_terms=terms, read=read)
        assert_offsets(text, [match.citation])
        return match.kind, match.verdict

    # Taylor is named in the sentences before the passage, in the same paragraph: "His" is Taylor.
    assert looked_up("Taylor's aides said the plan would go ahead.") == ("paraphrase", "")
    # Smith is named only in another paragraph: the claim adds a detail the source does not state.
    assert looked_up("Smith's aides said the plan would go ahead.") == ("altered", "adds a detail")


# --- end to end, the real packaged model on the seed article ---------------------------------


def test_the_guides_negated_claim_is_not_supported(real_index) -> None:
    claim = (
        "Li's visits to Huawei and BYD do not send a clear message about the government's "
        "commitment to technological advancement."
    )
    (match,) = real_index.lookup(claim)
    assert match.kind == "altered", match.reason
    assert [(d.kind, d.claim_text, d.source_text) for d in match.differences] == [("negation", "not", "")]
    assert "Huawei and BYD send a clear message" in match.citation.text


def test_altered_claims_on_the_seed_article_name_what_differs(real_index) -> None:
    cases = {
        "Li's visits to Huawei and Xiaomi send a clear message about the government's commitment to technology.": (
            "name", "Xiaomi", "BYD"
        ),
        "In response, China is launching a new fund aiming to raise over $90 billion for its semiconductor sector.": (
            "number", "$90 billion", "$40 billion"
        ),
        "Premier Li, during his tenure as governor of Zhejiang Province in 2018, emphasized innovation.": (
            "date", "2018", "2016"
        ),
        "China's push for technological self-reliance is a new endeavor.": ("negation", "", "not"),
    }  # fmt: skip
    for claim, expected in cases.items():
        (match,) = real_index.lookup(claim)
        assert match.kind == "altered", claim
        assert (match.differences[0].kind, match.differences[0].claim_text, match.differences[0].source_text) == (
            expected
        )


def test_true_paraphrases_of_the_seed_article_are_found(real_index) -> None:
    for claim, gold in {
        "China is launching a state-backed fund that hopes to raise more than forty billion dollars for chips.": (
            "aiming to raise over $40 billion"
        ),
        "China wants to be a world leader in technology.": "global leader in technology",
    }.items():
        (match,) = real_index.lookup(claim)
        assert match.kind == "paraphrase", (claim, match.reason)
        assert gold in match.citation.text


def test_the_issues_altered_claims_on_the_seed_article_are_caught(real_index) -> None:
    cases = {
        # The claim meets two sentences at once; the name is checked against the one it is about.
        "President Xi Jinping has reinforced this vision by highlighting the crucial role of specialized, high-end, "
        "innovation-driven enterprises.": ("name", "Xi Jinping", "Li Qiang"),
        "Science and technology were declared the secondary productive force.": ("rank", "secondary", "primary"),
    }
    for claim, expected in cases.items():
        (match,) = real_index.lookup(claim)
        assert match.kind == "altered", (claim, match.reason)
        assert (match.differences[0].kind, match.differences[0].claim_text, match.differences[0].source_text) == (
            expected
        )
        assert match.verdict == "says something else"
        document = real_index.document(match.citation.doc_id)
        assert document.text[match.differences[0].source_start : match.differences[0].source_end] == expected[2]
