"""Names in a claim against its source: runs of capitalised words, titles, acronyms and
their expansions, country aliases, and the names a claim puts where its source has others.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from rag.answer.claim_words import DAYS, MONTHS, WEEKDAYS, Side, content_stems, number_word, stem, words
from rag.text.sentences import sentence_spans
from rag.text.words import STOPWORDS, Word
from rag.types import Difference

# --- names ----------------------------------------------------------------------------

# Countries named in another form: "American" for "U.S.", "British" for "UK". Names that
# share a stem ("China"/"Chinese", "Japan"/"Japanese") need no entry (see _alike).
_ALIASES = {
    "us": "us", "usa": "us", "america": "us", "american": "us", "americans": "us", "united states": "us",
    "washington": "us", "uk": "uk", "britain": "uk", "british": "uk", "great britain": "uk",
    "united kingdom": "uk", "london": "uk", "beijing": "china", "prc": "china", "mainland": "china",
    "moscow": "russia", "tokyo": "japan", "seoul": "korea", "paris": "france", "french": "france",
    "france": "france", "berlin": "germany", "netherlands": "netherlands", "dutch": "netherlands",
    "holland": "netherlands", "switzerland": "switzerland", "swiss": "switzerland", "spain": "spain",
    "spanish": "spain", "sweden": "sweden", "swedish": "sweden", "denmark": "denmark", "danish": "denmark",
    "poland": "poland", "polish": "poland", "turkey": "turkey", "turkish": "turkey", "greece": "greece",
    "greek": "greece", "ireland": "ireland", "irish": "ireland", "scotland": "scotland", "scottish": "scotland",
    "wales": "wales", "welsh": "wales", "finland": "finland", "finnish": "finland", "philippines": "philippines",
    "filipino": "philippines", "europe": "europe", "european": "europe", "eu": "europe", "new delhi": "india",
}  # fmt: skip
# Titles: part of a name run, but no name by themselves.
_TITLES = frozenset(
    "premier president minister prime chancellor governor king queen prince princess pope bishop general "
    "senator mayor chairman chief secretary judge justice professor saint st "
    "sen rep gov gen lt col sgt capt adm maj rev ceo cfo coo".split()
)
# Capitalised words that are not names: titles and words capitalised by convention.
_NOT_NAMES = frozenset(
    "mr mrs ms dr prof sir madam i the a an co inc corp ltd plc today yesterday tomorrow tonight".split()
) | frozenset(MONTHS)


def _canonical(key: str) -> str:
    return _ALIASES.get(key, key)


def _alike(a: str, b: str) -> bool:
    """The same name in two forms: equal, aliases, or one stem ("China"/"Chinese")."""
    if a == b or _canonical(a) == _canonical(b):
        return True
    a, b = a.replace("'", "").replace("\u2019", ""), b.replace("'", "").replace("\u2019", "")
    if a.removesuffix("s") == b.removesuffix("s"):  # "O'Neill's" / "ONeills", "Day's" / "Days"
        return True
    shorter = min(len(a), len(b))
    common = len(_common_prefix(a, b))
    return shorter >= 4 and common >= 4 and common >= shorter - 1


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _is_name(word: Word) -> bool:
    """A capitalised word that may be a name: not a function word, a number or an initial ("H.")."""
    return (
        word.capitalised
        and len(word.key) > 1
        and word.key not in STOPWORDS
        and word.key not in _NOT_NAMES
        and not word.key[:1].isdigit()
        and number_word(word) is None
    )


def name_runs(items: Sequence[Word], text: str) -> list[list[Word]]:
    """Runs of adjacent capitalised words ("Premier Li Qiang", "U.S."), in order."""
    runs: list[list[Word]] = []
    for word in items:
        if not _is_name(word):
            continue
        if runs and text[runs[-1][-1].end : word.start] in (" ", "-") and not word.weak:
            runs[-1].append(word)
        else:
            runs.append([word])
    return runs


@lru_cache(maxsize=4096)
def name_evidence(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The folded words ``text`` capitalises mid-sentence, and those it writes in lower case (cached)."""
    items = words(text)
    return (
        frozenset(w.key for w in items if _is_name(w) and not w.weak),
        frozenset(w.key for w in items if w.text[:1].islower()),
    )


def known_names(items: Iterable[Word]) -> frozenset[str]:
    """Folded words capitalised mid-sentence and never written in lower case: names, wherever
    else they appear ("Police Chief Moose" does not make "police" a name where "the police" is written)."""
    items = list(items)
    lower = {w.key for w in items if w.text[:1].islower()}
    return frozenset(w.key for w in items if _is_name(w) and not w.weak and w.key not in lower)


def _unpossessive(word: Word) -> int:
    """Where the name itself ends: before an "'s"."""
    return word.end - 2 if word.text.endswith(("'s", "’s")) else word.end


def keys_of(items: Iterable[Word]) -> set[str]:
    """The folded words, a hyphenated one also by its parts: "al-Qaeda" names what "al Qaeda" does."""
    keys = set()
    for word in items:
        keys.add(word.key)
        if "-" in word.key:
            keys.update(part for part in word.key.split("-") if part)
    return keys


def _present(word: Word, keys: set[str]) -> bool:
    parts = [word.key, *word.key.split("-")] if "-" in word.key else [word.key]
    return any(_alike(part, key) for part in parts for key in keys)


# Words an expansion may hold that its acronym leaves out ("Bureau of Labor Statistics" -> BLS).
_ACRONYM_SKIPS = frozenset("of and for the on in at to &".split())


def acronyms(items: Sequence[Word]) -> frozenset[str]:
    """The initials of each stretch of two or more capitalised words ("Air Transportation
    Stabilization Board" -> "atsb", and its shorter stretches), function words inside skipped."""
    found = set()
    stretch: list[str] = []
    for word in (*items, None):
        if word is not None and word.capitalised and not word.key[:1].isdigit():
            stretch.append(word.key[0])
            for n in range(len(stretch) - 1):
                found.add("".join(stretch[n:]))
        elif word is None or word.key not in _ACRONYM_SKIPS or not stretch:
            stretch = []
    return frozenset(found)


def spelt_out(items: Sequence[Word], wanted: set[str] | frozenset[str]) -> list[Word]:
    """The words of the stretches of capitalised words whose initials are one of ``wanted``."""
    found: list[Word] = []
    stretch: list[Word] = []
    for word in (*items, None):
        if word is not None and word.capitalised and not word.key[:1].isdigit():
            stretch.append(word)
            capitals = [w for w in stretch if w.key not in _ACRONYM_SKIPS or w.capitalised]
            for n in range(len(capitals) - 1):
                if "".join(w.key[0] for w in capitals[n:]) in wanted:
                    found += capitals[n:]
        elif word is None or word.key not in _ACRONYM_SKIPS or not stretch:
            stretch = []
    return found


def _acronym(word: Word) -> bool:
    """Whether a word is written as an acronym: two to six capitals ("ATSB", "U.S.")."""
    letters = word.text.replace(".", "")
    return 2 <= len(letters) <= 6 and letters.isupper() and letters.isalpha()


def _run_present(run: Sequence[Word], keys: set[str]) -> bool:
    joined = " ".join(w.key for w in run)
    return joined in _ALIASES and any(_canonical(k) == _ALIASES[joined] for k in keys)


def _strong(run: Sequence[Word], elsewhere: set[str] | frozenset[str]) -> bool:
    """A run that is surely a name: more than a sentence's capitalised first word, unless that
    word owns something ("Li's"), is known as a name, or names a country."""
    word = run[0]
    possessive = word.text.endswith(("'s", "’s"))
    return len(run) > 1 or not word.weak or possessive or word.key in elsewhere or word.key in _ALIASES


# --- names in a comparison --------------------------------------------------------------


@lru_cache(maxsize=4096)
def name_stems(text: str) -> frozenset[str]:
    """The stems of the capitalised words of ``text`` that are surely names (not a sentence's first word)."""
    return frozenset(content_stems(w for w in words(text) if _is_name(w) and not w.weak))


def name_differences(
    claim: Side,
    source: Side,
    claim_words: Sequence[Word],
    source_words: Sequence[Word],
    context_words: Sequence[Word],
    names: frozenset[str],
    corpus_terms: frozenset[str],
) -> list[Difference]:
    source_keys = keys_of(source_words)
    context_keys = source_keys | keys_of(context_words)
    claim_keys = keys_of(claim_words)
    # An acronym and its expansion name the same thing ("ATSB", "Air Transportation Stabilization
    # Board"): an acronym written on one side is present when the other side spells it out.
    # An acronym that glosses the claim's own words ("Cognitive Events Listing (CTA)") vouches
    # for no other expansion of it.
    claim_acronyms = {w.key for w in claim_words if _acronym(w) and not claim.text[: w.start].rstrip().endswith("(")}
    source_acronyms = {w.key for w in (*source_words, *context_words) if _acronym(w)}
    claim_keys |= source_acronyms & acronyms(claim_words)
    claim_keys |= {w.key for w in spelt_out([*source_words, *context_words], claim_acronyms)}
    source_keys |= claim_acronyms & acronyms(source_words)
    source_keys |= {w.key for w in spelt_out(claim_words, {w.key for w in source_words if _acronym(w)})}
    context_keys |= source_keys | (claim_acronyms & acronyms(context_words))
    context_keys |= {w.key for w in spelt_out(claim_words, source_acronyms)}
    # A weekday is a date (see number_differences) where the source names a day.
    days = (source_keys | context_keys) & DAYS
    # A capitalised word is a name in the source when it is capitalised mid-sentence somewhere there.
    elsewhere = names | known_names(source_words) | known_names(context_words)
    runs = [
        r
        for r in _trimmed(name_runs(source_words, source.text), elsewhere)
        if _strong(r, elsewhere) and not _run_present(r, claim_keys) and not all(w.key in WEEKDAYS for w in r)
    ]
    whole_runs = name_runs(source_words, source.text)
    # A title stands for no one: "Lt." is never the name a claim's "Colby" replaced.
    runs = [kept for r in runs if (kept := [w for w in r if w.key not in _TITLES])]
    # Names of the source sentence the claim leaves out entirely ("BYD").
    missing_runs = [r for r in runs if not any(_present(w, claim_keys) for w in r)]
    # Every capitalised run of the source the claim leaves out, for a name put in one's place.
    frame_runs = [r for r in whole_runs if not any(_present(w, claim_keys) for w in r)]
    found = []
    for run in _trimmed(name_runs(claim_words, claim.text), elsewhere):
        # A name the passage holds is no change, and a sentence's capitalised first word is a name only
        # when known as one ("However" is not): unless it stands where the source has a name the claim
        # leaves out, between the same words ("Oklahoma has the largest" for "Texas has the largest").
        # Either side may be a sentence's opening word; one of the two must be known as a name, or the
        # claim's word be one the corpus never uses.
        in_place = _in_place_of(run, claim_words, source_words, frame_runs)
        if in_place is not None and not (
            _strong(run, elsewhere) or _strong(in_place, elsewhere) or stem(run[0].key) not in corpus_terms
        ):
            in_place = None
        if in_place is None and (_run_present(run, context_keys) or not _strong(run, elsewhere)):
            continue
        if in_place is not None:
            if in_place in missing_runs:
                missing_runs.remove(in_place)
            missing_runs.insert(0, in_place)  # the name it stands for is the one it replaced
        # Or in part, where the claim's name shares a word with the source's: "Zhejiang" of
        # "Zhejiang Province" when the claim says "Guangdong Province".
        run_keys = {w.key for w in run}
        # A claim name that only lengthens one of the source's ("Skagit River" for "the Skagit")
        # replaces nothing, unless a name the claim leaves out stands right by the source's
        # ("Click Save" for "Click the Ready ... link").
        shared = [r for r in whole_runs if any(x.key in run_keys for x in r if x.key not in _TITLES)]
        if (
            shared
            and all(x.key in run_keys for r in shared for x in r)
            and not _beside(shared, missing_runs, source_words)
        ):
            continue
        # The source run sharing most words with the claim's comes first ("TC NAC Live Log").
        sharing = sorted(runs, key=lambda r: -sum(x.key in run_keys for x in r))
        parts = [
            [w]
            for r in sharing
            if any(x.key in run_keys for x in r if x.key not in _TITLES)
            for w in r
            if not _present(w, run_keys) and w.key not in _TITLES
        ]
        for word in run:
            # A title is no person: "President Xi" and "Xi" are one man.
            if word.key in _TITLES or _present(word, source_keys) or (days and word.key in WEEKDAYS):
                continue
            if word.key in WEEKDAYS:  # a day the source does not name: a date the claim adds
                found.append(claim.difference(source, "date", (word.start, _unpossessive(word)), (0, 0)))
                continue
            if _present(word, context_keys):
                # Named around the source sentence: a change only when it takes the place
                # of a name the sentence holds and the claim leaves out.
                partners = missing_runs
                changed = bool(partners)
            else:
                # Never named there: a change when it takes a left-out name's place, or when it
                # is a name met elsewhere in the corpus. A capitalised word met nowhere else
                # ("the Party congress") may be the claim's own wording: not by itself a change.
                partners = parts + missing_runs
                from_corpus = word.key in names or (_strong(run, elsewhere) and stem(word.key) in corpus_terms)
                changed = bool(partners) or from_corpus
            if not changed:
                continue
            other = partners[0] if partners else None
            if other is not None:
                _drop(missing_runs, other)
                _drop(parts, other)
            theirs = (other[0].start, _unpossessive(other[-1])) if other else (0, 0)
            found.append(claim.difference(source, "name", (word.start, _unpossessive(word)), theirs))
    return found


def _in_place_of(
    run: Sequence[Word], claim_words: Sequence[Word], source_words: Sequence[Word], missing_runs: list[list[Word]]
) -> list[Word] | None:
    """The source name, left out of the claim, that the claim's name ``run`` stands in place of: the
    words right before and right after are the same on both sides (or both open the sentence).

    "Oklahoma has the largest number of members" for "Texas has the largest number of members" puts
    one name in another's place, though the passage names Oklahoma too and the claim's first word
    is capitalised only as an opening. Only an unchanged frame counts, so a reworded sentence
    that names someone else is judged as before.
    """
    at = next((n for n, w in enumerate(claim_words) if w is run[0]), None)
    if at is None:
        return None
    before = claim_words[at - 1].key if at else None
    after = claim_words[at + len(run)].key if at + len(run) < len(claim_words) else None
    if after is None:
        return None
    for source_run in missing_runs:
        there = next((n for n, w in enumerate(source_words) if w is source_run[0]), None)
        if there is None:
            continue
        source_before = source_words[there - 1].key if there else None
        end = there + len(source_run)
        if source_before == before and end < len(source_words) and source_words[end].key == after:
            return source_run
    return None


# Content words either side of a claim's name that say which source sentence it is about.
NAME_WINDOW = 3


def misattributed_names(
    claim: Side, source: Side, claim_words: Sequence[Word], source_words: Sequence[Word], names: frozenset[str]
) -> list[Difference]:
    """Names a claim moves from one sentence of a joined source to another.

    A claim aligned with two adjacent sentences holds all their names, yet may put the name
    of one in the other's clause: "President Xi Jinping has reinforced this vision" for
    "President Xi Jinping has long advocated ... Premier Li Qiang has reinforced this vision".
    Each claim name is checked against the sentence that holds most of the words around it.
    """
    spans = sentence_spans(source.text)
    if len(spans) < 2:
        return []
    elsewhere = names | known_names(source_words)
    sentences = [[w for w in source_words if a <= w.start < b] for a, b in spans]
    sentence_stems = [content_stems(ws) for ws in sentences]
    claim_keys = keys_of(claim_words) | acronyms(claim_words)
    found = []
    for run in name_runs(claim_words, claim.text):
        people = [w for w in run if w.key not in _TITLES]
        if not people or not _strong(run, elsewhere):
            continue
        at = claim_words.index(run[0])
        after = claim_words.index(run[-1]) + 1
        before = [w for w in claim_words[:at] if stem(w.key) and not _is_name(w)][-NAME_WINDOW:]
        around = content_stems(
            [*before, *[w for w in claim_words[after:] if stem(w.key) and not _is_name(w)][:NAME_WINDOW]]
        )
        holders = [n for n, ws in enumerate(sentences) if all(_present(w, keys_of(ws)) for w in people)]
        if not holders or not around:
            continue
        overlap = [len(around & stems) for stems in sentence_stems]
        best = max(range(len(sentences)), key=lambda n: overlap[n])
        if best in holders or overlap[best] <= max(overlap[n] for n in holders) or overlap[best] < 2:
            continue
        keys = keys_of(sentences[best])
        missing = [
            r
            for r in name_runs(sentences[best], source.text)
            if _strong(r, elsewhere)
            and not any(_present(w, claim_keys) for w in r if w.key not in _TITLES)
            and not all(_present(w, keys) for w in people)
        ]
        missing = [[w for w in r if w.key not in _TITLES] for r in missing]
        missing = [r for r in missing if r]
        if missing:
            other = missing[0]
            mine = (people[0].start, _unpossessive(people[-1]))
            found.append(claim.difference(source, "name", mine, (other[0].start, _unpossessive(other[-1]))))
    return found


def _trimmed(runs: list[list[Word]], elsewhere: frozenset[str]) -> list[list[Word]]:
    """The runs without a sentence's capitalised first word not known as a name ("Although Prempro" -> "Prempro")."""
    return [r[1:] if len(r) > 1 and not _strong(r[:1], elsewhere) else r for r in runs]


def _beside(runs: list[list[Word]], others: list[list[Word]], items: Sequence[Word]) -> bool:
    """Whether one of ``others`` starts within two words after one of ``runs`` ends, or ends just before it starts."""
    at = {id(w): n for n, w in enumerate(items)}
    for run in runs:
        first, last = at[id(run[0])], at[id(run[-1])]
        for other in others:
            if 0 < at[id(other[0])] - last <= 3 or 0 < first - at[id(other[-1])] <= 3:
                return True
    return False


def _drop(runs: list[list[Word]], taken: list[Word]) -> None:
    """Remove from ``runs`` those that share a word with ``taken`` (a name pairs with one claim word)."""
    runs[:] = [r for r in runs if not any(w in taken for w in r)]
