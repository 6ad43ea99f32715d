"""manifest.json is written byte for byte as the format defines it (format 3).

The expected text in tests/data/manifest/ was written by the code before the on-disk index
moved into ``rag/index/``; only what varies from run to run is normalised (times, the corpus
path, the generation's name and the checksums of the SQLite files, which hold the time a
document was added). Random names are made deterministic by replacing ``uuid.uuid4``.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from rag import build_index
from rag.index.manifest import Manifest, SegmentEntry
from tests.fakes import FakeEmbedder

MIX = 0x9E3779B97F4A7C15F39CC0605CEDC835  # spreads a counter over every hex digit
EXPECTED = Path(__file__).resolve().parent / "data" / "manifest"

FIRST = (
    "The harbour opened in 1901. Ships from Lisbon docked there. Fishermen sold cod on the quay.\n\n"
    "Trade grew by 12% in a decade. A second pier was built in 1920. Cranes arrived soon after.\n\n"
    "The old lighthouse still stands. Its lamp was lit by hand until 1950. Visitors climb it in summer.\n"
)
SECOND = (
    "---\ntitle: Tea harvest\nsource: example.org\n---\nThe tea harvest began early. Farmers picked leaves in March.\n"
)
THIRD = "# Rail\n\nThe railway reached the town in 1911. It carried coal and grain.\n"


def normalised(text: str) -> str:
    text = re.sub(r'"built_at": "[^"]*"', '"built_at": "TIME"', text)
    text = re.sub(r'"corpus": "[^"]*"', '"corpus": "CORPUS"', text)
    text = re.sub(r'"build_seconds": [0-9.e-]+', '"build_seconds": SECONDS', text)
    text = re.sub(r"gen-\d{14}-[0-9a-f]{8}", "gen-GENERATION", text)
    text = re.sub(r'"manifest_sha256": "[0-9a-f]{64}"', '"manifest_sha256": "CHECKSUM"', text)
    return re.sub(r'(/meta\.sqlite": \{\n\s*"size": \d+,\n\s*"sha256": ")[0-9a-f]{64}"', r'\1SQLITE"', text)


@pytest.fixture()
def counted_uuids(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = iter(range(1, 1_000_000))
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=next(counter) * MIX % 2**128))


def test_manifest_text_is_as_format_3_writes_it(tmp_path: Path, counted_uuids: None) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(FIRST, encoding="utf-8")
    (corpus / "tea.md").write_text(SECOND, encoding="utf-8")
    index_dir = tmp_path / "index"
    built = build_index(corpus, index_dir, embedder=FakeEmbedder())
    first = normalised((index_dir / "manifest.json").read_text(encoding="utf-8"))
    (corpus / "tea.md").write_text(SECOND.replace("March", "April"), encoding="utf-8")
    (corpus / "rail.md").write_text(THIRD, encoding="utf-8")
    updated = build_index(corpus, index_dir, embedder=FakeEmbedder())
    second = normalised((index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert len(updated.manifest["segments"]) == 2 and built.manifest["segments"][0]["removed"] == []
    assert first == (EXPECTED / "built.json").read_text(encoding="utf-8")
    assert second == (EXPECTED / "updated.json").read_text(encoding="utf-8")


def test_a_read_manifest_writes_back_the_same_json(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(FIRST, encoding="utf-8")
    build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    content = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    manifest = Manifest.from_dict(content)
    assert manifest.to_json() == content and list(manifest.to_json()) == list(content)
    assert manifest.segments[0].first_row == 0 and manifest.segments[0].sentences == 9


ENTRY = {"name": "seg-a", "first_row": 0, "sentences": 1, "first_passage": 0, "passages": 1, "removed": []}


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({**ENTRY, "name": "../x"}, "invalid segment"),
        ({**ENTRY, "first_row": -1}, "row counts"),
        ({**ENTRY, "first_row": True}, "row counts"),
        ({**ENTRY, "removed": "d"}, "removed documents"),
        ({k: v for k, v in ENTRY.items() if k != "removed"}, "removed documents"),
    ],
)
def test_a_damaged_segment_entry_says_what_is_wrong(entry: dict, problem: str) -> None:
    assert SegmentEntry.from_dict(ENTRY).to_dict() == ENTRY
    with pytest.raises(ValueError, match=problem):
        SegmentEntry.from_dict(entry)
