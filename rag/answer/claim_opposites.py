"""Polarity and sense: negations, hedges, quantifiers, words of opposite sense and ranked
scales, and where a claim turns what its source says (adds or drops a "not", lifts a clause
out of its hedge, says "smaller" for "largest" or "secondary" for "primary").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.answer.claim_words import Side, stem, text_stems
from rag.text.words import Word, fold
from rag.types import Difference

_NEGATIONS = frozenset(
    "not no never none nobody nothing nowhere neither nor without cannot fail fails failed failing deny denies "
    "denied denying refuse refuses refused unable lack lacks lacked lacking".split()
)
_NOT_NEGATING = {("no", "doubt"), ("no", "less"), ("not", "least"), ("not", "only")}
# Contractions written without their apostrophe ("isnt"), as in hastily typed news copy.
_BARE_CONTRACTIONS = frozenset(
    "isnt arent wasnt werent dont doesnt didnt cant couldnt wont wouldnt shouldnt hasnt havent hadnt".split()
)
# Two words that negate what follows them: "point particles rather than solid objects".
_NEGATING_PAIRS = {("rather", "than"), ("instead", "of"), ("opposed", "to"), ("far", "from")} | {
    (decline, "to") for decline in ("decline", "declines", "declined", "declining")
}  # "declined to comment": did not comment
# Phrases under which a source reports words without asserting them; the scope runs to
# the end of the clause (for a condition, to its comma).
_HEDGES = re.compile(
    r"\b(?:(?:there\s+(?:is|was|has\s+been)\s+)?(?:no|little|scant)\s+(?:evidence|proof|indication|sign)s?\s+"
    r"(?:that|of)|(?:it\s+(?:was|is|has\s+been)\s+)?(?:suggested|alleged|rumou?red|claimed|speculated|"
    r"hypothesi[sz]ed|unclear|uncertain|doubtful|unlikely|not\s+clear|disputed|unproven)\s+(?:that|whether|if)|"
    r"(?:critics|opponents|skeptics|sceptics|detractors|some)\s+(?:say|said|claim|claimed|argue|argued|"
    r"allege|alleged|contend|contended|suggest|suggested)(?:\s+that)?|"
    r"(?:denied|denies|deny|doubt|doubts|doubted|questioned|question|asked|asks|wondered|wonders)\s+"
    r"(?:that|whether|if)|whether|if|unless|allegedly|supposedly|purportedly|reportedly|rumou?red\s+to|"
    r"(?:false|unfounded|baseless|disputed)\s+(?:claims?|reports?|rumou?rs?)\s+that|myth\s+that|"
    r"(?:reports?|claims?|rumou?rs?|allegations?|suggestions?|speculation|assertions?|(?:the|an?)\s+(?:idea|notion|"
    r"belief|view|theory|hypothesis))\s+that|"
    r"misconception\s+that|might|may\s+(?:have|be)|could\s+(?:have|be))\b",
    re.IGNORECASE,
)
CONDITIONS = frozenset({"if", "unless", "whether"})
# Words by which a claim states its own doubt: it then reports a hedged source fairly.
_DOUBTS = frozenset(
    "may might could possibly possible perhaps probably likely unlikely maybe "
    # ... or weighs them as a chance: "raised the odds of a rate cut" for "raised the odds that the Fed might cut"
    "odds chance chances likelihood possibility probability prospect prospects".split()
)
_MODALS = frozenset({"might", "may", "could"})
# Words by which a claim states a condition of its own.
_CLAIM_CONDITIONS = frozenset("if unless whether when whenever once should provided providing".split())
_CLAUSE_END = re.compile(r"[;:—–()]|\bbut\b|\bhowever\b|\balthough\b|\bwhile\b|[.!?](?=\s|$)")
_QUANTIFIERS = {
    "only": "one", "single": "one", "all": "all", "every": "all", "each": "all", "always": "all", "entire": "all",
    "most": "most", "majority": "most", "some": "some", "several": "some", "many": "some", "few": "few",
    "sometimes": "some", "none": "none", "never": "none",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Cue:
    """A negation or hedge in a text and the content words it governs."""

    start: int
    end: int
    scope: tuple[str, ...]  # stems of the content words it governs, in order
    before: tuple[str, ...] = ()  # stems of the content words before it in its clause (what it is said of)
    wide: tuple[str, ...] = ()  # stems of more words it governs, to tell whether two cues negate one thing

    @property
    def head(self) -> frozenset[str]:
        """The first two words it governs: what is negated ("not *send* a *clear* message")."""
        return frozenset(self.scope[:2])


def negations(text: str, items: Sequence[Word]) -> list[Cue]:
    """Each negating word with the stems of the (up to four) content words after it in its clause."""
    found: list[Cue] = []
    hedged = [(m.start(), m.end()) for m in _HEDGES.finditer(text)]
    for n, word in enumerate(items):
        nxt = items[n + 1].key if n + 1 < len(items) else ""
        pair = (word.key, nxt) in _NEGATING_PAIRS
        if pair and word.key.startswith("declin") and n + 2 < len(items) and not items[n + 2].key[:1].isalpha():
            pair = False  # "declined to $36.9 billion" is a fall, not a refusal
        negating = pair or word.key in _NEGATIONS or word.key in _BARE_CONTRACTIONS or word.key.endswith(("n't", "n’t"))
        if not negating or (word.key, nxt) in _NOT_NEGATING or nxt == "until":
            continue  # "isn't until March 9" says when, not whether
        if word.key == "no" and text[word.end : word.end + 1] in (",", ".", "!"):
            continue  # "No, what I do is ...": an answer to a question, not a negation of what follows
        if word.key == "nor" and found:
            continue  # "have not turned up, nor has ...": the negation goes on, as "not X or Y" says
        if any(a <= word.start < b for a, b in hedged):  # "no evidence that" is a hedge
            continue
        last = items[n + 1] if pair else word
        end = clause_end(text, last.end, condition=True)
        first = n + 2 if pair else n + 1
        scope = tuple(_scope_stems(items, first, 4, end))
        wide = tuple(_scope_stems(items, first, NEGATION_REACH, end))
        found.append(Cue(word.start, last.end, scope, _stems_before(text, items, n), wide))
    return found


# Words that say "not" in a verb or an adverb ("declined requests" for "did not respond to requests",
# "rarely keep" for "do not keep"). They answer the other text's negation of the same thing, but
# are never by themselves a negation added or dropped ("the missing girl was found" for "the girl
# was found" says no "not"). Chosen from MRPC's public faithful pairs called altered
# (benchmarks/real.py); trust.py's negation rows stay at 0%.
_NEGATIVE_WORDS = frozenset(
    "decline declines declined declining reject rejects rejected rejecting miss misses missed missing "
    "failure failures rarely seldom hardly barely scarcely impossible absent absence ban bans banned banning "
    "avoid avoids avoided avoiding refrain refrains refrained".split()
)


def negative_words(text: str, items: Sequence[Word], other: set[str]) -> list[Cue]:
    """The words of ``_NEGATIVE_WORDS`` in ``text`` whose stem ``other`` lacks, as cues."""
    found = []
    for n, word in enumerate(items):
        if word.key in _NEGATIVE_WORDS and stem(word.key) not in other and word.key not in other:
            # To the clause's end, past commas: "their failure, three times in a row, to get ..."
            end = clause_end(text, word.end)
            scope = tuple(_scope_stems(items, n + 1, 4, end))
            wide = tuple(_scope_stems(items, n + 1, NEGATION_REACH, end))
            found.append(Cue(word.start, word.end, scope, _stems_before(text, items, n), wide))
    return found


def _stems_before(text: str, items: Sequence[Word], n: int) -> tuple[str, ...]:
    """The stems of the (up to four) content words before word ``n`` in its clause."""
    clause_start = max(text.rfind(mark, 0, items[n].start) for mark in ",;:()\u2014\u2013.")
    stems = [s for w in items[:n] if w.start > clause_start for s in [stem(w.key)] if s]
    return tuple(stems[-4:])


def _scope_stems(items: Sequence[Word], first: int, limit: int, end: int) -> list[str]:
    """The stems of the content words after a cue; its plain words when it governs only
    function words ("but not *for all*")."""
    within = [w for w in items[first:] if w.start < end]
    stems = [s for w in within for s in [stem(w.key)] if s][:limit]
    return stems or [w.key for w in within[:2]]


def clause_end(text: str, at: int, *, condition: bool = False) -> int:
    pattern = re.compile(_CLAUSE_END.pattern + (r"|," if condition else ""))
    m = pattern.search(text, at)
    return m.start() if m else len(text)


def hedges(text: str, items: Sequence[Word]) -> list[Cue]:
    """Each hedge with the stems of the content words under it (to the end of its clause)."""
    found = []
    for m in _HEDGES.finditer(text):
        condition = fold(m.group(0).split()[0]) in CONDITIONS | _MODALS
        end = clause_end(text, m.end(), condition=condition)
        scope = [s for w in items if m.end() <= w.start < end for s in [stem(w.key)] if s]
        found.append(Cue(m.start(), m.end(), tuple(scope)))
    return found


# Words of opposite sense, each side with a few words of the same sense: a claim that says
# "smaller" where its source says "largest", or "opposed" where it says "advocated".
_OPPOSITES = (
    ("increase rise grow expand gain boost climb surge intensify strengthen accelerate",
     "decrease fall decline shrink drop reduce contract slump weaken ease slow curb diminish"),
    ("large big huge major significant substantial considerable vast", "small little tiny minor slight negligible"),
    ("support advocate favor favour endorse champion promote encourage welcome",
     "oppose reject resist condemn criticize criticise discourage"),
    ("accept approve allow permit authorize authorise", "refuse deny ban prohibit forbid veto"),
    ("help aid assist enable facilitate benefit", "hinder impede hamper obstruct hurt harm prevent"),
    ("win succeed success", "lose fail failure loss"), ("strong", "weak"), ("high", "low"), ("early", "late"),
    ("true correct accurate valid", "false wrong incorrect inaccurate invalid"), ("include", "exclude"),
    ("address tackle confront", "ignore neglect overlook"), ("agree", "disagree"), ("confirm", "refute deny"),
    ("rich wealthy", "poor"), ("positive", "negative"), ("open", "close shut"),
    ("start begin launch", "end stop finish halt terminate"), ("import", "export"), ("buy", "sell"),
    ("profit", "loss"), ("surplus", "deficit"), ("majority", "minority"), ("maximum", "minimum"),
    ("same similar identical", "different distinct"), ("advance progress", "retreat regress"),
    ("mandatory compulsory required", "optional voluntary"), ("cheap inexpensive", "expensive costly"),
    ("safe", "dangerous unsafe"), ("easy simple", "difficult hard"), ("public", "private"),
    ("domestic", "foreign"), ("internal", "external"), ("upper", "lower"), ("heavy", "light"),
    ("hot warm", "cold cool"), ("fast quick rapid", "slow"), ("attract", "repel"), ("alive", "dead"),
    ("emphasize emphasise stress underscore highlight", "downplay"),
    ("remember", "forget"), ("love", "hate"), ("victory", "defeat"), ("ally allies", "enemy enemies rival"),
    ("create establish found form introduce build", "abolish eliminate dissolve disband destroy scrap"),
    ("conserve preserve keep retain save maintain", "lose waste destroy"), ("join enter", "leave quit exit"),
    ("arrive", "depart"), ("appear", "disappear vanish"), ("attack", "defend"), ("acquire", "divest"),
    ("add", "remove subtract"), ("connect attach", "disconnect detach"), ("enable", "disable"),
    ("expand", "narrow"), ("raise", "lower"), ("lift ease", "tighten impose"), ("push", "pull"),
    ("inside", "outside"), ("north", "south"), ("east", "west"),
    ("ancient", "modern"), ("past", "future"), ("young", "old"), ("new", "old"), ("long", "short"),
    ("wide broad", "narrow"), ("deep", "shallow"), ("thick", "thin"), ("full", "empty"),
    ("present", "absent"), ("known", "unknown"), ("certain", "uncertain"), ("clear", "unclear"),
    ("correctly rightly", "wrongly incorrectly mistakenly"), ("equal equivalent", "unequal different"),
    ("same", "opposite"), ("common", "rare"), ("frequent", "rare"), ("always", "rarely"),
    ("often", "seldom rarely"), ("most", "least"), ("best", "worst"), ("better", "worse"),
    ("good", "bad poor"), ("positive", "negative"), ("optimistic", "pessimistic"),
    ("praise", "criticize criticise condemn"), ("reward", "punish"), ("cause", "prevent"),
    ("increase", "cut"), ("invest", "divest"), ("spend", "save"), ("borrow", "lend"), ("import", "export"),
    ("employ hire", "fire dismiss"), ("win", "lose"), ("rise", "sink"),
    ("accept", "decline"), ("include", "omit"), ("reinforce strengthen", "undermine weaken"),
    ("confirm", "contradict"), ("prove", "disprove"),
    ("legal lawful", "illegal unlawful"), ("guilty", "innocent"), ("war", "peace"), ("friend", "foe"),
    ("majority", "minority"), ("urban", "rural"), ("public", "secret"), ("formal", "informal"),
)  # fmt: skip
NEGATIVE_PREFIXES = ("un", "non", "in", "im", "il", "ir", "dis")
# Words that begin like a negation of a word of five letters or more but are words of their own
# ("the survey which uncovered the star only covered a narrow slice": found, not "not covered").
_NOT_PREFIXED = frozenset(
    stem(word)
    for word in "uncover uncovered uncovers discover discovered discovers dispatch dispatched dissolve dissolved "
    "discharge discharged disclose disclosed discount discounted improve improved impress impressed impose imposed "
    "install installed inspire inspired involve involved increase increased insist insisted intend intended "
    "inform informed interest interested instruct instructed unleash unleashed unravel unravelled".split()
)


@lru_cache(maxsize=1)
def _opposite_sides() -> dict[str, frozenset[tuple[int, int]]]:
    """Stem -> the (group, side) pairs it belongs to."""
    sides: dict[str, set[tuple[int, int]]] = {}
    for group, pair in enumerate(_OPPOSITES):
        for side, listed in enumerate(pair):
            for word in listed.split():
                for form in {stem(word), word}:
                    sides.setdefault(form, set()).add((group, side))
    return {form: frozenset(found) for form, found in sides.items()}


@lru_cache(maxsize=65536)
def _forms(key: str) -> frozenset[str]:
    """The stems a word may stand for, its comparative and superlative taken back ("larger" -> "large")."""
    forms = {stem(key), key}
    for ending in ("est", "er"):
        if key.endswith(ending) and len(key) > len(ending) + 2:
            base = key[: -len(ending)]
            forms |= {base, base + "e", base[:-1] if base[-1:] == base[-2:-1] else base}
    if key.endswith("ier") or key.endswith("iest"):
        forms.add(key[: key.rindex("i")] + "y")
    if key.startswith("mis") and len(key) >= 8:
        forms.add("wrongly")  # "misinterpreted" is "wrongly interpreted", against "correctly understood"
    return frozenset(f for f in forms if f)


def has_opposable(items: Sequence[Word]) -> bool:
    """Whether a word of ``items`` has an opposite ``opposite_differences`` reads ("larger", "rise")."""
    sides = _opposite_sides()
    return any(form in sides for w in items for form in _forms(w.key))


def opposite_differences(
    claim: Side, source: Side, claim_words: Sequence[Word], source_words: Sequence[Word]
) -> list[Difference]:
    sides = _opposite_sides()
    claim_forms = {f for w in claim_words for f in _forms(w.key)}
    source_forms = {f for w in source_words for f in _forms(w.key)}
    # The source's words of some sense that the claim does not use.
    said_by_source: dict[tuple[int, int], Word] = {}
    for word in source_words:
        forms = _forms(word.key)
        if not forms & claim_forms:
            for form in forms:
                for group_side in sides.get(form, ()):
                    said_by_source.setdefault(group_side, word)
    found = []
    for word in claim_words:
        forms = _forms(word.key)
        if forms & source_forms:
            continue
        other = next(
            (
                said_by_source[(g, 1 - side)]
                for f in forms
                for g, side in sides.get(f, ())
                if (g, 1 - side) in said_by_source
                and not _restated(
                    claim, word, source, said_by_source[(g, 1 - side)], _senses(source_words).get((g, side), [])
                )
            ),
            None,
        )
        if other is not None:
            found.append(claim.difference(source, "opposite", (word.start, word.end), (other.start, other.end)))
    return found


def _senses(items: Sequence[Word]) -> dict[tuple[int, int], list[Word]]:
    """Where a text states each sense, its hyphenated words also by their parts ("biggest-ever")."""
    sides = _opposite_sides()
    found: dict[tuple[int, int], list[Word]] = {}
    for w in items:
        for group_side in {g for part in {w.key, *w.key.split("-")} for f in _forms(part) for g in sides.get(f, ())}:
            found.setdefault(group_side, []).append(w)
    return found


def _restated(claim: Side, word: Word, source: Side, opposite: Word, same: list[Word]) -> bool:
    """Whether the source states the claim word's sense nearer where the claim says it than the
    opposite word: "the largest outage" for "rose slightly ... the biggest-ever outage" restates
    "biggest" (MRPC's faithful pairs, benchmarks/real.py); "sales dropped in Asia" for "rose in Asia
    but fell in Europe" still turns "rose"."""
    at = word.start / max(len(claim.text), 1)

    def apart(w: Word) -> float:
        return abs(w.start / max(len(source.text), 1) - at)

    return any(apart(w) < apart(opposite) for w in same)


# Ranked scales, in order: a claim that puts a thing at another place on one ("the secondary
# force" for "the primary force", "the last" for "the first") says something else, however
# near the places are. Ordinals from "third" on are numbers too (see _ORDINALS in rag.answer.claim_words).
_RANKS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth",
    "primary secondary tertiary quaternary",
    "former latter",
)
_RANK_ENDS = {"last": 0, "final": 0}  # the end of the ordinal scale, whatever its length


@lru_cache(maxsize=1)
def _rank_places() -> dict[str, tuple[int, int]]:
    """Word -> (scale, place on it)."""
    places = {word: (scale, n) for scale, line in enumerate(_RANKS) for n, word in enumerate(line.split())}
    places.update({word: (0, 99) for word in _RANK_ENDS})
    return places


def _other_rank(place: tuple[int, int], other: tuple[int, int] | None) -> bool:
    """Whether two places lie apart on one scale; "last" stands apart from "first" only (the sixth may be the last)."""
    if other is None or other[0] != place[0] or other[1] == place[1]:
        return False
    return 99 not in (place[1], other[1]) or 0 in (place[1], other[1])


def has_rank(items: Sequence[Word]) -> bool:
    """Whether a word of ``items`` is a place on a ranked scale ("first", "secondary", "last")."""
    places = _rank_places()
    return any(w.key in places for w in items)


def rank_differences(
    claim: Side, source: Side, claim_words: Sequence[Word], source_words: Sequence[Word]
) -> list[Difference]:
    """A place on a ranked scale the claim states where the source states another one."""
    places = _rank_places()
    claim_keys = {w.key for w in claim_words}
    source_keys = {w.key for w in source_words}
    found = []
    for word in claim_words:
        place = places.get(word.key)
        if place is None or word.key in source_keys:
            continue
        other = next(
            (w for w in source_words if w.key not in claim_keys and _other_rank(place, places.get(w.key))), None
        )
        if other is not None:
            found.append(claim.difference(source, "rank", (word.start, word.end), (other.start, other.end)))
    return found


# --- polarity in a comparison -----------------------------------------------------------


def negation_differences(
    claim: Side, source: Side, claim_words: Sequence[Word], source_words: Sequence[Word]
) -> list[Difference]:
    claim_stems = set(text_stems(claim.text)) | {w.key for w in claim_words}
    source_stems = set(text_stems(source.text)) | {w.key for w in source_words}
    # Only negations of what both texts talk about (what is negated, or what it is said of):
    # a claim may leave out a negated clause. A word negated by its prefix ("unaccelerated")
    # counts as a negation when the other text holds the word itself.
    claim_cues, source_cues = negations(claim.text, claim_words), negations(source.text, source_words)
    claim_prefixed, source_prefixed = _prefixed(claim_words, source_stems), _prefixed(source_words, claim_stems)
    said = [c for c in claim_cues if _relevant(claim.text, c, source_stems, of=False)] + claim_prefixed
    stated = [c for c in source_cues if _relevant(source.text, c, claim_stems, of=True)] + source_prefixed
    # A negation counts as added (or dropped) only when no negation of the other text, of
    # whatever words, is said of the same things: "doesn't yet have an attorney" says what
    # "does not have a lawyer" does; "refuses to extend" is not "refuse to serve".
    claim_words_negating = negative_words(claim.text, claim_words, source_stems)
    source_words_negating = negative_words(source.text, source_words, claim_stems)
    added = _unanswered(said, claim_cues + claim_prefixed, source_cues + source_prefixed + source_words_negating)
    if added:
        return [claim.difference(source, "negation", (c.start, c.end), (0, 0)) for c in added]
    dropped = _unanswered(stated, source_cues + source_prefixed, claim_cues + claim_prefixed + claim_words_negating)
    return [claim.difference(source, "negation", (0, 0), (c.start, c.end)) for c in dropped]


# Negations that stand before a noun: "no passenger was ejected" negates "ejected" of "passenger".
_DETERMINERS = frozenset("no none nobody nothing neither".split())


def _relevant(text: str, cue: Cue, other: set[str], *, of: bool) -> bool:
    """Whether the other text says what ``cue`` negates: one of the first two words it governs
    (or, with ``of``, what it is said of); both of them after "no", whose first is the noun it
    is said of ("some were thrown out" leaves out "no passenger was ejected", it does not deny it)."""
    if not cue.scope:
        return not of or bool(set(cue.before) & other)
    if fold(text[cue.start : cue.end]) in _DETERMINERS and len(cue.head) > 1:
        return cue.head <= other
    return bool(cue.head & other or (of and set(cue.before) & other))


# Content words after a negation that tell what it is about, to pair it with the other text's
# ("could not be reached for comment" / "did not immediately return a call seeking comment").
# Measured on MRPC's public faithful pairs (benchmarks/real.py): 4, the scope a negation's
# relevance is judged on, left such pairs unpaired; 6 pairs them and still tells "refuses to
# extend" from "refuse to serve" (tests/test_claims.py) with trust.py's negation rows at 0%.
NEGATION_REACH = 6


def _answers(cue: Cue, other: Cue) -> bool:
    if not cue.scope and not other.scope:
        return True
    mine, theirs = set(cue.wide or cue.scope), set(other.wide or other.scope)
    mine_of, theirs_of = set(cue.before), set(other.before)
    if mine & theirs:
        return True
    if mine & theirs_of and theirs & mine_of:
        return False  # the two swap their sides: "X rather than Y" / "Y rather than X"
    # What one negates may be what the other is said of: "no absolute rest frame" / "an absolute
    # rest frame did not exist".
    return bool(mine_of & theirs_of or mine & theirs_of or theirs & mine_of)


def _unanswered(relevant: list[Cue], mine: list[Cue], theirs: list[Cue]) -> list[Cue]:
    """The relevant cues of one text that no cue of the other answers (each answers one): a cue
    answers another when what they govern shares a word, or what they are said of, or neither governs any."""
    spare = list(theirs)
    unanswered = []
    for cue in mine:
        other = next((o for o in spare if _answers(cue, o)), None)
        if other is not None:
            spare.remove(other)
        elif cue in relevant:
            unanswered.append(cue)
    return unanswered


def _prefixed(items: Sequence[Word], other: set[str]) -> list[Cue]:
    """Words negated by a prefix ("unchanged", "nonexistent") whose root the other text holds, and
    it not them ("uncovered" or "improved" are words of their own, see _NOT_PREFIXED)."""
    found = []
    for word in items:
        key = word.key.replace("-", "")  # "non-binding" is "nonbinding"
        if stem(key) in _NOT_PREFIXED:
            continue
        for prefix in NEGATIVE_PREFIXES:
            rest = key[len(prefix) :]
            if not key.startswith(prefix) or len(rest) < 5 or stem(key) in other:
                continue
            near = stem(rest) if stem(rest) in other else _root_near(rest, other)
            if near:
                found.append(Cue(word.start, word.end, tuple(dict.fromkeys((stem(rest), stem(near) or near)))))
                break
    return found


def _root_near(root: str, other: set[str]) -> str:
    """The word of the other text that is the root in another form ("penality" for "(un)penalised"), or ""."""
    head = root[:ROOT_PREFIX]
    return min((o for o in other if len(o) >= ROOT_PREFIX and o.startswith(head)), default="")


# Letters a prefixed word's root shares with a word of the other text to be that word in
# another form ("penalised"/"penality" share "penali"); 6 keeps "covered"/"coverage" apart
# from "cover"/"covert" (5). Set by hand on MRPC's faithful pairs; trust.py's negation rows stay at 0%.
ROOT_PREFIX = 6


def hedge_differences(
    claim: Side, source: Side, claim_words: Sequence[Word], source_words: Sequence[Word]
) -> list[Difference]:
    if hedges(claim.text, claim_words) or {w.key for w in claim_words} & _DOUBTS:
        return []  # the claim reports the words as the source does, or with its own doubt
    claim_stems = text_stems(claim.text)
    found = []
    claim_keys = {w.key for w in claim_words}
    for cue in hedges(source.text, source_words):
        first = fold(source.text[cue.start : cue.end].split()[0])
        if first in _MODALS & claim_keys:
            continue  # "could generate" says what "could be self-generating" does
        if first in CONDITIONS and claim_keys & _CLAIM_CONDITIONS:
            continue  # "should a user lose it" states the condition "if a user loses it" does
        if first in CONDITIONS and cue.scope and cue.scope[0] not in claim_stems:
            # A condition with no comma runs to the sentence's end: the claim must say what opens
            # it, not only the main clause after it ("unsure if *they are owed* money can use ...").
            continue
        shared = set(cue.scope) & claim_stems
        if len(shared) >= max(2, len(set(cue.scope)) // 2):
            found.append(claim.difference(source, "hedge", (0, 0), (cue.start, cue.end)))
    return found


def quantifier_differences(
    claim: Side, source: Side, claim_words: Sequence[Word], source_words: Sequence[Word]
) -> list[Difference]:
    """A quantifier of the claim ("every node") against another one on the same noun in the
    source ("only one node"): the noun is the first of the next few claim words the source holds."""
    found = []
    positions: dict[str, list[int]] = {}
    for m, other in enumerate(source_words):
        positions.setdefault(stem(other.key), []).append(m)
    for n, word in enumerate(claim_words):
        kind = _QUANTIFIERS.get(word.key)
        if kind is None:
            continue
        following = [stem(w.key) for w in claim_words[n + 1 : n + 5]]
        at = [m for s in following if s for m in positions.get(s, ())]
        rivals = (w for m in at for w in source_words[max(0, m - 3) : m] if _QUANTIFIERS.get(w.key, kind) != kind)
        rival = next(rivals, None)
        if rival is not None:
            found.append(claim.difference(source, "quantifier", (word.start, word.end), (rival.start, rival.end)))
    return found
