"""Legacy encodings: GBK, KOI8-R, Shift-JIS and Big5 text read as its own characters, the encoding kept per document.

Detection runs after the byte-order mark, strict UTF-8 and a declared charset; Western text
keeps the cp1252 reading (short cp1252 text is otherwise taken for cp1250).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from rag import build_index
from rag.app.render import document_header_html, document_rows
from rag.cli.main import main
from rag.ingest import IN_PROCESS_MAX_BYTES, read_document
from rag.text.sentences import split_sentences
from tests.fakes import FakeEmbedder
from tests.helpers import assert_offsets
from tests.test_ingest import make_pdf

CHINESE = (
    "中国是世界上人口最多的国家之一。北京是中国的首都，上海是最大的城市。"
    "长江是中国最长的河流，流经十一个省份。中国政府宣布设立新的国家投资基金，支持半导体产业的发展。"
)
RUSSIAN = (
    "Москва - столица России. Это крупнейший город страны и один из крупнейших городов Европы. "
    "Правительство объявило о создании нового фонда для поддержки промышленности."
)
JAPANESE = "東京は日本の首都です。人口は約千四百万人です。政府は新しい投資基金の設立を発表しました。"
GERMAN = "Grüße aus München. Die Straße ist schön."
TAIWANESE = "台灣是一個島嶼。台北是最大的城市。政府宣布成立新的投資基金，支持半導體產業的發展。"

LEGACY = [
    pytest.param("china.txt", CHINESE, "gbk", "gb18030", id="GBK"),
    pytest.param("russia.txt", RUSSIAN, "koi8-r", "koi8-r", id="KOI8-R"),
    pytest.param("japan.md", JAPANESE, "shift_jis", "cp932", id="Shift-JIS"),
    pytest.param("taiwan.txt", TAIWANESE, "big5", "big5", id="Big5"),
    pytest.param("russia-1251.txt", RUSSIAN, "cp1251", "cp1251", id="cp1251"),
    pytest.param("greece.txt", "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.", "cp1253", "cp1253", id="Greek cp1253"),
]


@pytest.mark.parametrize(("name", "text", "codec", "recorded"), LEGACY)
def test_legacy_text_is_read_as_its_own_characters(tmp_path: Path, name, text, codec, recorded) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode(codec))
    document = read_document(path, name)
    assert document.text == text
    assert document.encoding == recorded
    assert_offsets(document.text, split_sentences(document.text, name))


@pytest.mark.parametrize(
    ("content", "text", "recorded"),
    [
        pytest.param("café – “quoted”".encode("cp1252"), "café – “quoted”", "cp1252", id="short cp1252"),
        pytest.param(GERMAN.encode("cp1252"), GERMAN, "cp1252", id="German cp1252"),
        pytest.param("naïve “x” ".encode() + b"caf\xe9 end", "naïve “x” café end", "utf-8+cp1252", id="mixed"),
        # Short Western text the detector alone takes for Big5, cp1006 or cp1125:
        pytest.param("Über alles".encode("cp1252"), "Über alles", "cp1252", id="Über"),
        pytest.param("naïve résumé".encode("cp1252"), "naïve résumé", "cp1252", id="résumé"),
        pytest.param("Smörgåsbord och kött".encode("cp1252"), "Smörgåsbord och kött", "cp1252", id="Swedish"),
        pytest.param("Prix: 5 €".encode("cp1252"), "Prix: 5 €", "cp1252", id="euro"),
        pytest.param("plain UTF-8: 北京".encode(), "plain UTF-8: 北京", "utf-8", id="utf-8"),
        pytest.param(b"\xef\xbb\xbfwith a BOM", "with a BOM", "utf-8", id="utf-8 BOM"),
    ],
)
def test_western_text_keeps_the_cp1252_reading_and_says_so(tmp_path: Path, content, text, recorded) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(content)
    document = read_document(path, "a.txt")
    assert (document.text, document.encoding) == (text, recorded)


def test_a_big_legacy_file_read_in_the_parser_process_keeps_its_encoding(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    assert len(((CHINESE + "\n\n") * 2000).encode("gbk")) > IN_PROCESS_MAX_BYTES
    path.write_bytes(((CHINESE + "\n\n") * 2000).encode("gbk"))  # over IN_PROCESS_MAX_BYTES
    document = read_document(path, "big.txt")
    assert document.text.startswith(CHINESE) and document.encoding == "gb18030"


def test_a_file_larger_than_the_detectors_sample_is_detected_from_whole_characters(tmp_path: Path) -> None:
    # 2 MB of GBK: the sample the detector reads must not end inside a two-byte character.
    path = tmp_path / "long.txt"
    line = "中国是世界上人口最多的国家之一。北京是中国的首都，上海是最大的城市。\n"
    data = (line * 20_000).encode("gbk")
    assert data[: 256 * 1024][-1] >= 0x80, "the detector's sample would end inside a character"
    path.write_bytes(data)
    document = read_document(path, "long.txt")
    assert document.encoding == "gb18030" and document.text.startswith(line)


def _legacy_corpus(folder: Path) -> Path:
    folder.mkdir()
    (folder / "china.txt").write_bytes(CHINESE.encode("gbk"))
    (folder / "russia.txt").write_bytes(RUSSIAN.encode("koi8-r"))
    (folder / "notes.txt").write_text("Plain notes in UTF-8 about the fund.", encoding="utf-8")
    return folder


def test_the_index_keeps_each_documents_encoding_and_the_viewer_shows_a_legacy_one(tmp_path: Path) -> None:
    index = build_index(_legacy_corpus(tmp_path / "corpus"), tmp_path / "index", embedder=FakeEmbedder())
    encodings = {d["doc_id"]: d["encoding"] for d in index.documents()}
    assert encodings == {"china.txt": "gb18030", "notes.txt": "utf-8", "russia.txt": "koi8-r"}
    china = index.document("china.txt")
    assert china is not None and china.text == CHINESE and china.encoding == "gb18030"
    assert "read as gb18030" in document_header_html(china)
    notes = index.document("notes.txt")
    assert notes is not None and "read as" not in document_header_html(notes)


def test_the_documents_table_has_an_encoding_column(tmp_path: Path) -> None:
    corpus = _legacy_corpus(tmp_path / "corpus")
    (corpus / "report.pdf").write_bytes(make_pdf([["The fund was announced in March."]]))
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    rows, doc_ids = document_rows(index)
    encodings = {doc_id: row[4] for doc_id, row in zip(doc_ids, rows, strict=True)}
    assert encodings == {"china.txt": "gb18030", "notes.txt": "utf-8", "report.pdf": "\u2014", "russia.txt": "koi8-r"}


def test_an_index_written_before_the_encoding_was_kept_still_reads(tmp_path: Path) -> None:
    build_index(_legacy_corpus(tmp_path / "corpus"), tmp_path / "index", embedder=FakeEmbedder())
    database = next((tmp_path / "index").rglob("meta.sqlite"))
    old = tmp_path / "old.sqlite"
    old.write_bytes(database.read_bytes())
    connection = sqlite3.connect(old)
    connection.execute("PRAGMA journal_mode=DELETE")
    connection.execute("ALTER TABLE documents DROP COLUMN encoding")
    connection.commit()
    connection.close()
    from rag.index.metadata import MetadataStore

    store = MetadataStore.open(old)
    assert {h.doc_id: h.encoding for h in store.document_headers()} == dict.fromkeys(
        ("china.txt", "notes.txt", "russia.txt"), ""
    )
    document = store.document("china.txt")
    assert document is not None and document.text == CHINESE and document.encoding == ""
    store.close()


@pytest.mark.usefixtures("packaged_model")
def test_rag_info_counts_the_encodings(tmp_path: Path, capsys) -> None:
    corpus = _legacy_corpus(tmp_path / "corpus")
    assert main(["index", str(corpus), "--index", str(tmp_path / "index")]) == 0
    capsys.readouterr()
    assert main(["info", "--index", str(tmp_path / "index")]) == 0
    out = capsys.readouterr().out
    assert "encodings:  1 gb18030, 1 koi8-r, 1 utf-8" in out
    assert main(["info", "--json", "--index", str(tmp_path / "index")]) == 0
    assert json.loads(capsys.readouterr().out)["encodings"] == {"gb18030": 1, "koi8-r": 1, "utf-8": 1}
