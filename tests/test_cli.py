"""The `rag` command through main([...]): output, --json schemas, exit codes, one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from rag.cli.main import main
from tests.helpers import assert_offsets

GOLD = "In response, China is launching a new state-backed investment fund aiming to raise over $40 billion"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.usefixtures("packaged_model")
def test_index_prints_a_summary(capsys, seed_corpus: Path, tmp_path: Path) -> None:
    code, out, err = run(capsys, "index", str(seed_corpus), "--index", str(tmp_path / "idx"))
    assert code == 0, err
    assert "Indexed 1 document, " in out and "sentences" in out and "passages" in out
    assert (tmp_path / "idx" / "manifest.json").is_file()


@pytest.mark.usefixtures("packaged_model")
def test_index_json(capsys, seed_corpus: Path, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "index", str(seed_corpus), "--index", str(tmp_path / "idx"), "--json")
    report = json.loads(out)
    assert code == 0 and report["documents"] == 1 and report["sentences"] > 10
    assert set(report) >= {"corpus", "documents", "sentences", "passages", "seconds", "skipped", "encoder"}


def test_ask_prints_the_cited_sentence(capsys, real_index) -> None:
    code, out, _ = run(capsys, "ask", "How much money will the new chip fund raise?", "--index", str(real_index.path))
    assert code == 0
    assert GOLD in out
    assert "cgtn.com" in out and "seed-article.md" in out and "characters" in out and "score" in out


def test_ask_context_shows_the_passage(capsys, real_index) -> None:
    _, out, _ = run(capsys, "ask", "Which companies did Li Qiang visit?", "--context", "--index", str(real_index.path))
    assert "context:" in out and "These visits signal" in out


def test_ask_json_schema(capsys, real_index) -> None:
    code, out, _ = run(capsys, "ask", "How much money will the new chip fund raise?", "--json", "-k", "2",
                       "--index", str(real_index.path))  # fmt: skip
    answer = json.loads(out)
    assert code == 0
    assert set(answer) == {"question", "abstained", "reason", "confidence", "threshold", "citations", "candidates",
                           "searched_for", "parts"}  # fmt: skip
    first = answer["citations"][0]
    assert set(first) >= {"text", "doc_id", "title", "source", "start", "end", "score", "context", "scores", "also_in"}
    assert "fund" in first["covered"] and isinstance(first["missing"], list)
    assert len(answer["citations"]) <= 2
    text = real_index.document(first["doc_id"]).text
    assert text[first["start"] : first["end"]] == first["text"]


def test_offtopic_question_says_the_sources_do_not_answer(capsys, real_index) -> None:
    code, out, _ = run(capsys, "ask", "Who won the 2022 World Cup?", "--index", str(real_index.path))
    assert code == 0
    assert "do not answer" in out and "below the threshold" in out
    assert "[1]" not in out


def test_lookup_text_and_json(capsys, real_index) -> None:
    code, out, _ = run(capsys, "lookup", "innovation is the soul of these companies", "--index", str(real_index.path))
    assert code == 0 and "innovation serves as the soul" in out
    code, out, _ = run(capsys, "lookup", "The moon is cheese.", "--json", "--index", str(real_index.path))
    (match,) = json.loads(out)
    assert match["kind"] == "unsupported" and match["citation"] is None
    assert set(match) == {
        "query", "query_start", "query_end", "kind", "score", "citation", "nearest", "differences", "reason", "verdict"
    }  # fmt: skip
    assert match["differences"] == [] and "0.40" in match["reason"]


def test_lookup_shows_an_altered_claim_with_its_differing_words(capsys, real_index) -> None:
    claim = "In response, China is launching a new state-backed investment fund aiming to raise over $90 billion."
    code, out, _ = run(capsys, "lookup", claim, "--index", str(real_index.path))
    assert code == 0 and "altered" in out
    assert "why: number: the claim says $90 billion, the source says $40 billion" in out
    assert "- number: claim \u201c$90 billion\u201d / source \u201c$40 billion\u201d (replaced)" in out
    assert "altered, says something else (score" in out
    code, out, _ = run(capsys, "lookup", claim, "--json", "--index", str(real_index.path))
    (match,) = json.loads(out)
    assert match["kind"] == "altered" and match["reason"].startswith("number:")
    assert match["verdict"] == "says something else" and match["differences"][0]["change"] == "replaced"
    (difference,) = match["differences"]
    assert (difference["kind"], difference["claim_text"], difference["source_text"]) == (
        "number", "$90 billion", "$40 billion"
    )  # fmt: skip
    assert claim[difference["claim_start"] : difference["claim_end"]] == "$90 billion"
    document = real_index.document(match["citation"]["doc_id"]).text
    assert document[difference["source_start"] : difference["source_end"]] == "$40 billion"


def test_lookup_reads_stdin(capsys, real_index, monkeypatch) -> None:
    paragraph = real_index.document("seed-article.md").text.split("\n")[3]
    monkeypatch.setattr("sys.stdin", io.StringIO(paragraph))
    code, out, _ = run(capsys, "lookup", "-", "--json", "--index", str(real_index.path))
    matches = json.loads(out)
    assert code == 0 and len(matches) >= 3 and {m["kind"] for m in matches} == {"exact"}
    document = real_index.document("seed-article.md")
    for match in matches:
        citation = match["citation"]
        assert document.text[citation["start"] : citation["end"]] == citation["text"]
        assert paragraph[match["query_start"] : match["query_end"]] == match["query"]


def test_info(capsys, real_index) -> None:
    code, out, _ = run(capsys, "info", "--index", str(real_index.path))
    assert code == 0 and "onnx-int8" in out and "1 documents" in out and "threshold" in out
    code, out, _ = run(capsys, "info", "--json", "--verify", "--index", str(real_index.path))
    info = json.loads(out)
    assert info["counts"]["documents"] == 1 and info["dimension"] == 384 and "files" not in info


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", "chip fund", "--index", "{tmp}/none"], "rag index"),
        (["lookup", "a quote", "--index", "{tmp}/none"], "rag index"),
        (["info", "--index", "{tmp}/none"], "no index at"),
        (["index", "{tmp}/no-such-corpus", "--index", "{tmp}/idx"], "does not exist"),
        (["ask", "   ", "--index", "{real}"], "empty"),
        (["ask", "x" * 100_000, "--index", "{real}"], "limit"),
        (["ask", "chip fund", "-k", "0", "--index", "{real}"], "k must"),
        (["ask", "chip fund", "--threshold", "7", "--index", "{real}"], "threshold"),
        (["ask", "chip fund", "--doc", "gone.md", "--index", "{real}"], "no document 'gone.md'"),
        (["lookup", "chip fund", "--since", "last week", "--index", "{real}"], "YYYY-MM-DD"),
        (["ask", "chip fund", "--source", "nobody", "--index", "{real}"], "matches the filter"),
    ],
)
def test_user_errors_are_one_line_without_traceback(capsys, real_index, tmp_path: Path, argv, message) -> None:
    argv = [a.format(tmp=tmp_path, real=real_index.path) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert err.startswith("rag: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.usefixtures("packaged_model")
def test_empty_corpus_is_an_error(capsys, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "index", str(tmp_path / "empty"), "--index", str(tmp_path / "idx"))
    assert code == 1 and "no readable documents" in err


def test_usage_errors_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ask"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("port", ["99999", "-1", "0", "http"])
def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(capsys, port: str) -> None:
    # Before, 99999 reached socket.bind and ended in an OverflowError traceback.
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--port", port])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error: argument --port: the port must be" in err and "Traceback" not in err


@pytest.mark.usefixtures("packaged_model")
def test_ask_without_an_index_builds_the_default_corpus_first(capsys, seed_corpus: Path, monkeypatch) -> None:
    monkeypatch.chdir(seed_corpus.parent)
    monkeypatch.delenv("RAG_INDEX", raising=False)
    code, out, err = run(capsys, "ask", "Which technologies are described as dual-use?")
    assert code == 0, err
    assert "building it from corpus/" in err
    assert "advanced microchips and supercomputers" in out
    assert (seed_corpus.parent / ".rag-index" / "manifest.json").is_file()


def test_citations_in_json_hold_the_offsets_contract(capsys, real_index) -> None:
    _, out, _ = run(
        capsys, "ask", "Which technologies are described as dual-use?", "--json", "--index", str(real_index.path)
    )
    answer = json.loads(out)
    for citation in answer["citations"] + answer["candidates"]:
        document = real_index.document(citation["doc_id"])

        class Span:
            start, end, text = citation["start"], citation["end"], citation["text"]

        assert_offsets(document.text, [Span])


@pytest.mark.usefixtures("packaged_model")
def test_add_and_remove_commands(capsys, seed_corpus: Path, tmp_path: Path) -> None:
    import shutil

    corpus = tmp_path / "corpus"
    shutil.copytree(seed_corpus, corpus)
    index_dir = str(tmp_path / "idx")
    assert run(capsys, "index", str(corpus), "--index", index_dir)[0] == 0
    note = tmp_path / "note.md"
    note.write_text("# Port note\n\nThe harbour of Valparaiso handled a record 12 million tonnes of cargo.\n")
    code, out, err = run(capsys, "add", str(note), "--folder", "notes", "--index", index_dir)
    assert code == 0, err
    assert "added notes/note.md" in out and "kept from the previous index" in out
    code, out, _ = run(capsys, "ask", "How much cargo did the harbour of Valparaiso handle?", "--index", index_dir)
    assert "12 million tonnes" in out
    code, out, _ = run(capsys, "remove", "notes/note.md", "--index", index_dir, "--json")
    assert code == 0 and json.loads(out)["removed"] == ["notes/note.md"]
    code, _, err = run(capsys, "remove", "notes/note.md", "--index", index_dir)
    assert code == 1 and "no document 'notes/note.md'" in err
    code, _, err = run(capsys, "add", str(tmp_path / "missing.md"), "--index", index_dir)
    assert code == 1 and "no such file" in err


def test_serve_goes_through_the_app_and_refuses_a_public_address_without_auth(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "serve", "--host", "0.0.0.0", "--index", str(tmp_path / "idx"))
    assert code == 1 and "without --auth" in err


def test_ask_shows_what_each_citation_covers_and_an_abstention_what_is_missing(capsys, real_index) -> None:
    code, out, _ = run(capsys, "ask", "Which companies did Li Qiang visit?", "--index", str(real_index.path))
    assert code == 0 and "covers: Li Qiang, companies, visit" in out
    code, out, _ = run(capsys, "ask", "When was Huawei founded?", "--index", str(real_index.path))
    assert code == 0
    # "founded" is in no document, "Huawei" is (issue 19: a reason never calls missing what the documents hold)
    assert (
        "Reason: no document mentions “founded”; the best sentence mentions “Huawei” but not a date for “when”" in out
    )


def test_chat_reads_a_conversation_from_stdin_and_prints_json_lines(capsys, monkeypatch, real_index) -> None:
    lines = "How much money does the new chip fund aim to raise?\nWhen was it set up?\n\n/clear\nWhen was it set up?\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    code, out, err = run(capsys, "chat", "--json", "--index", str(real_index.path))
    assert code == 0, err
    first, follow_up, cleared, fresh = [json.loads(line) for line in out.splitlines()]
    assert GOLD in first["citations"][0]["text"] and first["searched_for"] == first["question"]
    assert follow_up["question"] == "When was it set up?" and "chip fund" in follow_up["searched_for"]
    assert cleared == {"cleared": True}
    assert fresh["searched_for"] == "When was it set up?"  # the history went with /clear


def test_chat_shows_what_was_searched_and_survives_a_bad_question(capsys, monkeypatch, real_index) -> None:
    too_long = "why " * 600
    lines = f"Which companies did Premier Li Qiang visit?\n{too_long}\nWhat did he say about innovation?\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    code, out, err = run(capsys, "chat", "--index", str(real_index.path))
    assert code == 0
    assert "searched for: What did Premier Li Qiang say about innovation?" in out
    assert err.count("rag: error:") == 1 and "Traceback" not in err


@pytest.mark.usefixtures("packaged_model")
def test_ask_and_lookup_search_only_the_chosen_documents(capsys, seed_corpus: Path, tmp_path: Path) -> None:
    from rag import build_index

    corpus = tmp_path / "corpus"
    (corpus / "news").mkdir(parents=True)
    (corpus / "seed-article.md").write_text((seed_corpus / "seed-article.md").read_text(encoding="utf-8"))
    (corpus / "news" / "harbour.md").write_text(
        "---\ntitle: Harbour\nsource: Port Gazette\ndate: 2024-03-05\n---\nThe harbour fund will raise 12 million "
        "dollars for cranes. The port authority announced it.\n",
        encoding="utf-8",
    )
    index = build_index(corpus, tmp_path / "index")  # the CLI loads the real model
    question = "How much will the fund raise?"
    for flags in (
        ["--folder", "news"],
        ["--source", "Port Gazette"],
        ["--since", "2024-03", "--until", "2024-12"],  # the seed article: no date, its file is new
        ["--doc", "news/harbour.md"],
    ):
        code, out, _ = run(capsys, "ask", question, "--index", str(index.path), "--json", *flags)
        answer = json.loads(out)
        assert code == 0 and {c["doc_id"] for c in answer["citations"] + answer["candidates"]} == {"news/harbour.md"}
    code, out, _ = run(capsys, "ask", question, "--index", str(index.path), "--json", "--doc", "seed-article.md")
    assert {c["doc_id"] for c in json.loads(out)["candidates"]} == {"seed-article.md"}
    text = "The harbour fund will raise 12 million dollars for cranes."
    code, out, _ = run(capsys, "lookup", text, "--index", str(index.path), "--json", "--doc", "seed-article.md")
    assert code == 0 and json.loads(out)[0]["kind"] != "exact"
    code, out, _ = run(capsys, "lookup", text, "--index", str(index.path), "--json", "--folder", "news")
    assert json.loads(out)[0]["kind"] == "exact"
