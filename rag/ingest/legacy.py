"""Which legacy codepage reads a non-Western text as the most plausible characters for its script.

charset-normalizer alone misreads short texts: a KOI8-R sentence came out as Shift-JIS, a
Shift-JIS one as cp949 (benchmarks/encodings.py). Each common codepage of a non-Latin script
(and the detector's own pick) is tried, and the reading whose characters are the most plausible
wins: common Chinese characters rather than rare ones, kana rather than half-width katakana,
Hangul of the KS X 1001 set, Cyrillic words cased as words are (lower, Title or UPPER case).
"""

from __future__ import annotations

import codecs
import re
import unicodedata

# The codepages tried besides the detector's pick, in the order that breaks a tie: what a
# legacy text file in Chinese, Japanese, Korean or Russian is written in.
CANDIDATES = ("gb18030", "big5", "cp932", "euc_kr", "cp1251", "koi8-r")
# The reading is judged on this much of the file: enough for a clear verdict, bounded per codepage.
_JUDGED_BYTES = 4096
_SPACED_IDEOGRAPHS = re.compile("[\u4e00-\u9fff] (?=[\u4e00-\u9fff])")


def most_plausible(data: bytes, detected: str | None, *, to_beat: float = -1.0) -> str | None:
    """The codec among ``detected`` and ``CANDIDATES`` that reads ``data`` strictly as the most
    plausible text, if it scores above ``to_beat``; None when none does."""
    names = list(dict.fromkeys(filter(None, [detected, *CANDIDATES])))
    best, best_score = None, to_beat
    for name in names:
        try:
            data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        score = plausibility(data[:_JUDGED_BYTES].decode(name, errors="ignore"))
        if score > best_score:
            best, best_score = name, score
    return best


def plausibility(text: str) -> float:
    """The share of the characters beyond ASCII that are plausible in running text of their script."""
    scores: list[float] = []
    # Chinese and Japanese do not space their words; Korean does, and EUC-KR read as GBK comes
    # out as common Chinese characters in spaced "words" ("林啊啊 荤汝").
    spaced = len(_SPACED_IDEOGRAPHS.findall(text)) >= 2
    for word in text.split():
        cyrillic = [c for c in word if "\u0400" <= c <= "\u04ff"]
        if len(cyrillic) >= 2:
            scores.extend([_cased(cyrillic)] * len(cyrillic))
            word = "".join(c for c in word if not "\u0400" <= c <= "\u04ff")
        scores.extend(_character(c) * (0.5 if spaced and _is_ideograph(c) else 1.0) for c in word if ord(c) > 0x7F)
    return sum(scores) / len(scores) if scores else 0.0


def _cased(letters: list[str]) -> float:
    """Cyrillic letters of one word: plausible when cased as a word is (a KOI8-R word read as
    cp1251 comes out "мНЯЙБЮ"); all capitals half as plausible, since a lowercase text in one of
    the two codepages reads as all capitals in the other."""
    rest = letters[1:]
    if all(c.islower() for c in rest):
        return 1.0
    if all(c.isupper() for c in letters):
        return 0.5
    return 0.0


def _is_ideograph(char: str) -> bool:
    return 0x4E00 <= ord(char) <= 0x9FFF


def _character(char: str) -> float:
    code = ord(char)
    if _is_ideograph(char):  # common when in GB2312, Big5's frequent level or JIS X 0208 level 1
        return 1.0 if _common_ideograph(char) else 0.3
    if 0xAC00 <= code <= 0xD7A3:  # a Hangul syllable: the 2,350 of KS X 1001 are the ones in use
        return 1.0 if _encoded_length(char, "euc_kr") == 2 else 0.1
    if 0xFF61 <= code <= 0xFF9F:  # half-width katakana: rare in running text
        return 0.0
    if 0x3000 <= code <= 0x30FF or 0xFF01 <= code <= 0xFF5E:  # CJK punctuation, kana, full-width forms
        return 1.0
    category = unicodedata.category(char)
    if category.startswith("L"):
        return 1.0
    if category in ("Pd", "Pi", "Pf", "Po", "Ps", "Pe", "Zs", "Sc"):  # punctuation, spaces, currency
        return 0.8
    return 0.0  # controls, private use, box drawing and other symbols


def _common_ideograph(char: str) -> bool:
    if _encoded_length(char, "gb2312"):
        return True
    big5 = _encoded(char, "big5")
    if big5 and 0xA4 <= big5[0] <= 0xC6:  # Big5 level 1: the 5,401 frequent characters
        return True
    jis = _encoded(char, "shift_jis")
    return bool(jis) and 0x88 <= jis[0] <= 0x98  # JIS X 0208 level 1: the 2,965 frequent kanji


def _encoded(char: str, codec: str) -> bytes:
    try:
        return codecs.encode(char, codec)
    except UnicodeEncodeError:
        return b""


def _encoded_length(char: str, codec: str) -> int:
    """Bytes ``char`` takes in ``codec``, 0 when it has none (Python's euc_kr spells syllables
    outside KS X 1001 as 8-byte jamo sequences, which no real EUC-KR text holds)."""
    return len(_encoded(char, codec))
