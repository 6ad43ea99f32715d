"""Whether a question is written in English, and if not, which language it looks like.

rag's sentence model and its word matching are English: a question in another language finds
little and, before this module, abstained with a list of its stop words ("el", "de") as the
"missing" terms. This is a small detector of our own, enough to say so plainly: the script of the
letters (Chinese, Cyrillic, Arabic...), then for Latin letters the share of a few dozen very common
words of each language (stop-word profiles). It never decides what is answered; it only names
the language in the reason of an abstention (``not_english_reason``), for the app, the CLI and the API.
"""

from __future__ import annotations

import re
import unicodedata

# The most common short words of each language, minus any that are also English words.
_PROFILES: dict[str, frozenset[str]] = {
    name: frozenset(words.split())
    for name, words in {
        "Spanish": "el la los las del que y en un una unos por con para es son fue qué cuánto cuánta cuántos "
        "cuántas cómo dónde quién quiénes cuándo cuál porque se su sus al lo más pero ya está este esta "
        "estos hay ha muy también sobre entre desde hasta según dinero quiere nuevo nueva",
        "French": "le la les des du que qui et en un une est sont pour avec dans sur au aux ce cette ces quel "
        "quelle combien comment où quand pourquoi il elle ils pas plus été son sa ses leur nouveau nouvelle",
        "German": "der die das den dem des und ist sind ein eine einen wer wie wo wann warum welche welcher "
        "viel wieviel nicht mit von zu im auf für sich auch es wurde wird hat haben neue neuen geld will",
        "Italian": "il lo la gli le di del della dei che e è un una per con non sono chi come dove quando "
        "perché quanto quanti quale nel nella alla anche più suo sua nuovo nuova",
        "Portuguese": "o os as do da dos das que e em um uma para com não é são quem como onde quando "
        "porque quanto quantos qual no na pelo pela seu sua mais novo nova dinheiro",
        "Dutch": "de het een en van is zijn wat wie hoe waar wanneer waarom welke niet met voor op aan ook "
        "er dat die te naar veel geld nieuwe",
    }.items()
}
_ENGLISH = frozenset(
    "the a an of and to in is are was were be been what who whom whose how when where why which much many "
    "did does do it its he she they that this these those for on with by at from as or not has have had "
    "will would can could about into than then there their his her our your more most also".split()
)
_PROFILES = {name: words - _ENGLISH for name, words in _PROFILES.items()}
# Scripts by the first word of the Unicode character name; kana before Han, since Japanese mixes both.
_SCRIPTS = (
    ("HIRAGANA", "Japanese"),
    ("KATAKANA", "Japanese"),
    ("HANGUL", "Korean"),
    ("CJK", "Chinese"),
    ("CYRILLIC", "a language in Cyrillic script (such as Russian)"),
    ("ARABIC", "Arabic"),
    ("HEBREW", "Hebrew"),
    ("GREEK", "Greek"),
    ("DEVANAGARI", "Hindi"),
    ("THAI", "Thai"),
)
_WORD = re.compile(r"[^\W\d_]+")


def _script(character: str) -> str:
    name = unicodedata.name(character, "")
    return next((language for prefix, language in _SCRIPTS if name.startswith(prefix)), "")


def detect_language(text: str) -> str | None:
    """The language ``text`` looks written in when it is not English (None: English, or no telling).

    A text is taken for another language when most of its letters are in another script, or when
    at least two of its words are common words of one language and they outnumber its common
    English words two to one (so a name like "Casa de la Musica" in an English question does not count).
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    scripts: dict[str, int] = {}
    for character in letters:
        if not ("a" <= character.lower() <= "z"):
            found = _script(character)
            if found:
                scripts[found] = scripts.get(found, 0) + 1
    if scripts:
        script, count = max(scripts.items(), key=lambda item: item[1])
        if "Japanese" in scripts and script == "Chinese":
            script = "Japanese"
        if sum(scripts.values()) * 2 >= len(letters):
            return script
    words = [w.casefold() for w in _WORD.findall(text)]
    english = sum(w in _ENGLISH for w in words)
    hits = {name: sum(w in profile for w in words) for name, profile in _PROFILES.items()}
    name, best = max(hits.items(), key=lambda item: item[1])
    if text.lstrip().startswith(("\u00bf", "\u00a1")) and best >= 1 and name != "Spanish" and hits["Spanish"]:
        name, best = "Spanish", hits["Spanish"]  # the inverted marks are Spanish's own
    if best >= 2 and best >= 2 * max(english, 1) and list(hits.values()).count(best) == 1:
        return name
    return None


def not_english_reason(question: str) -> str | None:
    """The reason to give when a question not in English abstains, or None for an English question.

    The query side calls this where it words an abstention (the app does too, for answers made
    before that hook), so that the CLI, the API and the app all say the same thing.
    """
    language = detect_language(question)
    return f"rag matches English questions; this looks like {language}" if language else None
