"""What a question asks, and how much of it a sentence holds.

``question_focus`` reads a question's focus: the names and rare words it is about (each weighed
by its IDF) and the kind of answer it asks for (a date for "when", a number for "how many", a name
for "who" or "which agency"). ``focus_coverage`` checks a sentence against it: which terms it
holds (or its passage holds), and whether it holds a value of the kind asked. The answer model
(``rag.answer_model``) reads the share; ``describe_missing`` puts what is lacking into words.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from rag.text.words import capitalised_tokens, fold, name_groups, tokenize

# Numbers and the words that name them (month names count: a date is a number).
NUMBER = re.compile(
    r"\d|\b(january|february|march|april|may|june|july|august|september|october|november|december"
    r"|century|hundred|thousand|million|billion|trillion|dozen|one|two|three|four|five|six|seven|eight|nine|ten"
    r"|eleven|twelve|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)\b",
    re.IGNORECASE,
)


# What the question asks: the terms it is about and the kind of answer it expects. A sentence
# that repeats the question's names but lacks the asked fact ("When was Huawei founded?"
# against "Li visited Huawei and BYD") is the commonest way a quote answers nothing.

AnswerType = Literal["date", "number", "person", "organisation", "place"]

# Only where a question opens with them (or after a comma or a preposition): "when" inside a
# question ("What happens when ...") is a conjunction, "who" a relative pronoun.
_OPENING = r"(?:^|[,;:]\s*|\b(?:and|but|so|in|on|at|by|to|from|for|since|until|of|with)\s+)"
_ANSWER_TYPES: tuple[tuple[re.Pattern[str], AnswerType, str], ...] = (
    (re.compile(_OPENING + r"(when|(?:what|which) (?:year|date|decade|century|month|day))\b", re.I), "date", "a date"),
    (
        re.compile(
            r"\b(how (?:many|much|long|old|far|large|big|tall|often|fast|high|heavy|deep|wide|hot|cold)"
            r"|what (?:percentage|percent|proportion|share|number|amount|fraction|age|size))\b",
            re.I,
        ),
        "number",
        "a number",
    ),
    (re.compile(_OPENING + r"(who|whom|whose)\b", re.I), "person", "a name"),
    (
        re.compile(
            _OPENING + r"((?:which|what) (?:agency|agencies|company|companies|organi[sz]ations?|firms?|groups?|"
            r"part(?:y|ies)|universit(?:y|ies)|institutions?|newspapers?|banks?|teams?|band|ministry|department))\b",
            re.I,
        ),
        "organisation",
        "a name",
    ),
    (re.compile(_OPENING + r"(where)\b", re.I), "place", "a place"),
)
# Words that say what kind of answer is wanted rather than what it is about.
_FRAME_WORDS = frozenset(tokenize("name names kind type happen happened"))
_WORD = re.compile(r"[^\W_]+(?:[’'][^\W_]+)?")
_YEAR = r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b"
_DATE = re.compile(
    _YEAR + r"|\b(?:january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|centur(?:y|ies)|decades?|years? ago|ago|today|yesterday|tomorrow|spring|summer|autumn|winter"
    r"|\d+(?:st|nd|rd|th))\b",
    re.IGNORECASE,
)
_MIN_PREFIX = 4
_PUNCTUATION = "\"'“”‘’()[]{},;:!?"


@dataclass(frozen=True, slots=True)
class Term:
    """One thing the question names: its words as the question writes them, their stems, their weight.

    A multi-word name ("Li Qiang") is one term, present where any part of it is mentioned; a
    compound word ("dual-use") is one term, present where all its parts are.
    """

    label: str
    stems: tuple[str, ...]
    weight: float
    name: bool = False

    @property
    def is_multi_word_name(self) -> bool:
        return self.name and " " in self.label


@dataclass(frozen=True, slots=True)
class Focus:
    """What a question is about (``terms``) and the kind of answer it asks for (``answer_type``).

    ``asked`` is the question's own words for the answer type ("when", "how many"); ``expected``
    how a reason names it ("a date").
    """

    terms: tuple[Term, ...] = ()
    answer_type: AnswerType | None = None
    asked: str = ""
    expected: str = ""


@dataclass(frozen=True, slots=True)
class Coverage:
    """Which of the question's terms a sentence holds, and whether it holds the kind of answer asked.

    ``covered`` includes the terms found only in the passage around the sentence (also listed
    in ``in_context``): a quote is shown with its passage.

    ``share`` is the IDF-weighted share of the question's terms found (a term found only in the
    passage around the sentence counts half), with the answer type weighing as a term of mean
    weight; 1.0 when the question names nothing.
    """

    covered: tuple[str, ...]
    missing: tuple[str, ...]
    in_context: tuple[str, ...]
    type_found: bool | None
    share: float


def question_focus(text: str, idf: dict[str, float]) -> Focus:
    """The terms of a question and the kind of answer it expects.

    Args:
        text: The question as asked.
        idf: The IDF of each of its tokens (see :meth:`LexicalSegments.idf`); a term's weight.
    """
    answer_type, asked, expected, frame = None, "", "", frozenset[str]()
    for pattern, kind, description in _ANSWER_TYPES:
        match = pattern.search(text)
        if match:
            answer_type, asked, expected = kind, match.group(1).lower(), description
            # "which agency" asks for an organisation's name, and the agency is still what the
            # question is about; "what year" only asks for a date.
            frame = frozenset(tokenize(match.group(1).split()[0] if kind == "organisation" else match.group(1)))
            break
    excluded = frame | _FRAME_WORDS
    terms: list[Term] = []
    seen: set[str] = set()
    for group in name_groups(text):
        stems = tuple(t for t in group if t not in excluded)
        if stems and not seen.issuperset(stems):
            label = _label(text, stems)
            terms.append(Term(label, stems, max(idf.get(t, 0.0) for t in stems), name=True))
            seen.update(stems)
    for chunk in text.split():
        word = chunk.strip(_PUNCTUATION)  # "U.S." stays whole, "founded?" loses its mark
        stems = tuple(dict.fromkeys(s for s in tokenize(word) if s not in seen and s not in excluded and s in idf))
        if stems:  # a compound ("dual-use") is one term, held where all its parts are
            seen.update(stems)
            terms.append(Term(word, stems, max(idf[s] for s in stems), name=word[:1].isupper()))
    return Focus(tuple(terms), answer_type, asked, expected)


def _label(text: str, stems: tuple[str, ...]) -> str:
    """The question's own words for a name: from the first to the last word holding its stems."""
    words = [m for m in _WORD.finditer(text) if set(tokenize(m.group(0))) & set(stems)]
    return text[words[0].start() : words[-1].end()] if words else " ".join(stems)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The tokens of a text, as a set and in sorted order (where a stem's longer forms follow it)."""

    tokens: frozenset[str]
    ordered: tuple[str, ...]


def vocabulary(tokens: Sequence[str]) -> Vocabulary:
    held = frozenset(tokens)
    return Vocabulary(held, tuple(sorted(held)))


def _holds(stem: str, words: Vocabulary) -> bool:
    """Whether ``words`` hold ``stem``, or a longer or shorter form of it ("farm" / "farmer")."""
    if stem in words.tokens:
        return True
    if len(stem) < _MIN_PREFIX:
        return False
    if any(stem[:end] in words.tokens for end in range(_MIN_PREFIX, len(stem))):
        return True
    at = bisect.bisect_left(words.ordered, stem)
    return at < len(words.ordered) and words.ordered[at].startswith(stem)


def holds_answer_type(
    answer_type: AnswerType | None, sentence: str, question: str, reach: int | None = None
) -> bool | None:
    """Whether ``sentence`` holds an answer of the kind asked, one the question does not state itself.

    None when the question asks for no particular kind. Dates and numbers are recognised by
    their form; a person, organisation or place by a capitalised word that is not the sentence's first and
    not in the question (a weak check: capitalised words are everywhere). ``reach`` is how many words
    after "previous", "other"... a value still belongs to those others (default ``OTHERS_REACH``).
    """
    if answer_type is None:
        return None
    if answer_type in ("date", "number"):
        # "surpassing previous funds initiated in 2014 and 2019" dates other funds than the one
        # asked about; unless the question asks about those others itself ("the earlier funds").
        if _OTHERS.search(question):
            held = _values(answer_type, sentence)
        else:
            held = _own_values(answer_type, sentence, OTHERS_REACH if reach is None else reach)
        return bool(held - _values(answer_type, question))
    return bool(_capitalised_after_first(sentence) - _stems(question))


# Words that make a phrase about other instances of a thing than the one asked about
# ("previous funds", "other companies", "the former owner"), and what ends such a phrase.
_OTHERS = re.compile(r"\b(?:previous|earlier|prior|former|other|older|past|preceding)\b", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[,;:()\u2013\u2014]|\s(?:but|while|whereas|although)\s", re.IGNORECASE)
# Words between the marker and the value: "previous funds initiated in 2014 and 2019" (5). Chosen by
# `python benchmarks/fit_ask.py` from 0-20 by mean out-of-fold Hit@1: every value ranked the same on the
# public halves (such phrases are rare there), so the one in use stays.
OTHERS_REACH = 8


@lru_cache(maxsize=1 << 15)
def _own_values(kind: str, text: str, reach: int) -> frozenset[str]:
    """The dates or numbers of ``text`` but those in a phrase about other instances: a value the
    same clause puts, within a few words, after "previous", "earlier", "other"... belongs to those."""
    pattern = _DATE if kind == "date" else NUMBER
    own = set()
    for match in pattern.finditer(text):
        before = text[: match.start()]
        ends = list(_CLAUSE_END.finditer(before))
        clause = before[ends[-1].end() :] if ends else before
        clause = " ".join(clause.split()[-reach:]) if reach > 0 else ""
        if not _OTHERS.search(clause):
            own.add(fold(match.group(0)))
    return frozenset(own)


# Cached by text, as ``capitalised_tokens`` is: the same sentences are read for many questions.
@lru_cache(maxsize=1 << 15)
def _values(kind: str, text: str) -> frozenset[str]:
    """The dates (``kind`` "date") or numbers of ``text``, folded."""
    return frozenset(fold(m.group(0)) for m in (_DATE if kind == "date" else NUMBER).finditer(text))


@lru_cache(maxsize=1 << 15)
def _capitalised_after_first(text: str) -> frozenset[str]:
    """Tokens of the capitalised words of ``text`` but its first (a sentence opens with a capital)."""
    return frozenset(tokenize(" ".join(w for w in _WORD.findall(text)[1:] if w[:1].isupper())))


@lru_cache(maxsize=1 << 12)
def _stems(text: str) -> frozenset[str]:
    return frozenset(tokenize(text))


def focus_coverage(
    focus: Focus,
    question: str,
    text: str,
    tokens: Sequence[str] | Vocabulary,
    context_tokens: Sequence[str] | Vocabulary = (),
) -> Coverage:
    """Which of the question's terms the sentence ``text`` (with ``tokens``) covers.

    Args:
        focus: The question's focus (``question_focus``).
        question: The question as asked (its own numbers do not answer it).
        text: The sentence, read with the sentence before it when it refers back.
        tokens: Its tokens.
        context_tokens: Tokens of the passage around it: a term found only there counts half.
    """
    held = tokens if isinstance(tokens, Vocabulary) else vocabulary(tokens)
    around = context_tokens if isinstance(context_tokens, Vocabulary) else vocabulary(context_tokens)
    names = any(term.is_multi_word_name for term in focus.terms)
    mentions = capitalised_tokens(text) if names else frozenset()
    covered, missing, in_context = [], [], []
    total = found = 0.0
    for term in focus.terms:
        total += term.weight
        if term.is_multi_word_name:
            present = any(s in mentions or s in held.tokens for s in term.stems)
        else:
            present = all(_holds(s, held) for s in term.stems)
        in_passage = not present and all(_holds(s, around) for s in term.stems)
        found += term.weight * (1.0 if present else 0.5 if in_passage else 0.0)
        if present:
            covered.append(term.label)
        elif in_passage:  # covered, by the passage shown around the quote
            covered.append(term.label)
            in_context.append(term.label)
        else:
            missing.append(term.label)
    type_found = holds_answer_type(focus.answer_type, text, question)
    if type_found is not None:
        weight = total / len(focus.terms) if focus.terms else 1.0
        total += weight
        found += weight if type_found else 0.0
        (covered if type_found else missing).append(f"{focus.expected} for “{focus.asked}”")
    share = found / total if total > 0 else 1.0
    return Coverage(tuple(covered), tuple(missing), tuple(in_context), type_found, share)


def _is_answer_type(label: str) -> bool:
    return label.split(" for “", 1)[0] in {expected for _, _, expected in _ANSWER_TYPES}


def _listing(labels: Sequence[str], conjunction: str) -> str:
    shown = [label if _is_answer_type(label) else f"“{label}”" for label in labels]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} {conjunction} {shown[-1]}"


def describe_missing(
    covered: Sequence[str], missing: Sequence[str], unknown: Callable[[str], bool] | None = None
) -> str:
    """What the best sentence lacks of the question, in words: 'the best sentence mentions “Huawei” but not
    “founded” or a date for “when”'. Empty when it lacks nothing.

    ``unknown`` tells a term no searched document holds: it is said so ('no document mentions “Apple”'),
    and a term some document holds is never called missing from the sources, only from the sentence.
    """
    if not missing:
        return ""
    absent = [m for m in missing if unknown is not None and not _is_answer_type(m) and unknown(m)]
    lacking = [m for m in missing if m not in absent]
    parts = [f"no document mentions {_listing(absent, 'or')}"] if absent else []
    if lacking:
        terms = [label for label in covered if not _is_answer_type(label)]
        if terms:
            parts.append(f"the best sentence mentions {_listing(terms, 'and')} but not {_listing(lacking, 'or')}")
        else:
            parts.append(f"the best sentence does not mention {_listing(lacking, 'or')}")
    return "; ".join(parts)
