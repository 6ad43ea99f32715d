"""The words of a claim and of its source: spans, folded keys, stems, and the amounts and dates they state.

``words`` reads a text's words with spans into the text as stored (compared in NFKC);
``quantities`` reads its amounts, counts, percentages and dates, normalised; ``Side`` is a
text being compared and where it lies, and ``number_differences`` the amounts and dates a
claim states that its source does not.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from rag.text.words import Word, fold, tokenize
from rag.types import ChangeKind, Difference, DifferenceKind

# Words with their spans: dotted acronyms ("U.S."), words with inner apostrophes or
# hyphens ("Li's", "state-backed"), numbers with separators ("1,000.5"), and the signs
# that belong to amounts ("$US13.15", as wire copy writes US dollars, is "$13.15").
_WORD = re.compile(
    r"(?:[^\W\d_]\.){2,}|\d+(?:[.,]\d+)*(?:st|nd|rd|th|['\u2019]?s)?|\$US(?=\d)|[^\W_]+(?:['\u2019\-][^\W_]+)*|[$€£¥%]"
)


@lru_cache(maxsize=1024)
def normalised(text: str, form: Literal["NFC", "NFKC"] = "NFKC") -> tuple[str, list[int] | None, list[int] | None]:
    """``text`` in normal ``form`` (NFKC to match words, NFC to match verbatim), with where
    each of its characters comes from.

    ``starts[i]:ends[i]`` is the span of ``text`` that character ``i`` of the normal form
    stands for: a base character with its combining marks ("e" + U+0301 -> "é") is
    normalised as one piece, so a span of normal text maps back to whole characters of
    ``text`` and cited offsets stay exact (macOS writes file text decomposed, NFD). ASCII text
    is its own normal form: both maps are then None (each character stands for itself).
    """
    if text.isascii():
        return text, None, None
    parts, starts, ends = [], [], []
    at = 0
    while at < len(text):
        end = at + 1
        while end < len(text) and unicodedata.combining(text[end]):
            end += 1
        piece = unicodedata.normalize(form, text[at:end])
        parts.append(piece)
        starts += [at] * len(piece)
        ends += [end] * len(piece)
        at = end
    return "".join(parts), starts, ends


def original_span(starts: list[int] | None, ends: list[int] | None, start: int, end: int) -> tuple[int, int]:
    """The span of the original text that ``start:end`` of its normal form stands for."""
    if starts is None or ends is None:
        return start, end
    if start >= end:
        at = starts[start] if start < len(starts) else (ends[-1] if ends else 0)
        return at, at
    return starts[start], ends[end - 1]


@lru_cache(maxsize=4096)
def words(text: str) -> tuple[Word, ...]:
    """The words of ``text`` with their spans, in order (cached: passages are compared often).

    Words are read from the text's normal form (NFKC) and their spans point into ``text``.
    A hyphenated word holding a number word is split ("two-three-year" -> "two", "three",
    "year"), so that a range reads as its numbers.
    """
    norm, starts, ends = normalised(text)
    found = []
    for m in _WORD.finditer(norm):
        start, end = original_span(starts, ends, m.start(), m.end())
        weak = _opens(text, start)
        parts = m.group(0).split("-")
        if len(parts) > 1 and _reads_as_numbers(parts):
            at = m.start()
            for n, part in enumerate(parts):
                a, b = original_span(starts, ends, at, at + len(part))
                found.append(Word(text[a:b], a, b, _key(part), weak and n == 0))
                at += len(part) + 1
            continue
        found.append(Word(text[start:end], start, end, _key(m.group(0)), weak))
    return tuple(found)


def _reads_as_numbers(parts: list[str]) -> bool:
    """Whether a hyphenated word holds a number to read apart: a number word ("two-three-year") or
    digits ("3-to-1", the "to-1" after "3"), but not a capitalised name ("Take-Two")."""
    if any(p[:1].isupper() for p in parts[1:]):
        return False
    return any(p.isdigit() or fold(p) in _UNITS or fold(p) in _SCALES or fold(p) in _CURRENCY for p in parts)


def _opens(text: str, at: int) -> bool:
    """Whether a word at ``at`` opens the text, a sentence or a quotation (its capital says nothing)."""
    at -= 1
    lines = 0
    while at >= 0 and text[at].isspace():
        lines += text[at] == "\n"
        if lines == 2:
            return True  # a paragraph's first word (a PDF's hard line break inside a sentence is one newline)
        at -= 1
    return at < 0 or text[at] in ".!?:\"'“‘(«—–-”’"


@lru_cache(maxsize=65536)
def _key(word: str) -> str:
    key = fold(word)
    if key[:1].isdigit():
        return key.replace("'", "")  # "1990's" is "1990s"
    if key.endswith(("'s", "’s")):
        key = key[:-2]
    return key.replace(".", "") if re.fullmatch(r"(?:[^\W\d_]\.)+", key) else key


@lru_cache(maxsize=65536)
def stem(key: str) -> str:
    """The Snowball stem of one folded word ('' for a stopword)."""
    stems = tokenize(key)
    return stems[0] if len(stems) == 1 else ""


@lru_cache(maxsize=4096)
def text_stems(text: str) -> frozenset[str]:
    """The content stems of ``text`` (cached)."""
    return frozenset(content_stems(words(text)))


def content_stems(items: Iterable[Word]) -> set[str]:
    """The stems of the content words (hyphenated words also by their parts)."""
    found = set()
    for word in items:
        for part in (word.key, *word.key.split("-"), word.key.replace("-", "")):
            if s := stem(part):
                found.add(s)
    return found


# --- numbers and dates ---------------------------------------------------------------------------

_UNITS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12,
}  # fmt: skip
# "first" and "second" are left out: far more often an order or a time than a count.
_ORDINALS = {
    "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "twentieth": 20, "thirtieth": 30, "hundredth": 100,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "bn": 1e9, "mn": 1e6}
_SCALES |= {word + "s": value for word, value in _SCALES.items() if len(word) > 2}  # "1.1 millions"
_CURRENCY = {
    "$": "usd", "dollar": "usd", "dollars": "usd", "usd": "usd", "us$": "usd", "$us": "usd",
    "€": "eur", "euro": "eur", "euros": "eur", "eur": "eur",
    "£": "gbp", "pound": "gbp", "pounds": "gbp", "gbp": "gbp", "sterling": "gbp",
    "¥": "cny", "yuan": "cny", "renminbi": "cny", "rmb": "cny", "cny": "cny", "yen": "jpy",
    "%": "percent", "percent": "percent", "pct": "percent",
}  # fmt: skip
MONTHS = {
    m: i
    for i, m in enumerate(
        "january february march april may june july august september october november december".split(), start=1
    )
}
# Their abbreviations, as news copy writes them ("Nov. 11").
MONTHS |= {m[:3]: n for m, n in MONTHS.items() if m != "may"} | {"sept": 9}
# A weekday is a date, told apart from another weekday only: "Wednesday" for "today" says the same.
WEEKDAYS = {d: i for i, d in enumerate("monday tuesday wednesday thursday friday saturday sunday".split(), start=1)}
DAYS = frozenset(WEEKDAYS) | {"today", "yesterday", "tomorrow", "tonight"}
# Words before an amount that say which way it is bounded ("over $40 billion").
_BOUNDS = {
    ("more", "than"): ">", ("over",): ">", ("above",): ">", ("exceeding",): ">", ("upwards", "of"): ">",
    ("at", "least"): ">", ("in", "excess", "of"): ">", ("greater", "than"): ">",
    ("less", "than"): "<", ("fewer", "than"): "<", ("under",): "<", ("below",): "<", ("at", "most"): "<",
    ("up", "to"): "<", ("nearly",): "<", ("almost",): "<", ("just", "under"): "<",
    ("about",): "~", ("around",): "~", ("roughly",): "~", ("approximately",): "~", ("some",): "~",
}  # fmt: skip
_DIGITS = re.compile(r"(\d+(?:,\d{3})*(?:\.\d+)?)(st|nd|rd|th|s)?(?:$|-[^\W\d_])")
_VERSION = re.compile(r"\d+(?:\.\d+){2,}$")


@dataclass(frozen=True, slots=True)
class Quantity:
    """An amount, count, percentage or date stated in a text, normalised."""

    value: float
    unit: str  # "usd", "percent", "ordinal", "year", "month", "decade"... or "" for a bare count
    bound: str  # ">", "<", "~" or ""
    start: int
    end: int
    bound_start: int = -1  # where the words of its bound begin ("over" of "over $40 billion"), else -1

    @property
    def kind(self) -> DifferenceKind:
        return "date" if self.unit in ("year", "month", "decade", "weekday") else "number"


def number_word(word: Word) -> float | None:
    if word.key in _UNITS:
        return float(_UNITS[word.key])
    return None


def quantities(text: str, items: Sequence[Word] | None = None) -> list[Quantity]:
    """The amounts of ``text``: "$40 billion", "forty billion dollars", "8", "eight", "2019", "40%"."""
    return list(_quantities(text)) if items is None else _read_quantities(items)


@lru_cache(maxsize=4096)
def _quantities(text: str) -> tuple[Quantity, ...]:
    """The amounts of ``text`` (cached: a claim is compared with several sources, a passage with many claims)."""
    return tuple(_read_quantities(words(text)))


def _read_quantities(items: Sequence[Word]) -> list[Quantity]:
    found: list[Quantity] = []
    i = 0
    while i < len(items):
        quantity, i = _read_quantity(items, i)
        if quantity is not None:
            found.append(quantity)
    return found


def _read_quantity(items: Sequence[Word], i: int) -> tuple[Quantity | None, int]:
    word = items[i]
    if word.key in WEEKDAYS and word.capitalised:
        return Quantity(float(WEEKDAYS[word.key]), "weekday", "", word.start, word.end), i + 1
    if word.key in MONTHS and word.capitalised and not (word.key == "may" and word.weak):
        return Quantity(float(MONTHS[word.key]), "month", "", word.start, word.end), i + 1
    if word.key in _ORDINALS:
        return Quantity(float(_ORDINALS[word.key]), "ordinal", "", word.start, word.end), i + 1
    first = i
    currency = ""
    if word.key in ("$", "$us", "€", "£", "¥") and i + 1 < len(items) and items[i + 1].start == word.end:
        currency, i = _CURRENCY[word.key], i + 1
    total, current, seen, unit, j = 0.0, 0.0, False, "", i
    if _VERSION.match(word.key):  # "5.3.2": equal only to itself
        parts = [int(p) for p in word.key.split(".")]
        version = float(sum(p * 1000.0**-n for n, p in enumerate(parts)))
        return Quantity(version, "version", "", word.start, word.end), i + 1
    while j < len(items):
        w = items[j]
        digits = _DIGITS.match(w.key)
        if digits and not seen:
            current = float(digits.group(1).replace(",", ""))
            suffix = digits.group(2) or ""
            if suffix in ("st", "nd", "rd", "th"):
                unit = "ordinal"
            elif suffix == "s" and current >= 1000:
                unit = "decade"
            seen, j = True, j + 1
            if unit:
                break
            continue
        value = number_word(w)
        if value is not None and not (w.key == "one" and not _scale_follows(items, j)):
            if seen and not _continues(current, total, value, items[j - 1]):
                break  # "two three" or "2 - 3" are two numbers, not one
            current += value
            seen, j = True, j + 1
            continue
        if w.key == "a" and not seen and _scale_follows(items, j):
            current, seen, j = 1.0, True, j + 1
            continue
        if w.key in _SCALES and seen:
            scale = _SCALES[w.key]
            if scale == 100:
                current = max(current, 1.0) * 100
            else:
                total += max(current, 1.0) * scale
                current = 0.0
            j += 1
            continue
        after_scale = items[j - 1].key in _SCALES
        if w.key == "and" and seen and after_scale and j + 1 < len(items) and number_word(items[j + 1]) is not None:
            j += 1
            continue
        break
    if not seen:
        return None, first + 1
    value = total + current
    end = items[j - 1].end
    if not currency and not unit and j < len(items):
        following = items[j].key
        if following in _CURRENCY:
            unit, end, j = _CURRENCY[following], items[j].end, j + 1
        elif following == "per" and j + 1 < len(items) and items[j + 1].key == "cent":
            unit, end, j = "percent", items[j + 1].end, j + 2
    unit = unit or currency
    start = items[first].start
    bare = items[i].key
    if not unit and re.fullmatch(r"1\d{3}|20\d{2}", bare) and j - i == 1:
        unit = "year"
    bound, bound_start = _bound_before(items, first)
    return Quantity(value, unit, bound, start, end, bound_start), j


def _continues(current: float, total: float, value: float, previous: Word) -> bool:
    """Whether a number word goes on the amount read so far: "forty two", "two hundred (and) five"."""
    if previous.key in _SCALES or previous.key == "and":
        return True
    tens = current >= 20 and current % 10 == 0 and current % 100 != 0 and value < 10
    return tens and not previous.key[:1].isdigit()


def _scale_follows(items: Sequence[Word], j: int) -> bool:
    return j + 1 < len(items) and items[j + 1].key in _SCALES


def _bound_before(items: Sequence[Word], i: int) -> tuple[str, int]:
    """The bound the words before item ``i`` set, and where they begin (-1 without one)."""
    for phrase, bound in _BOUNDS.items():
        n = len(phrase)
        if i >= n and tuple(w.key for w in items[i - n : i]) == phrase:
            return bound, items[i - n].start
    return "", -1


def same_amount(claim: Quantity, source: Quantity) -> bool:
    """Whether the claim's amount states what the source's does (units and bounds compatible)."""
    if claim.kind != source.kind:
        return False
    if claim.unit and source.unit and claim.unit != source.unit:
        return False
    if {claim.bound, source.bound} == {">", "<"}:
        return False
    if math.isclose(claim.value, source.value, rel_tol=1e-9):
        return True
    # "about 40 billion" for 40.5 billion; a bare claim never rounds.
    return claim.bound == "~" and math.isclose(claim.value, source.value, rel_tol=0.05)


# --- comparison of amounts -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Side:
    """A text being compared and where it lies: ``offset`` maps its spans to absolute ones."""

    text: str
    offset: int

    def difference(
        self,
        other: Side,
        kind: DifferenceKind,
        mine: tuple[int, int],
        theirs: tuple[int, int],
        change: ChangeKind | Literal[""] = "",
    ) -> Difference:
        """``change`` left empty is read from which sides hold words (see ``rag.types.Difference``)."""
        a, b = mine
        c, d = theirs
        return Difference(
            kind,
            self.text[a:b],
            self.offset + a,
            self.offset + b,
            other.text[c:d],
            other.offset + c,
            other.offset + d,
            change,
        )


def number_differences(
    claim: Side, source: Side, claim_words: Sequence[Word], source_words: Sequence[Word]
) -> list[Difference]:
    said, stated = quantities(claim.text), quantities(source.text)
    # Each source amount answers one claim amount; a claim may still repeat an amount, but
    # "in 2012 and 2012" for "in 2011 and 2012" leaves a source year without its counterpart.
    spare, unmatched, repeats = list(stated), [], []
    for q in said:
        same = next((s for s in spare if same_amount(q, s)), None)
        if same is not None:
            spare.remove(same)
        elif any(same_amount(q, s) for s in stated):
            repeats.append(q)
        else:
            unmatched.append(q)
    unmatched += [q for q in repeats if any(s.kind == q.kind for s in spare)]
    # A weekday differs only from another weekday: "Wednesday" may be what the source calls "today".
    unmatched = [q for q in unmatched if q.unit != "weekday" or any(s.unit == "weekday" for s in spare)]
    # A bare "1" is what the source writes "one" ("1 in 2,000" / "one in 2,000"), a word not read
    # as an amount on its own: "one" is as often a pronoun ("one of them").
    ones = sum(w.key == "one" for w in source_words) - sum(w.key == "one" for w in claim_words)
    for q in [q for q in unmatched if q.value == 1 and not q.unit and q.bound in ("", "~")]:
        if ones > 0:
            unmatched.remove(q)
            ones -= 1
    unmatched.sort(key=lambda q: q.start)
    found = []
    for q in unmatched:
        pool = [s for s in spare if s.unit == "weekday"] if q.unit == "weekday" else []
        # An amount pairs with one in its own unit; a bare count never with a sum of money.
        same_unit = [s for s in spare if s.kind == q.kind and s.unit == q.unit]
        unitless = [s for s in spare if s.kind == q.kind and s.unit in ("", q.unit) and s.unit != "weekday"]
        if not pool:
            pool = same_unit or (unitless if not q.unit else [s for s in spare if s.kind == q.kind] or spare)
        other = min(pool, key=lambda s: _distance(claim, q, source, s), default=None)
        if other is not None:
            spare.remove(other)
        mine, theirs = (q.start, q.end), (other.start, other.end) if other else (0, 0)
        if other is not None and q.value == other.value and q.bound != other.bound:
            # The same amount bounded the other way: the difference is in the bound ("below 50" / "above 50").
            mine, theirs = (_with_bound(q), q.end), (_with_bound(other), other.end)
        found.append(claim.difference(source, q.kind, mine, theirs))
    return found


def _distance(claim: Side, mine: Quantity, source: Side, theirs: Quantity) -> float:
    """How unlikely ``theirs`` is the amount ``mine`` replaced: apart in the sentence, and in orders of
    magnitude ("a gain of 4.64 points at 1,735.34" for "gained 13.73 points ... at 1,700.34")."""
    apart = abs(_relative(claim, mine.start) - _relative(source, theirs.start))
    return apart + abs(math.log10(max(abs(mine.value), 1e-3)) - math.log10(max(abs(theirs.value), 1e-3)))


def _with_bound(quantity: Quantity) -> int:
    return quantity.bound_start if quantity.bound_start >= 0 else quantity.start


def _relative(side: Side, at: int) -> float:
    return at / max(len(side.text), 1)
