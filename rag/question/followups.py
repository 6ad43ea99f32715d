"""Follow-up questions: what their referring words and ellipses stand for, from the conversation so far.

Pure text work on the question and the conversation so far; the pipeline does the searching.

- ``resolve_followup``: a follow-up's referring words ("it", "he", "they", "there", "the
  fund") are replaced by what they refer to, found in the earlier turns' questions (as
  searched) and cited sentences; an elliptical follow-up ("And in 2019?", "Who else?",
  "Why?") reuses the previous question's frame. The previous turn's words are never simply
  added: a follow-up usually needs other evidence than the turn before, and only what it
  refers to is carried over. A question with nothing to resolve is returned unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rag.text.words import STOPWORDS, Word, tokenize

WH_WORDS = frozenset("what which who whom whose when where why how".split())
AUXILIARIES = frozenset(
    "is are was were be been do does did has have had can could will would should may might must shall".split()
)
# Auxiliaries after which a noun phrase is followed by its verb ("does the fund aim to ...").
_DO_AUXILIARIES = frozenset("do does did can could will would should may might must shall".split())
_COPULAS = frozenset("is are was were".split())
PREPOSITIONS = frozenset(
    "in at on to from of for with about by into over under after before during near below above between through "
    "across against within without among since until".split()
)
# Words that end a noun phrase's run as its predicate: "the weak force due to", "the fund used for".
_PREDICATIVE = frozenset("due able responsible known used called made based named located".split())
_PERSONAL = {"he": "", "him": "", "his": "'s", "she": "", "her": "'s", "hers": "'s", "himself": "", "herself": ""}
_THING = {"it": "", "its": "'s", "itself": ""}
_PLURAL = {"they": "", "them": "", "their": "'s", "theirs": "'s", "themselves": ""}
_DEMONSTRATIVE = frozenset("this that these those".split())
# Verbs after which "that" opens a clause ("said that China ..."), not a reference.
_CLAUSE_VERBS = frozenset(
    "say said says think thought believe believed know knew show showed shows mean means claim".split()
)
# How a phrase is named again later: "this fund" is "the fund" to a follow-up.
_DETERMINED = {"this": "the", "that": "the", "these": "the", "those": "the", "his": "the", "her": "the",
               "its": "the", "their": "the", "our": "the", "my": "the", "your": "the"}  # fmt: skip
_ELSE = frozenset("else other others another".split())
_TOKEN = re.compile(
    r"(?:Mr|Mrs|Ms|Dr|Rev|St|Sr|Jr|Prof|Gen|Gov|Sen|Rep|Lt|Col|Capt|Sgt|Mt)\.|[^\W_]+(?:['\u2019.&-][^\W_]+)*|[^\w\s]"
)
_YEAR = re.compile(r"^(?:1[0-9]|20)\d\d$")
QUANTITY_HOW = frozenset("much many long old far large big tall often fast high heavy deep wide".split())


# --- the conversation so far --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier turn: its question as searched, and the sentences its answer cited."""

    question: str
    cited: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    asked: str = ""  # the question as typed, when it differs from the one searched
    spans: tuple[tuple[str, int, int], ...] = ()  # (doc_id, start, end) of each citation
    confidence: float = 0.0


def turns_from(history: Iterable[Any]) -> list[Turn]:
    """Turns from earlier answers, oldest first: ``Answer`` objects or their JSON dicts.

    Raises:
        TypeError: An item is neither.
    """
    turns = []
    for item in history:
        if isinstance(item, Mapping):
            question = item.get("searched_for") or item.get("question") or ""
            asked = item.get("question") or ""
            citations = [c for c in item.get("citations") or () if isinstance(c, Mapping)]
            cited = tuple(str(c.get("text", "")) for c in citations)
            documents = tuple(str(c.get("doc_id", "")) for c in citations)
            spans = tuple(_span(c.get("doc_id"), c.get("start"), c.get("end")) for c in citations)
            confidence = item.get("confidence", 0.0)
            continues = any(isinstance(c.get("scores"), Mapping) and c["scores"].get(CONTINUES) for c in citations)
        elif hasattr(item, "question") and hasattr(item, "citations"):
            question = getattr(item, "searched_for", "") or item.question
            asked = item.question
            cited = tuple(c.text for c in item.citations)
            documents = tuple(c.doc_id for c in item.citations)
            spans = tuple((c.doc_id, c.start, c.end) for c in item.citations)
            confidence = getattr(item, "confidence", 0.0)
            continues = any(c.scores.get(CONTINUES) for c in item.citations)
        else:
            raise TypeError(f"history holds earlier answers (Answer or its dict), got {type(item).__name__}")
        if not isinstance(question, str):
            raise TypeError(f"a history turn's question must be text, got {type(question).__name__}")
        asked = asked.strip() if isinstance(asked, str) else ""
        if continues and asked:  # "What happened next?" was not searched: what it cited tells its topic
            question = asked
        confidence = float(confidence) if isinstance(confidence, int | float) else 0.0
        turns.append(Turn(question.strip(), cited, documents, asked, tuple(s for s in spans if s), confidence))
    return [t for t in turns if t.question]


# The score name marking a citation chosen for following the previous answer ("What happened next?").
CONTINUES = "continues"


def _span(doc_id: object, start: object, end: object) -> tuple[str, int, int] | None:
    ok = isinstance(doc_id, str) and isinstance(start, int) and isinstance(end, int)
    return (doc_id, start, end) if ok else None  # type: ignore[return-value]


_NEXT = re.compile(
    r"^\s*(?:and\s+|so\s+|ok(?:ay)?,?\s+)?(?:then\s+)?(?:what\s+happened|what\s+came|what\s+followed"
    r"|what\s+did\s+(?:he|she|they|it)\s+do)\s+(?:next|then|after(?:wards?|\s+that|\s+this)?|later)\s*[?.!]*\s*$"
    r"|^\s*(?:and\s+)?(?:then\s+what|after\s+that|afterwards|next)\s*[?.!]*\s*$",
    re.IGNORECASE,
)


def asks_what_next(question: str) -> bool:
    """ "What happened next?", "What did he do after that?": the story continues after the last answer."""
    return bool(_NEXT.match(question))


# --- words --------------------------------------------------------------------------------


def words(text: str) -> list[Word]:
    return [Word(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _content(word: Word) -> bool:
    return word.is_word and word.lower not in STOPWORDS and word.lower not in AUXILIARIES


@dataclass(frozen=True, slots=True)
class Mention:
    """Something a later question can refer back to: a name or a noun phrase."""

    text: str
    kind: Literal["name", "phrase", "group", "asked"]  # "asked": the noun of "which X"
    plural: bool


def _name_at(tokens: Sequence[Word], i: int) -> int:
    """The end (exclusive) of the name starting at token ``i``, or ``i`` when none starts there."""
    j = i
    while j < len(tokens):
        word = tokens[j]
        if word.is_word and word.capitalised and word.lower not in WH_WORDS and word.text != "I":
            j += 1
        elif word.lower in ("of", "the", "de", "von") and j > i and j + 1 < len(tokens) and tokens[j + 1].capitalised:
            j += 1
        else:
            break
    # A capital at the start of a question is grammar, not a name, when the word is a common one.
    if j > i and i == 0 and tokens[i].lower in STOPWORDS | AUXILIARIES:
        return _name_at(tokens, i + 1) if j > i + 1 else i
    return j


def mentions(text: str) -> list[Mention]:
    """Names, coordinated names ("Huawei and BYD") and noun phrases of ``text``, in order."""
    tokens = words(text)
    found: list[Mention] = []
    i = 0
    while i < len(tokens):
        end = _name_at(tokens, i)
        if end > i:
            start = i + 1 if tokens[i].lower == "the" else i
            if start >= end:  # a lone capitalised "The"
                i = end
                continue
            name = text[tokens[start].start : tokens[end - 1].end]
            found.append(Mention(name, "name", False))
            if len(found) >= 2 and i >= 2 and tokens[i - 1].lower == "and" and found[-2].kind == "name":
                group = f"{found[-2].text} and {name}"
                if text.find(group) >= 0:
                    found.append(Mention(group, "group", True))
            i = end
            continue
        if tokens[i].lower in _DO_AUXILIARIES | _COPULAS and i + 1 < len(tokens) and _content(tokens[i + 1]):
            # "When did membership drop ...", "What is torque?": a bare noun after the auxiliary.
            phrase = _phrase_after(tokens, i + 1, after_auxiliary=tokens[i].lower in _DO_AUXILIARIES)
            if phrase and not phrase[:1].isupper():
                found.append(Mention(phrase, "phrase", _plural(phrase.split()[-1])))
                i += 1 + len(phrase.split())
                continue
        if _content(tokens[i]) and not tokens[i].capitalised and _plural(tokens[i].text) and tokens[i].text.isalpha():
            # A bare plural ("formulated laws of motion") is what a later "they" may mean.
            end = _of_phrase_end(tokens, i + 1)
            found.append(Mention(text[tokens[i].start : tokens[end - 1].end], "phrase", True))
            i = end
            continue
        if tokens[i].lower in ("the", "a", "an", "this", "that", "these", "those", "which", "what") or (
            tokens[i].lower in ("his", "her", "its", "their", "our", "my", "your")
        ):
            phrase = _phrase_after(tokens, i + 1, after_auxiliary=i > 0 and tokens[i - 1].lower in _DO_AUXILIARIES)
            if phrase:
                words_ = phrase.split()
                determiner = tokens[i].lower
                if all(w[:1].isupper() for w in words_):  # "the Judicial Council" is a name
                    found.append(Mention(phrase, "name", False))
                elif determiner in ("which", "what"):
                    found.append(Mention(phrase, "asked", _plural(words_[-1])))
                else:
                    article = "" if determiner in ("a", "an") else _DETERMINED.get(determiner, determiner) + " "
                    end = _of_phrase_end(tokens, i + 1 + len(words_))
                    if end > i + 1 + len(words_):  # "the name of the first album": the album is meant
                        phrase = text[tokens[i + 1].start : tokens[end - 1].end]
                    found.append(Mention(article + phrase, "phrase", _plural(words_[-1])))
                    i = end
                    continue
                i += 1 + len(words_)
                continue
        i += 1
    return found


def _of_phrase_end(tokens: Sequence[Word], i: int) -> int:
    """The end of "of <determiner> <words>" or "of <Name>" starting at ``i``; ``i`` when none does."""
    if i + 1 >= len(tokens) or tokens[i].lower != "of":
        return i
    j = i + 1
    if tokens[j].lower in ("the", "a", "an", "his", "her", "its", "their") and j + 1 < len(tokens):
        j += 1
    name_end = _name_at(tokens, j)
    if name_end > j:
        return name_end
    run = _phrase_after(tokens, j)
    return j + len(run.split()) if run else i


def _phrase_after(tokens: Sequence[Word], i: int, *, after_auxiliary: bool = False) -> str:
    """The run of content words after a determiner, as written (at most four words)."""
    run: list[Word] = []
    while i < len(tokens) and len(run) < 4 and _content(tokens[i]):
        run.append(tokens[i])
        i += 1
    # "does the new chip fund aim to raise": after an auxiliary, the noun phrase is followed by
    # its verb, which then closes the run: drop it when a particle or preposition follows.
    ends_clause = i >= len(tokens) or tokens[i].lower in (PREPOSITIONS - {"of"}) | {"up", "out", "off", "?"}
    if len(run) >= 2 and ends_clause and not run[-1].capitalised:
        if after_auxiliary or run[-1].lower in _PREDICATIVE or run[-1].lower.endswith("ed"):
            run = run[:-1]
    return " ".join(w.text for w in run)


def _plural(word: str) -> bool:
    word = word.lower()
    return len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is"))


# --- resolving a follow-up --------------------------------------------------------------------


def _sources(turns: Sequence[Turn]) -> list[list[Mention]]:
    """Where antecedents are looked for, nearest first: the last question, its answer, earlier questions."""
    if not turns:
        return []
    last = turns[-1]
    places = [mentions(last.question)]
    if last.cited:
        places.append(mentions(last.cited[0]))
    places += [mentions(t.question) for t in reversed(turns[:-1])]
    return places


def _wh_noun(question: str) -> Mention | None:
    """The noun a "which X" / "what X" question asks about ("Which companies" -> companies)."""
    tokens = words(question)
    for i, word in enumerate(tokens[:-1]):
        if word.lower in ("which", "what") and _content(tokens[i + 1]) and not tokens[i + 1].capitalised:
            phrase = _phrase_after(tokens, i + 1).split()
            if phrase:
                return Mention(phrase[0] if len(phrase) == 1 else " ".join(phrase[:1]), "phrase", _plural(phrase[0]))
        if word.lower in WH_WORDS:
            break
    return None


_TITLES = frozenset("mr mrs ms dr rev sir lady lord saint st president premier bishop king queen pope prince".split())


def _persons(turns: Sequence[Turn]) -> set[str]:
    """Names known to be people: given a title, or what "he" or "she" was resolved to."""
    found = set()
    for turn in turns:
        for text in (turn.question, *turn.cited[:1]):
            for m in mentions(text):
                if m.kind == "name" and m.text.split()[0].lower().rstrip(".") in _TITLES:
                    found.add(m.text)
        asked = {w.lower for w in words(turn.asked)}
        if turn.asked and turn.asked != turn.question and asked & set(_PERSONAL):
            known = {m.text for m in mentions(turn.asked)}
            found.update(m.text for m in mentions(turn.question) if m.kind == "name" and m.text not in known)
    return found


def _is_person(mention: Mention, persons: set[str]) -> bool:
    """A name sharing a word with a known person's ("Cavendish" after "Henry Cavendish")."""
    if mention.kind != "name":
        return False
    known = {w for name in persons for w in name.split() if w.lower().rstrip(".") not in _TITLES}
    return bool(set(mention.text.split()) & known)


def _antecedent(kind: str, turns: Sequence[Turn], own_names: bool, avoid: str | None = None) -> str | None:
    places = _sources(turns)
    if kind == "person":
        if own_names:
            return None
        for place in places:
            for m in place:
                if m.kind == "name" and m.text != avoid:
                    return m.text
        return None
    if kind == "plural":
        noun = _wh_noun(turns[-1].question) if turns else None
        if noun is not None and noun.plural:
            return noun.text
        for place in places:
            for m in place:
                if m.plural:
                    return m.text
        # With no plural in sight, "they" is an organisation ("the church ... they"), so a name.
        persons = _persons(turns)
        for place in places:
            for m in place:
                if m.kind == "name" and not _is_person(m, persons):
                    return m.text
        return None
    persons = _persons(turns)
    for place in places:  # a thing, or a plural with no plural in sight ("they" for an organisation)
        for m in place:
            if m.kind in ("name", "phrase") and not (kind == "thing" and m.plural) and not _is_person(m, persons):
                return m.text
    return None


def _place(turns: Sequence[Turn]) -> str | None:
    for text in [t.question for t in reversed(turns)] + [c for t in reversed(turns) for c in t.cited[:1]]:
        tokens = words(text)
        for i, word in enumerate(tokens[:-1]):
            if word.lower in ("in", "at", "to", "from") and tokens[i + 1].capitalised:
                end = _name_at(tokens, i + 1)
                if end > i + 1:
                    return text[tokens[i + 1].start : tokens[end - 1].end]
    return None


def _expand_phrase(noun: Word, turns: Sequence[Turn]) -> str | None:
    """A fuller form of "the fund" from the conversation ("the new chip fund"), or None."""
    stem = tokenize(noun.text)
    if not stem:
        return None
    texts = [t.question for t in reversed(turns)] + [c for t in reversed(turns) for c in t.cited[:1]]
    for text in texts:
        tokens = words(text)
        for i, word in enumerate(tokens):
            if word.is_word and tokenize(word.text) == stem and i > 0:
                first = i
                while first > 0 and i - first < 3 and _content(tokens[first - 1]):
                    first -= 1
                if first < i:
                    return text[tokens[first].start : tokens[i].end]
    return None


def _is_reference(tokens: Sequence[Word], i: int) -> bool:
    """Whether the demonstrative or "there" at ``i`` points back rather than doing grammar."""
    word = tokens[i].lower
    after = tokens[i + 1] if i + 1 < len(tokens) else None
    before = tokens[i - 1].lower if i > 0 else ""
    if word == "there":
        # "Is there ...", "there are ...": existential, not a place.
        return not (after is not None and after.lower in AUXILIARIES) and before not in AUXILIARIES
    if word == "that" and before in _CLAUSE_VERBS:
        return False
    # "When did that happen?", "about this", "Is this true?": the word stands for something.
    return after is None or not after.is_word or after.lower in AUXILIARIES or before in PREPOSITIONS | AUXILIARIES


def resolve_references(question: str, turns: Sequence[Turn]) -> str:
    """``question`` with its referring words replaced by what they refer to in ``turns``."""
    if not turns:
        return question
    tokens = words(question)
    first_name = next((m for m in mentions(question) if m.kind == "name"), None)
    named_at = question.find(first_name.text) if first_name is not None else len(question)
    edits: list[tuple[int, int, str]] = []
    subject: str | None = None
    for i, word in enumerate(tokens):
        lower = word.lower
        own_names = named_at < word.start  # "What did Li say about his visits?": "his" is Li
        target: str | None = None
        suffix = ""
        if lower in _PERSONAL:
            # "What did he send with him?": "him" is someone else than "he".
            avoid = subject if lower in ("him", "her") else None
            target, suffix = _antecedent("person", turns, own_names, avoid), _PERSONAL[lower]
            if lower in ("he", "she"):
                subject = target
        elif lower in _THING:
            if lower == "it" and _is_dummy_it(tokens, i):
                continue
            target, suffix = _antecedent("thing", turns, False), _THING[lower]
        elif lower in _PLURAL:
            target, suffix = _antecedent("plural", turns, False), _PLURAL[lower]
        elif lower in _DEMONSTRATIVE and _is_reference(tokens, i):
            target = _antecedent("plural" if lower in ("these", "those") else "thing", turns, False)
        elif lower == "there" and _is_reference(tokens, i):
            target = _place(turns)
        elif lower in _DEMONSTRATIVE and i + 1 < len(tokens) and _content(tokens[i + 1]):
            head = _single_noun(tokens, i + 1)
            fuller = _expand_phrase(head, turns) if head is not None else None
            if (
                head is not None
                and fuller is not None
                and fuller.lower() != head.text.lower()
                and not fuller.lower().startswith("the ")
            ):
                edits.append((word.start, head.end, f"the {fuller}"))
            continue
        if target and target.lower() != lower:
            edits.append((word.start, word.end, target + (suffix if not target.endswith("s") or not suffix else "'")))
    return _apply(question, edits)


def _is_dummy_it(tokens: Sequence[Word], i: int) -> bool:
    """ "Is it true that ...", "Is it possible to ...": "it" stands for the clause that follows."""
    after = [t.lower for t in tokens[i + 1 : i + 4]]
    return len(after) >= 2 and after[1] in ("that", "to", "whether", "if") and after[0] not in ("said", "say")


def _single_noun(tokens: Sequence[Word], i: int) -> Word | None:
    """The noun of "the X" when the phrase is that one word ("the fund", not "the fund manager")."""
    following = tokens[i + 1] if i + 1 < len(tokens) else None
    if following is not None and _content(following) and not following.capitalised:
        if following.lower not in _CLAUSE_VERBS and _plural(tokens[i].text) is _plural(following.text):
            return None
    return tokens[i]


def _apply(text: str, edits: Sequence[tuple[int, int, str]]) -> str:
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


# --- elliptical follow-ups ---------------------------------------------------------------------

_LEAD_IN = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+|^\s*and\s+(?:also\s+)?|^\s*also\s+", re.IGNORECASE)
FRAGMENT_END = re.compile(r"[\s?.!]+$")


def _frame(question: str) -> tuple[str, str]:
    """The previous question split into its wh-phrase and the rest ("Which companies", "did Li visit?")."""
    tokens = words(question)
    if not tokens or tokens[0].lower not in WH_WORDS:
        return "", question
    end = 1
    if tokens[0].lower in ("which", "what", "whose") and len(tokens) > 1 and _content(tokens[1]):
        end = 2
    elif tokens[0].lower == "how" and len(tokens) > 1 and tokens[1].lower in QUANTITY_HOW:
        end = 3 if len(tokens) > 2 and _content(tokens[2]) else 2
    return question[: tokens[end - 1].end], question[tokens[end - 1].end :].strip()


def resolve_ellipsis(question: str, turns: Sequence[Turn]) -> str | None:
    """The full question an elliptical follow-up stands for, or None when it is not elliptical."""
    if not turns:
        return None
    previous = turns[-1].question
    lead = _LEAD_IN.match(question)
    fragment = FRAGMENT_END.sub("", question[lead.end() :] if lead else question).strip()
    tokens = words(fragment)
    if not tokens:
        return None
    first = tokens[0].lower
    if first in WH_WORDS and all(t.lower in WH_WORDS | _ELSE | {"not", "so", "exactly"} for t in tokens):
        # "Why?", "When?", "Who else?": the previous question asked again with this wh-word, where
        # that still reads as a question: "When did Li visit?" -> "Why did Li visit?". After a
        # question whose wh-word was its subject ("Who manages the fund?") the wh-word cannot
        # simply be swapped ("Why manages the fund?"), nor put before a statement it never had.
        wh, rest = _frame(previous)
        if tokens[0].lower in ("who", "what", "which") and tokens[0].lower == (wh.split()[0].lower() if wh else ""):
            return f"{wh} {rest}"  # "Who else?" after "Who visited?": the same question
        rest_words = [t for t in words(rest) if t.is_word]
        adjunct = wh.split()[0].lower() in ("when", "where", "why", "how") if wh else False
        # Swapped for an argument ("What did he say about X?"), the wh-word leaves a gap that
        # "Why did he say about X?" cannot fill; only a clause with nothing after its verb reads.
        closed = adjunct or not any(t.lower in PREPOSITIONS for t in rest_words[1:])
        if wh and rest_words and rest_words[0].lower in AUXILIARIES and closed:
            return f"{tokens[0].text.capitalize()} {rest}"
        return None
    if first in PREPOSITIONS and len(tokens) <= 4 and any(t.lower in WH_WORDS for t in tokens):
        # "Over what issue?", "By whom?": asked of the previous question's clause, where it has one
        # to ask of ("When did the church split?" -> "Over what issue did the church split?").
        wh, rest = _frame(previous)
        rest_words = words(rest)
        if wh and rest_words and rest_words[0].lower in AUXILIARIES:
            return f"{fragment[:1].upper()}{fragment[1:]} {rest}"
        return None
    if not lead or first in WH_WORDS or first in AUXILIARIES:
        return None
    return _substitute(previous, fragment)


def _substitute(previous: str, fragment: str) -> str | None:
    """The previous question with the fragment in place of what it replaces (or narrowed by a
    prepositional fragment); None when the fragment replaces nothing in it."""
    tokens, old = words(fragment), words(previous)
    years = [t for t in tokens if _YEAR.match(t.text)]
    old_years = [t for t in old if _YEAR.match(t.text)]
    if years and old_years:
        return _apply(previous, [(old_years[0].start, old_years[0].end, years[0].text)])
    new = mentions(fragment)
    if new and tokens[0].lower not in PREPOSITIONS:  # "in Africa" adds a place; "BYD" replaces a name
        wh, rest = _frame(previous)
        for m in mentions(rest):
            same_kind = m.kind == new[0].kind == "name"
            same_head = m.kind == new[0].kind == "phrase" and tokenize(m.text)[-1:] == tokenize(new[0].text)[-1:]
            if same_kind or same_head:
                at = previous.find(m.text, len(wh))
                return _apply(previous, [(at, at + len(m.text), new[0].text)])
    old_words = [t for t in old if t.is_word]
    if not new and len(old_words) >= 3 and old_words[-2].lower in PREPOSITIONS and _content(old_words[-1]):
        # "What does the church say about war?" "And conscription?": the object is replaced.
        return _apply(previous, [(old_words[-1].start, old_words[-1].end, fragment)])
    if tokens[0].lower in PREPOSITIONS:  # "And in Africa?": the previous question, narrowed
        return f"{FRAGMENT_END.sub('', previous)} {fragment}?"
    # A fragment that replaces nothing of the previous question names its own topic ("And what
    # about Huawei?"): glued onto the previous question it would read as nonsense, so it is
    # searched as asked.
    return None


def asks_for_more(question: str) -> bool:
    """ "Who else?", "What other ...": the answer should not repeat the previous turn's."""
    return bool(set(t.lower for t in words(question)) & _ELSE)


def resolve_followup(question: str, turns: Sequence[Turn]) -> str:
    """The question to search for, given the conversation so far (unchanged when self-contained)."""
    if not turns:
        return question
    elliptical = resolve_ellipsis(question, turns)
    if elliptical is not None:
        return elliptical
    stripped = _LEAD_IN.sub("", question, count=1) if re.match(r"^\s*and\s+\w", question, re.IGNORECASE) else question
    resolved = resolve_references(stripped, turns)
    if resolved == stripped:
        return question
    return resolved[:1].upper() + resolved[1:]
