"""Conversations and the ways people ask: follow-ups, several questions in one, overviews, why and how."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import pytest

from rag import Answer, Citation, build_index
from rag.answer.compose import merge_parts, prefer_reasons
from rag.answer.queries import _conversation_documents
from rag.answer.select import Candidate
from rag.errors import QueryError
from rag.question.followups import Turn, asks_what_next, resolve_followup, turns_from
from rag.question.kinds import asks_reason, gives_reason, overview_topic, split_parts
from rag.text.boilerplate import alone_on_line, is_boilerplate
from tests.fakes import FakeEmbedder
from tests.helpers import assert_citations

ROOT = Path(__file__).resolve().parent.parent
CHIP = "How much money does the new chip fund aim to raise?"
FUND_SENTENCE = (
    "In response, China is launching a new state-backed investment fund aiming to raise over $40 billion "
    "for its semiconductor sector, according to Reuters."
)
VISITS = "Which companies did Premier Li Qiang visit?"
HUAWEI = "such as Huawei and BYD"


def turn(question: str, *cited: str) -> Turn:
    return Turn(question, cited)


# --- resolving follow-ups -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        CHIP,
        "Which technologies are described as dual-use?",
        "Is there a new fund?",
        "Did Huawei and BYD get visits?",
        "What did Li Qiang say about his visits?",
        "Which report said that China wants self-reliance?",
    ],
)
def test_a_self_contained_question_is_searched_as_asked(question: str) -> None:
    assert resolve_followup(question, [turn(VISITS, "Li's visits to companies such as Huawei and BYD.")]) == question


def test_without_history_nothing_is_resolved() -> None:
    assert resolve_followup("When was it set up?", []) == "When was it set up?"


def test_pronouns_take_the_matching_mention_of_the_conversation() -> None:
    visits = [turn(VISITS, "Li's high-profile visits to leading tech companies such as Huawei and BYD send a message.")]
    assert resolve_followup("What did he say about innovation?", visits) == (
        "What did Premier Li Qiang say about innovation?"
    )
    assert resolve_followup("Who visited them?", visits) == "Who visited companies?"  # "which companies" asked for
    fund = [turn(CHIP, FUND_SENTENCE)]
    assert resolve_followup("When was it set up?", fund) == "When was the new chip fund set up?"
    assert resolve_followup("And when was it set up?", fund) == "When was the new chip fund set up?"


def test_a_person_is_not_what_it_refers_to() -> None:
    turns = [
        Turn("When did Henry Cavendish measure the constant?"),
        Turn(
            "What instrument did Henry Cavendish use?",
            ("Cavendish made the first measurement using a balance.",),
            asked="What instrument did he use?",
        ),  # fmt: skip
    ]
    assert "Cavendish" not in resolve_followup("What did the press call it?", turns)


def test_him_after_he_is_someone_else() -> None:
    turns = [turn("Whom did Wesley appoint as superintendent?", "Wesley appointed fellow priest Thomas Coke.")]
    assert resolve_followup("What did he send along with him?", turns) == (
        "What did Wesley send along with Thomas Coke?"
    )


def test_ellipsis_reuses_the_previous_question() -> None:
    members = [turn("How many members did the church have in 1975?")]
    assert resolve_followup("And in 2005?", members) == "How many members did the church have in 2005?"
    visits = [turn(VISITS)]
    assert resolve_followup("What about Xi Jinping?", visits) == "Which companies did Xi Jinping visit?"
    assert resolve_followup("Why?", visits) == "Why did Premier Li Qiang visit?"
    assert resolve_followup("And in Shenzhen?", visits) == "Which companies did Premier Li Qiang visit in Shenzhen?"
    split = [turn("When did the Methodist Protestant Church split?")]
    assert resolve_followup("Over what issue?", split) == "Over what issue did the Methodist Protestant Church split?"
    war = [turn("What does the church say about war?")]
    assert resolve_followup("And conscription?", war) == "What does the church say about conscription?"


def test_a_rewrite_is_a_question_a_person_would_write() -> None:
    # Issue 19: "Why?" after a question whose wh-word is its subject became "Why manages the new
    # chip fund?", and "And what about Huawei?" was glued on as "... the new chip fund Huawei?".
    manages = [turn("Who manages the new chip fund?")]
    assert resolve_followup("Why?", manages) == "Why?"
    assert resolve_followup("When?", manages) == "When?"
    assert resolve_followup("Who else?", manages) == "Who manages the new chip fund?"
    assert resolve_followup("And what about Huawei?", manages) == "And what about Huawei?"
    assert resolve_followup("By whom?", manages) == "By whom?"


def test_what_happened_next_is_recognised() -> None:
    for question in ("What happened next?", "what happened after that?", "What did he do next?", "And after that?"):
        assert asks_what_next(question), question
    for question in ("What happened in 1983?", "What did he do?", "What happened?", CHIP):
        assert not asks_what_next(question), question


def test_the_documents_of_the_latest_answer_that_cited_any() -> None:
    cited = Turn("Who was Ada Lovelace?", ("Ada Lovelace was an English mathematician.",), ("lovelace.md",))
    abstained = Turn("What did she eat?")  # an abstention cites nothing and keeps the topic
    assert _conversation_documents([cited, abstained], None) == ("lovelace.md",)
    assert _conversation_documents([cited, abstained], frozenset({"almanac.md"})) == ()
    both = Turn("And the almanac?", ("x", "y", "z"), ("almanac.md", "lovelace.md", "almanac.md"))
    assert _conversation_documents([cited, both], None) == ("almanac.md", "lovelace.md")
    assert _conversation_documents([], None) == ()


def test_history_is_answers_or_their_json() -> None:
    citation = Citation("It rained.", "a.md", "A", "", 0, 10, 0.9)
    answer = Answer("When?", False, "ok", 0.9, 0.4, (citation,), (citation,), searched_for="When did it rain?")
    as_json = asdict(answer)
    assert (
        turns_from([answer])
        == turns_from([as_json])
        == [Turn("When did it rain?", ("It rained.",), ("a.md",), "When?", (("a.md", 0, 10),), 0.9)]
    )
    with pytest.raises(TypeError, match="earlier answers"):
        turns_from(["When?"])


# --- several questions in one ----------------------------------------------------------------------


def test_split_parts_at_a_new_question_only() -> None:
    assert split_parts("Which companies did Premier Li Qiang visit, and what did he say about innovation?") == [
        "Which companies did Premier Li Qiang visit?",
        "What did he say about innovation?",
    ]
    assert split_parts("When was the fund set up and how much will it raise?") == [
        "When was the fund set up?",
        "How much will it raise?",
    ]
    assert split_parts("Who is Li Qiang? What did he do?") == ["Who is Li Qiang?", "What did he do?"]
    for whole in ("Did Huawei and BYD get visits?", "What are the size and the purpose of the fund?", CHIP):
        assert split_parts(whole) == [whole]


def _citation(text: str, start: int) -> Citation:
    return Citation(text, "a.md", "A", "", start, start + len(text), 0.8)


def test_parts_merge_without_repeats_and_name_the_unanswered_part() -> None:
    one, two, three = _citation("One.", 0), _citation("Two.", 20), _citation("One. Three.", 0)
    first = Answer("Q1?", False, "ok", 0.8, 0.4, (one, two), (one, two))
    second = Answer("Q2?", False, "ok", 0.7, 0.4, (three,), (three,))
    missing = Answer("Q3?", True, "the best sentence scored 0.10, below the threshold 0.40", 0.1, 0.4, (), (one,))
    merged = merge_parts("Q1, and Q2, and Q3?", [first, second, missing], k=3, threshold=0.4)
    assert not merged.abstained and merged.parts == (first, second, missing)
    assert [c.text for c in merged.citations] == ["One. Three.", "Two."]  # the longer quote holds the shorter
    assert "part 3 ('Q3?')" in merged.reason and merged.confidence == 0.7
    none = merge_parts("Q3, and Q3?", [missing, missing], k=3, threshold=0.4)
    assert none.abstained and none.citations == () and "no part is answered" in none.reason


# --- overview, why and how ---------------------------------------------------------------------------


def test_overview_questions_and_their_topic() -> None:
    assert overview_topic("What is this article about?") == ""
    assert overview_topic("Summarise the chip fund article") == "chip fund"
    assert overview_topic("Give me an overview of the United Methodist Church article") == "United Methodist Church"
    assert overview_topic("What are the documents about?") == ""
    assert overview_topic("What is the fund about?") is None  # a thing, not a document
    assert overview_topic(CHIP) is None


def test_why_and_how_questions_and_sentences_that_answer_them() -> None:
    assert asks_reason("Why is China pushing for tech self-reliance?") == "why"
    assert asks_reason("How is China responding to sanctions?") == "how"
    assert asks_reason("How much money will the fund raise?") is None
    assert asks_reason(CHIP) is None
    assert gives_reason("It was cancelled because of the rain.", "why")
    assert gives_reason("Amid ongoing sanctions, China is investing.", "why")
    assert not gives_reason("China's push for self-reliance is not new.", "why")
    assert gives_reason("China responds by bolstering innovation.", "how")
    # A marker made of the question's own words repeats the question.
    assert not gives_reason("Forces interact by exchanging bosons.", "how", "How do forces interact by exchange?")


def _candidate(text: str, start: int, score: float, lexical: float, position: int) -> Candidate:
    citation = Citation(
        text, "a.md", "A", "", start, start + len(text), score, text, start, scores={"lexical": lexical}
    )
    return Candidate(citation, 0, position, position)


def test_prefer_reasons_quotes_a_topic_sentence_with_the_reason_after_it() -> None:
    text = "X is pushing for Y. Amid sanctions, X invests. X's push for Y is not new."
    restates = _candidate("X's push for Y is not new.", 47, 0.8, 0.9, 2)
    topic = _candidate("X is pushing for Y.", 0, 0.6, 0.6, 0)

    def following(candidate: Candidate) -> tuple[str, int, int] | None:
        return ("Amid sanctions, X invests.", 20, 46) if candidate.last == 0 else None

    shown, citable = prefer_reasons("Why is X pushing for Y?", "why", [restates, topic], 0.4, following,
                                    lambda doc, a, b: text[a:b])  # fmt: skip
    assert citable[0].citation.text == "X is pushing for Y. Amid sanctions, X invests."
    assert restates not in citable and restates in shown  # it outscored the reason without giving one
    assert prefer_reasons("Why?", "why", [restates], 0.4, following, lambda *a: "") == ([restates], [restates])


def test_page_furniture_is_recognised_by_its_form() -> None:
    for line in ("Reference(s):", "cgtn.com", "Share", "By Jane Doe, CGTN", "Photo: Reuters", "## Background",
                 "Image credit: Getty Images", "(Photo by John Smith/AFP)"):  # fmt: skip
        assert is_boilerplate(line), line
    for sentence in ("By 2025, China aims to grow.", "By the end of 2020, the fund had raised $10 billion.",
                     "It rained.", "Yes!", FUND_SENTENCE):  # fmt: skip
        assert not is_boilerplate(sentence), sentence
    assert not is_boilerplate("Step 4 Click Save", alone_on_line=False)  # a piece of a run-on list
    text = "Intro.\nReference(s):\ncgtn.com"
    assert alone_on_line(text, 7, 20) and not alone_on_line("See Reference(s): below", 4, 17)


# --- through the index (fake embedder) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("conversation") / "corpus"
    folder.mkdir()
    shutil.copy(ROOT / "corpus" / "seed-article.md", folder / "seed-article.md")
    return build_index(folder, folder.parent / "index", embedder=FakeEmbedder())


def test_a_self_contained_question_gets_the_same_answer_with_history(fake_index) -> None:
    history = []
    for question in (VISITS, "What did he say about innovation?", "Why?", CHIP, "When was it set up?"):
        history.append(fake_index.ask(question, history=history))
    for question in (CHIP, "Which technologies are described as dual-use?", "Who won the 2022 World Cup?"):
        assert fake_index.ask(question, history=history) == fake_index.ask(question)


def test_bad_history_is_a_query_error(fake_index) -> None:
    with pytest.raises(QueryError, match="earlier answers"):
        fake_index.ask("When was it set up?", history=["How much?"])


def test_furniture_is_never_a_nearest_passage(fake_index) -> None:
    for question in ("What are the references?", "Reference", "cgtn.com source"):
        answer = fake_index.ask(question, k=10)
        assert all(not is_boilerplate(c.text) for c in (*answer.citations, *answer.candidates)), question


# --- end to end with the real model on the seed article ---------------------------------------------------


def test_seed_multipart_question_answers_each_part(real_index) -> None:
    answer = real_index.ask("Which companies did Premier Li Qiang visit, and what did he say about innovation?")
    assert not answer.abstained and len(answer.parts) == 2
    assert [p.searched_for for p in answer.parts] == [VISITS, "What did Premier Li Qiang say about innovation?"]
    texts = [c.text for c in answer.citations]
    assert any(HUAWEI in t for t in texts) and any("innovation" in t for t in texts)
    assert len({(c.start, c.end) for c in answer.citations}) == len(texts)


def test_seed_overview_quotes_the_lead(real_index) -> None:
    answer = real_index.ask("What is this article about?")
    assert not answer.abstained
    first = real_index.sentences("seed-article.md")[0]
    assert answer.citations[0].start == first.start and first.text in answer.citations[0].text
    assert "overview" in answer.reason and answer.citations[0].title.startswith("China steps up")
    assert all("Reference" not in c.text for c in answer.candidates)
    named = real_index.ask("Summarise the chip fund article")
    assert named.citations[0].start == first.start


def test_seed_why_question_cites_the_reason(real_index) -> None:
    answer = real_index.ask("Why is China pushing for tech self-reliance?")
    assert not answer.abstained
    assert "U.S. sanctions" in answer.citations[0].text
    assert not answer.citations[0].text.startswith("China’s push for technological self-reliance is not")


def test_seed_follow_up_resolves_from_the_turn_before(real_index) -> None:
    first = real_index.ask(CHIP)
    follow_up = real_index.ask("Who is spearheading it?", history=[first])
    assert follow_up.searched_for == "Who is spearheading the new chip fund?"
    assert "spearheaded by the China Integrated Circuit Industry Investment Fund" in follow_up.citations[0].text
    alone = real_index.ask("Who is spearheading it?")
    assert alone.searched_for == alone.question


def test_seed_self_contained_question_is_bit_for_bit_the_same_with_history(real_index) -> None:
    history = []
    for question in (VISITS, "What did he say about innovation?", "Who visited them?", CHIP, "When was it set up?"):
        history.append(real_index.ask(question, history=history))
    for question in (CHIP, "Which technologies are described as dual-use?", "Who won the 2022 World Cup?"):
        assert real_index.ask(question, history=history) == real_index.ask(question)


def test_seed_what_happened_next_cites_the_sentence_after_the_previous_answer(real_index) -> None:
    first = real_index.ask(CHIP)
    after = real_index.ask("What happened next?", history=[first])
    assert after.citations[0].start > first.citations[0].start
    assert "This initiative, spearheaded by" in after.citations[0].text
    assert after.searched_for.startswith("what follows") and "continues the previous answer" in after.reason


def test_a_rewrite_is_used_only_when_its_evidence_beats_the_question_by_the_margin(fake_index, monkeypatch) -> None:
    from rag import answer_model

    first = fake_index.ask(CHIP)
    monkeypatch.setitem(answer_model.FITTED, "rewrite_margin", 1.0)  # no confidence can beat another by 1
    kept = fake_index.ask("When was it set up?", history=[first])
    assert kept.searched_for == "When was it set up?"
    monkeypatch.setitem(answer_model.FITTED, "rewrite_margin", -1.0)  # any rewrite wins
    rewritten = fake_index.ask("When was it set up?", history=[first])
    assert rewritten.searched_for != "When was it set up?" and "fund" in rewritten.searched_for
    for answer in (kept, rewritten):
        assert_citations(fake_index, (*answer.citations, *answer.candidates))


def test_a_bare_why_that_cannot_be_tied_to_the_previous_question_says_so(fake_index) -> None:
    first = fake_index.ask("Who manages the new chip fund?")
    why = fake_index.ask("Why?", history=[first])
    assert why.searched_for == "Why?" and why.abstained
    assert_citations(fake_index, why.candidates)
    assert why.reason.startswith("“Why?” names nothing to look for, and the previous question does not make it")


def test_a_question_in_another_language_abstains_saying_so(fake_index) -> None:
    # Issue 22: the API and the CLI listed Spanish stop words as missing; now the reason names the language.
    answer = fake_index.ask("¿Cuánto dinero quiere recaudar el nuevo fondo de chips?")
    assert answer.abstained and answer.reason.startswith("rag matches English questions; this looks like Spanish")
    assert_citations(fake_index, answer.candidates)


def test_seed_multipart_when_is_not_met_by_the_dates_of_other_funds(real_index) -> None:
    # Issue 22: the "when" part was called answered by "previous funds initiated in 2014 and 2019".
    answer = real_index.ask("How big is the fund and when was it set up?")
    size, when = answer.parts
    assert not answer.abstained and not size.abstained and "$40 billion" in size.citations[0].text
    assert when.abstained and "a date for “when”" in when.reason and "part 2" in answer.reason
    assert not any(label.startswith("a date") for c in answer.citations for label in c.covered)
    assert_citations(real_index, answer.citations)
