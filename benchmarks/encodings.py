"""How often a short text in a legacy encoding is read as its own characters (a benchmark).

python benchmarks/encodings.py [--baseline CHECKOUT] [--json]

Sentences of 10-60 characters written here (news-like, in each language), each encoded in the
codepages that write it: GBK, Big5, Shift-JIS, EUC-KR, KOI8-R, cp1251, cp1252 and latin-1. A text
counts as read right when rag's decoder gives back exactly the sentence, whatever it calls the
codec (latin-1 text read as cp1252 is the same characters). With --baseline, the same sentences
are read by another checkout's decoder in a subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("RAG_ENCODINGS_CHECKOUT", str(ROOT)))

from rag.errors import IngestError  # noqa: E402

try:
    from rag.ingest.decode import decode_text_and_encoding
except ImportError:  # a baseline checkout from before issue 23 dropped the underscore
    from rag.ingest.decode import _decode_text_and_encoding as decode_text_and_encoding  # type: ignore[attr-defined]

CHINESE_SIMPLIFIED = [
    "中国宣布设立新的投资基金。",
    "北京今天有小雨，气温十五度。",
    "政府将加大对半导体产业的支持力度。",
    "上海证券交易所股票全线上涨。",
    "这座城市的人口超过两千万。",
    "国家统计局公布了最新的经济数据，显示增长放缓。",
]
CHINESE_TRADITIONAL = [
    "台灣宣布成立新的投資基金。",
    "台北今天下雨，氣溫十五度。",
    "政府將加強對半導體產業的支持。",
    "這座城市的人口超過兩百萬。",
    "立法院通過了新的預算案。",
    "颱風預計明天登陸東部沿海地區。",
]
JAPANESE = [
    "東京は日本の首都です。",
    "政府は新しい投資基金の設立を発表しました。",
    "明日は全国的に雨が降るでしょう。",
    "株価は三日連続で上昇した。",
    "首相は記者会見で増税を否定した。",
    "新幹線は大雪のため運転を見合わせています。",
]
KOREAN = [
    "서울은 한국의 수도입니다.",
    "정부는 새로운 투자 기금을 발표했다.",
    "내일은 전국에 비가 내리겠습니다.",
    "주가가 사흘 연속 올랐다.",
    "대통령은 기자회견에서 증세를 부인했다.",
    "반도체 수출이 지난달 크게 늘었다.",
]
RUSSIAN = [
    "Москва - столица России.",
    "Правительство объявило о новом фонде.",
    "Завтра в городе ожидается дождь.",
    "Цены на нефть выросли третий день подряд.",
    "Президент подписал новый закон.",
    "В Сибири выпал первый снег.",
]
WESTERN_CP1252 = [
    "Le gouvernement a annoncé un fonds de 40 milliards d’euros.",
    "Die Straße in München ist gesperrt – wegen Bauarbeiten.",
    "El presidente habló con “firmeza” ante el Congreso.",
    "Kostet 12 € pro Person, sagt der Veranstalter.",
    "L’été sera chaud, selon Météo-France.",
    "São Paulo recebeu a cúpula… com atraso.",
]
WESTERN_LATIN1 = [
    "Grüße aus München und Köln.",
    "Le café est fermé à Noël.",
    "La niña comió piñata en España.",
    "Smörgåsbord på svenska är gött.",
    "Der Bürgermeister hat die Gebühren erhöht.",
    "O governo anunciou a reforma da previdência.",
]
SETS: list[tuple[str, list[str]]] = [
    ("gbk", CHINESE_SIMPLIFIED),
    ("big5", CHINESE_TRADITIONAL),
    ("shift_jis", JAPANESE),
    ("euc-kr", KOREAN),
    ("koi8-r", RUSSIAN),
    ("cp1251", RUSSIAN),
    ("cp1252", WESTERN_CP1252),
    ("latin-1", WESTERN_LATIN1),
]


def read_as(data: bytes) -> tuple[str, str]:
    """The text and codec rag reads ``data`` (a .txt file's bytes) in; ("", reason) when it refuses it."""
    try:
        return decode_text_and_encoding(data, Path("short.txt"))
    except IngestError as err:
        return "", str(err)


def measure() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for codec, sentences in SETS:
        for sentence in sentences:
            assert 10 <= len(sentence) <= 60, sentence
            text, read_codec = read_as(sentence.encode(codec))
            rows.append({"codec": codec, "sentence": sentence, "right": text == sentence, "read_as": read_codec})
    return rows


def _baseline(checkout: Path) -> list[dict[str, object]]:
    environment = {**os.environ, "RAG_ENCODINGS_CHECKOUT": str(checkout), "PYTHONPATH": str(checkout)}
    output = subprocess.run(
        [sys.executable, __file__, "--json"], env=environment, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output)


def _accuracy(rows: list[dict[str, object]]) -> dict[str, tuple[int, int, str]]:
    result: dict[str, tuple[int, int, str]] = {}
    for codec, _ in SETS:
        mine = [row for row in rows if row["codec"] == codec]
        wrong = Counter(str(row["read_as"]) for row in mine if not row["right"])
        result[codec] = (
            sum(bool(row["right"]) for row in mine),
            len(mine),
            ", ".join(f"{n}x {c}" for c, n in wrong.items()),
        )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print every sentence's result as JSON")
    parser.add_argument("--baseline", type=Path, help="a checkout whose decoder to measure beside this one")
    args = parser.parse_args()
    rows = measure()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    columns = [("this checkout", _accuracy(rows))]
    if args.baseline:
        columns.insert(0, ("baseline", _accuracy(_baseline(args.baseline.resolve()))))
    print(f"{'encoding':<11}" + "".join(f"{name:>16}  {'misread as':<28}" for name, _ in columns))
    for codec, _ in SETS:
        cells = [f"{acc[codec][0]:>13}/{acc[codec][1]:<2}  {acc[codec][2][:28]:<28}" for _, acc in columns]
        print(f"{codec:<11}" + "".join(cells))
    for name, acc in columns:
        right = sum(value[0] for value in acc.values())
        total = sum(value[1] for value in acc.values())
        print(f"{name}: {right}/{total} read right ({right / total:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
