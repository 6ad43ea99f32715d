"""Short texts (one sentence) in legacy encodings are read as their own characters.

The sentences here are not those of benchmarks/encodings.py, which the plausibility rules were
written against: they check that the rules carry over to text they were not tried on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest import read_document
from rag.ingest.legacy import plausibility

SHORT = [
    ("gbk", "深圳的房价今年下跌了百分之五。"),
    ("gbk", "他说会议将在下周举行。"),
    ("big5", "颱風造成嚴重的農業損失。"),
    ("big5", "總統今天出席了國慶典禮。"),
    ("shift_jis", "大阪で大きな地震がありました。"),
    ("shift_jis", "来週から電気料金が値上がりします。"),
    ("euc-kr", "부산에서 큰 축제가 열렸다."),
    ("euc-kr", "환율이 크게 떨어졌습니다."),
    ("koi8-r", "Самолёт приземлился в Казани."),
    ("koi8-r", "Выборы пройдут в сентябре."),
    ("cp1251", "Самолёт приземлился в Казани."),
    ("cp1251", "Выборы пройдут в сентябре."),
    ("cp1252", "Le ministre l’a confirmé à Bruxelles."),
    ("latin-1", "Die Bürger wählen am Sonntag."),
]


@pytest.mark.parametrize(("codec", "sentence"), SHORT, ids=[f"{c}-{n}" for n, (c, _) in enumerate(SHORT)])
def test_a_short_sentence_is_read_as_its_own_characters(tmp_path: Path, codec: str, sentence: str) -> None:
    path = tmp_path / "short.txt"
    path.write_bytes(sentence.encode(codec))
    assert read_document(path, "short.txt").text == sentence


def test_cyrillic_words_cased_as_words_are_more_plausible_than_koi8_r_read_as_cp1251() -> None:
    koi8 = "Москва - столица России.".encode("koi8-r")
    assert plausibility(koi8.decode("koi8-r")) > plausibility(koi8.decode("cp1251"))


def test_korean_read_as_chinese_is_less_plausible_than_hangul() -> None:
    data = "주가가 사흘 연속 올랐다.".encode("euc-kr")
    assert plausibility(data.decode("euc_kr")) > plausibility(data.decode("gb18030"))
