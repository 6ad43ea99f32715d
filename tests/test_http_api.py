"""The HTTP API as a curl user meets it: the calls of docs/http-api.md, run as written against a live app."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import load_index
from tests.test_ui import free_port, stop_app, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "http-api.md"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, packaged_model: str) -> Iterator[tuple[int, Path]]:
    """``python ui.py`` over the seed corpus on a free port, without a password; its port and index."""
    root = tmp_path_factory.mktemp("http-api")
    shutil.copytree(ROOT / "corpus", root / "corpus")
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    env.pop("RAG_AUTH", None)
    command = [sys.executable, str(ROOT / "ui.py"), "--corpus", str(root / "corpus"), "--index", str(root / "index"),
               "--port", str(port)]  # fmt: skip
    log = (root / "app.log").open("w")
    process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, 240)
        yield port, root / "index"
    finally:
        stop_app(process)
        log.close()


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def _run_block(block: str, port: int) -> object:
    """Run one documented block (its port changed to the app's); the result of its ``event: complete``."""
    completed = subprocess.run(
        ["bash", "-c", block.replace("127.0.0.1:7860", f"127.0.0.1:{port}")],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    lines = completed.stdout.splitlines()
    assert "event: complete" in lines, completed.stdout[-2000:] + completed.stderr[-2000:]
    data = lines[lines.index("event: complete") + 1]
    assert data.startswith("data: ")
    return json.loads(data.removeprefix("data: "))[0]


def test_the_documented_curl_calls_answer_with_only_the_question_or_the_text(app: tuple[int, Path]) -> None:
    port, index_dir = app
    ask_block, lookup_block, _ = _bash_blocks()
    index = load_index(index_dir)
    answer = _run_block(ask_block, port)
    assert isinstance(answer, dict) and not answer["abstained"]
    citation = answer["citations"][0]
    assert "40 billion" in citation["text"]
    document = index.document(citation["doc_id"])
    assert document is not None and document.text[citation["start"] : citation["end"]] == citation["text"]
    matches = _run_block(lookup_block, port)
    assert isinstance(matches, list) and len(matches) == 1 and matches[0]["kind"] != "unsupported"
    found = matches[0]["citation"]
    document = index.document(found["doc_id"])
    assert document is not None and document.text[found["start"] : found["end"]] == found["text"]


def test_the_documented_where_call_filters_with_the_cli_names_and_the_old_ones(app: tuple[int, Path]) -> None:
    port, index_dir = app
    where_block = _bash_blocks()[2]
    assert '{"doc": ["seed-article.md"], "since": "2000"}' in where_block
    index = load_index(index_dir)
    for block in (where_block, where_block.replace('"doc"', '"documents"')):  # the old name, deprecated, still read
        answer = _run_block(block, port)
        assert isinstance(answer, dict) and not answer["abstained"]
        citation = answer["citations"][0]
        assert citation["doc_id"] == "seed-article.md" and "40 billion" in citation["text"]
        document = index.document(citation["doc_id"])
        assert document is not None and document.text[citation["start"] : citation["end"]] == citation["text"]
    unknown = where_block.replace('"doc"', '"docs"').replace('"since": "2000"', '"since": ""')
    completed = subprocess.run(["bash", "-c", unknown.replace("127.0.0.1:7860", f"127.0.0.1:{port}")],
                               capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
    assert "event: error" in completed.stdout and "event: complete" not in completed.stdout
