"""The `rag` command line: a thin shell over the public API, and the only module that prints."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import Any

from rag import Answer, BuildReport, Citation, Config, Index, Match, __version__, build_index, load_index
from rag.cli.settings import load_settings
from rag.errors import QueryError, RagError
from rag.export import coverage_text, where
from rag.workspace import (
    DEFAULT_CORPUS,
    DEFAULT_INDEX,
    INDEX_VARIABLE,
    TERMINATED_STATUS,
    Terminated,
    add_cluster_arguments,
    add_serve_arguments,
    counted,
    encoder_needs_export,
    open_or_build,
    sigterm_as_interrupt,
)


def _quote(text: str) -> str:
    return f"\u201c{' '.join(text.split())}\u201d"


def _where(citation: Citation) -> str:
    source = f" ({citation.source})" if citation.source else ""
    return f"{citation.title}{source} \u2014 {where(citation)}"


def _print_citation(number: int, citation: Citation, context: bool) -> None:
    print(f"[{number}] {_quote(citation.text)}")
    print(f"    {_where(citation)}, score {citation.score:.2f}")
    if coverage_text(citation):
        print(f"    {coverage_text(citation)}")
    for other in citation.also_in:
        print(f"    also in: {other.title} ({other.source or other.doc_id}), characters {other.start}\u2013{other.end}")
    if context and citation.context:
        print(f"    context: {' '.join(citation.context.split())}")


def print_answer(answer: Answer, context: bool) -> None:
    if answer.searched_for != answer.question:
        print(f"searched for: {answer.searched_for}")
    if answer.abstained:
        print("The sources do not answer this question.")
        print(f"Reason: {answer.reason}.")
        return
    for number, citation in enumerate(answer.citations, start=1):
        _print_citation(number, citation, context)
    print(f"confidence {answer.confidence:.2f} (threshold {answer.threshold:.2f})")
    if answer.citations[0].scores.get("overview"):
        print(f"({answer.reason})")
    for number, part in enumerate(answer.parts, start=1):
        if part.abstained:
            print(f"Part {number} ({part.question}) is not answered: {part.reason}.")


def print_matches(matches: Sequence[Match]) -> None:
    for number, match in enumerate(matches, start=1):
        print(f"{number}. {_quote(match.query)}")
        if match.citation is None:
            nearest = f"; nearest: {_quote(match.nearest.text)}" if match.nearest else ""
            print(f"   unsupported (best score {match.score:.2f}){nearest}")
            continue
        verdict = f", {match.verdict}" if match.verdict else ""
        print(f"   {match.kind}{verdict} (score {match.score:.2f}): {_quote(match.citation.text)}")
        print(f"   {_where(match.citation)}")
        if match.kind == "altered":
            print(f"   why: {match.reason}")
            for difference in match.differences:
                claim = _quote(difference.claim_text) if difference.claim_text else "(nothing)"
                source = _quote(difference.source_text) if difference.source_text else "(nothing)"
                print(f"   - {difference.kind}: claim {claim} / source {source} ({difference.change})")


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on (newline, escape codes) written as an escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def print_report(report: BuildReport, index_dir: str) -> None:
    # File names are the user's but may hold newlines or escape codes: one line each, shown escaped.
    for skipped in report.skipped:
        print(f"skipped {printable(skipped.path)}: {printable(skipped.reason)}")
    for change in ("added", "updated", "removed"):
        for doc_id in getattr(report, change):
            print(f"{change} {printable(doc_id)}")
    print(
        f"Indexed {counted(report.documents, 'document')}, {counted(report.sentences, 'sentence')}, "
        f"{counted(report.passages, 'passage')} "
        f"in {report.seconds:.1f} s into {printable(index_dir)} ({len(report.skipped)} skipped; "
        f"encoder {report.encoder})"
    )
    print(f"{report.embedded} sentences embedded, {report.sentences - report.embedded} kept from the previous index")


def _to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _quiet(message: str) -> None:
    del message


def _notes(args: argparse.Namespace) -> Callable[[str], None]:
    """Where notes for the person waiting go: stderr, or nowhere with -q."""
    return _quiet if getattr(args, "quiet", False) else _say


def _announce_encoder(args: argparse.Namespace, config: Config) -> None:
    """Say so before the first build exports the encoder, which takes a while and shows nothing else."""
    if encoder_needs_export(config):
        _notes(args)("rag: preparing the encoder once (about 20 s)")


def _build_config(args: argparse.Namespace) -> Config:
    """The settings of a build: --threshold and the settings file's model over the defaults."""
    config = Config()
    if getattr(args, "model", None):
        config = replace(config, embedding=replace(config.embedding, model=args.model))
    if getattr(args, "threshold", None) is not None:
        config = config.with_threshold(args.threshold)
    return config


def _open_index(args: argparse.Namespace) -> Index:
    """Load the index; the default one is built from the default corpus first when there is none yet."""
    if getattr(args, "ray", None) or getattr(args, "shards", None):  # sharded on a Ray cluster
        return load_index(args.index, ray=args.ray, shards=args.shards)
    if not os.path.isdir(args.index) and args.builds_default:  # only a build exports: not "no index at ..."
        _announce_encoder(args, _build_config(args))
    return open_or_build(args.index, args.auto_corpus, say=_notes(args))


def cmd_index(args: argparse.Namespace) -> int:
    ray = {"ray": args.ray} if args.ray else {}  # read and encode on a Ray cluster
    config = _build_config(args)
    # On a cluster the workers export, and a missing Ray is the only line to print; a build that
    # will be refused (no corpus folder, an index path that is a file) exports nothing either.
    if not args.ray and os.path.isdir(args.corpus) and (os.path.isdir(args.index) or not os.path.exists(args.index)):
        _announce_encoder(args, config)
    progress = not (args.json or args.quiet)
    return _show_report(build_index(args.corpus, args.index, config, progress=progress, **ray), args)


def _show_report(index: Index, args: argparse.Namespace) -> int:
    report = index.build_report
    assert report is not None
    if args.json:
        print(_to_json(asdict(report)))
    else:
        print_report(report, args.index)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    return _show_report(load_index(args.index).add_files(args.files, folder=args.folder), args)


def cmd_remove(args: argparse.Namespace) -> int:
    return _show_report(load_index(args.index).remove(args.doc_ids), args)


def _warn_if_changed(index: Index, citations: Sequence[Citation | None]) -> None:
    """One line on stderr when a cited document's file changed on disk since it was indexed."""
    doc_ids = {c.doc_id for c in citations if c is not None}
    doc_ids |= {other.doc_id for c in citations if c is not None for other in c.also_in}
    if not doc_ids:
        return
    changes = index.corpus_changes(doc_ids)
    names = [printable(d) for d in changes["changed"]] + [f"{printable(d)} (deleted)" for d in changes["deleted"]]
    if names:
        sys.stdout.flush()  # the warning follows the answer it is about
        _say(
            f"rag: warning: {', '.join(names)} changed on disk since indexed; the characters cited may now "
            "hold other text (rag index updates the index)"
        )


def cmd_ask(args: argparse.Namespace) -> int:
    index = _open_index(args)
    answer = index.ask(args.question, k=args.k, threshold=args.threshold, where=_where_of(args))
    if args.json:
        print(_to_json(asdict(answer)))
    else:
        print_answer(answer, args.context)
    _warn_if_changed(index, answer.citations)
    return 0


CHAT_HELP = "Ask about the documents; follow-ups may refer to earlier answers. /clear starts over, Ctrl-D ends."
MAX_CHAT_TURNS = 20


def cmd_chat(args: argparse.Namespace) -> int:
    """A conversation on the terminal: each question is answered with the earlier ones as history."""
    index = _open_index(args)
    interactive = sys.stdin.isatty()
    if interactive:
        import readline  # noqa: F401 - gives input() line editing and a history of questions

        if not args.json:
            print(CHAT_HELP)
    history: list[Answer] = []
    while True:
        try:
            line = input("? " if interactive else "")
        except EOFError:
            break
        question = line.strip()
        if question in ("/quit", "/exit"):
            break
        if question == "/clear":
            history = []
            print(json.dumps({"cleared": True}) if args.json else "Conversation cleared.")
            continue
        if not question:
            continue
        try:
            answer = index.ask(
                question, k=args.k, threshold=args.threshold, history=history[-MAX_CHAT_TURNS:], where=_where_of(args)
            )
        except RagError as error:  # one bad question does not end the conversation
            print(f"rag: error: {error}", file=sys.stderr)
            continue
        history.append(answer)
        if args.json:
            print(json.dumps(asdict(answer), ensure_ascii=False), flush=True)
        else:
            print_answer(answer, args.context)
            print(flush=True)
        _warn_if_changed(index, answer.citations)
    return 0


def _where_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """The documents to search, from --doc, --folder, --source, --since and --until (None: all)."""
    where = {name: getattr(args, name) for name in ("doc", "folder", "source", "since", "until")}
    where = {name: value for name, value in where.items() if value}
    return where or None


def _add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("which documents to search (default: all; repeat an option for several)")
    group.add_argument("--doc", action="append", metavar="DOC_ID", help="a document id (path relative to the corpus)")
    group.add_argument("--folder", action="append", help="a corpus folder, with everything under it")
    group.add_argument("--source", action="append", help="a source, e.g. cgtn.com (case ignored)")
    group.add_argument("--since", help="documents dated on or after YYYY, YYYY-MM or YYYY-MM-DD (own date, else file)")
    group.add_argument("--until", help="documents dated on or before YYYY, YYYY-MM or YYYY-MM-DD")


def _read_lookup_text(text: str) -> str:
    if text != "-":
        return text
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream put in place of standard input
        return sys.stdin.read()
    data = stream.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise QueryError(
            f"standard input is not valid UTF-8 text (byte {error.start}); convert it first, e.g. with iconv"
        ) from None


def cmd_lookup(args: argparse.Namespace) -> int:
    index = _open_index(args)
    matches = index.lookup(_read_lookup_text(args.text), threshold=args.threshold, where=_where_of(args))
    if args.json:
        print(_to_json([asdict(m) for m in matches]))
    else:
        print_matches(matches)
    _warn_if_changed(index, [m.citation for m in matches])
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    index = load_index(args.index, verify=True if args.verify else None)
    info = index.info()
    changes = index.corpus_changes() if args.verify else None
    encodings = Counter(d["encoding"] or "n/a (PDF/DOCX)" for d in index.documents())
    info["encodings"] = dict(sorted(encodings.items(), key=lambda item: (-item[1], item[0])))
    if args.json:
        print(_to_json({**info, "corpus_changes": changes} if changes is not None else info))
        return 0
    counts = info.get("counts", {})
    size = info["size_bytes"] / 1e6
    print(f"index:      {info['path']} ({size:.1f} MB, format {info['format_version']}, rag {info['package_version']})")
    print(f"built:      {info['built_at']} from {info['corpus']} in {info.get('build_seconds', 0):.1f} s")
    print(
        f"contents:   {counts.get('documents')} documents, {counts.get('sentences')} sentences, "
        f"{counts.get('passages')} passages, {counts.get('skipped')} files skipped"
    )
    print(f"encodings:  {', '.join(f'{count} {name}' for name, count in info['encodings'].items())}")
    print(f"model:      {info['model']}")
    print(f"encoder:    {info['encoder']} ({info['dimension']} dimensions)")
    print(f"dense:      FAISS {info.get('dense_index', 'flat')}, inner product over unit vectors (cosine)")
    segments = info.get("segments", [])
    removed = sum(len(s["removed"]) for s in segments)
    print(f"segments:   {len(segments)} ({removed} removed document versions awaiting a merge)")
    answer, lookup = info["settings"]["answer"], info["settings"]["lookup"]
    print(f"answering:  threshold {answer['threshold']}, k {answer['k']}")
    print(f"lookup:     paraphrase threshold {lookup['paraphrase_threshold']}")
    print(f"fingerprint {info['corpus_fingerprint'][:16]}")
    if changes is not None:
        _print_corpus_changes(changes)
    return 0


def _print_corpus_changes(changes: dict[str, list[str]]) -> None:
    """What ``rag info --verify`` found in the corpus folder that the index does not hold."""
    count = sum(len(names) for names in changes.values())
    if not count:
        print("corpus:     every indexed file is as it was indexed; no new files")
        return
    print(f"corpus:     {counted(count, 'file')} not as indexed (rag index updates the index):")
    for kind in ("changed", "deleted", "new"):
        for doc_id in changes[kind]:
            print(f"  {kind:<9}{printable(doc_id)}")


def cmd_serve(args: argparse.Namespace) -> int:
    from rag.app.server import serve  # imported here: Gradio loads only for this command

    return serve(args)


def _plain(value: Any) -> Any:
    return None if isinstance(value, float) and value != value else value  # NaN is not JSON


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.evaluation import evaluate, load_questions

    questions = load_questions(args.file)
    result = evaluate(_open_index(args), questions, threshold=args.threshold)
    if args.json:
        print(_to_json({k: _plain(v) for k, v in result.items()}))
        return 0

    def show(value: float) -> str:
        return "n/a" if value != value else f"{value:.3f}"

    print(
        f"{result['questions']} questions: {result['answerable']} answerable, {result['should_abstain']} should abstain"
    )
    print(f"Hit@1 {show(result['hit@1'])}  Hit@3 {show(result['hit@3'])}  MRR@10 {show(result['mrr@10'])}")
    print(
        f"at threshold {result['threshold']:.2f}: answered {show(result['answered_rate'])} of answerable; "
        f"abstention precision {show(result['abstention_precision'])}, recall {show(result['abstention_recall'])}"
    )
    print(f"AUROC (answerable vs should-abstain confidence) {show(result['auroc'])}")
    print(f"threshold that keeps 95% of answerable questions answered: {show(result['threshold_keeping_95pct'])}")
    return 0


ASK_EXAMPLES = """\
examples:
  rag ask "How big is the chip fund?"
  rag ask "Who runs the fund?" -k 1 --context
  rag ask "What did the ministry announce?" --source cgtn.com --since 2024 --json
"""
LOOKUP_EXAMPLES = """\
examples:
  rag lookup "China is launching a state-backed fund to raise over $40 billion"
  rag lookup - < draft.txt
  rag lookup "The fund will raise $50 billion" --json | jq '.[0].kind'
"""
SETTINGS_HELP = (
    "settings: rag.toml in the working folder (or [tool.rag] in its pyproject.toml), then "
    "~/.config/rag/rag.toml, may set corpus, index, k, threshold and model; options given here win."
)


def _parser(settings: dict[str, Any] | None = None) -> argparse.ArgumentParser:
    settings = settings or {}
    index_default = _default_index(settings)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--index", default=index_default, help="index directory (default: $RAG_INDEX, the settings file, .rag-index)"
    )
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    common.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress and no notes on stderr")
    common.set_defaults(model=settings.get("model"))
    parser = argparse.ArgumentParser(
        prog="rag", description="Answers made only of sentences quoted from your documents.", epilog=SETTINGS_HELP
    )
    parser.add_argument("--version", action="version", version=f"rag {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = commands.add_parser("index", parents=[common], help="build the index of a corpus folder")
    corpus = settings.get("corpus", DEFAULT_CORPUS)
    index.add_argument("corpus", nargs="?", default=corpus, help=f"folder of documents (default: {corpus})")
    index.add_argument(
        "--threshold", type=float, default=settings.get("threshold"),
        help="answers abstain below this score (0..1), saved in the index (default 0.25)",
    )  # fmt: skip
    index.add_argument(
        "--ray", nargs="?", const=True, default=None, metavar="ADDRESS",
        help="read and encode on a Ray cluster (its address; none: a local one; pip extra: ray)",
    )  # fmt: skip
    index.set_defaults(run=cmd_index)

    add = commands.add_parser("add", parents=[common], help="copy files into the corpus and index them")
    add.add_argument("files", nargs="+", help="documents to add")
    add.add_argument("--folder", default="", help="sub-folder of the corpus to put them in")
    add.set_defaults(run=cmd_add)

    remove = commands.add_parser("remove", parents=[common], help="take documents out of the corpus and index")
    remove.add_argument("doc_ids", nargs="+", metavar="DOC_ID", help="document ids (paths relative to the corpus)")
    remove.set_defaults(run=cmd_remove)

    ask = commands.add_parser(
        "ask", parents=[common], help="answer a question with quoted sentences",
        epilog=ASK_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=settings.get("k"), help="most citations to give (default 3)")
    ask.add_argument(
        "--threshold", type=float, default=settings.get("threshold"), help="abstain below this score (0..1)"
    )
    ask.add_argument("--context", action="store_true", help="show the passage around each quote")
    _add_filter_arguments(ask)
    add_cluster_arguments(ask)
    ask.set_defaults(run=cmd_ask)

    chat = commands.add_parser("chat", parents=[common], help="a conversation: follow-ups refer to earlier answers")
    chat.add_argument("-k", type=int, default=settings.get("k"), help="most citations to give (default 3)")
    chat.add_argument(
        "--threshold", type=float, default=settings.get("threshold"), help="abstain below this score (0..1)"
    )
    chat.add_argument("--context", action="store_true", help="show the passage around each quote")
    _add_filter_arguments(chat)
    add_cluster_arguments(chat)
    chat.set_defaults(run=cmd_chat)

    lookup = commands.add_parser(
        "lookup", parents=[common], help="find where each sentence of a text comes from",
        epilog=LOOKUP_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    lookup.add_argument("text", help="a quote, claim or paragraph; '-' reads standard input")
    lookup.add_argument("--threshold", type=float, default=None, help="score a paraphrase must reach (0..1)")
    _add_filter_arguments(lookup)
    add_cluster_arguments(lookup)
    lookup.set_defaults(run=cmd_lookup)

    info = commands.add_parser("info", parents=[common], help="show what is indexed and how")
    info.add_argument(
        "--verify", action="store_true", help="check every index file's checksum; list corpus files changed since"
    )
    info.set_defaults(run=cmd_info)

    evaluation = commands.add_parser("eval", parents=[common], help="measure the index on your labelled questions")
    evaluation.add_argument("file", help='SQuAD-format JSON, or JSONL of {"question": ..., "answer": ... or null}')
    evaluation.add_argument("--threshold", type=float, default=None, help="abstention threshold to evaluate at")
    add_cluster_arguments(evaluation)
    evaluation.set_defaults(run=cmd_eval)

    serve = commands.add_parser("serve", parents=[common], help="start the browser app (same as python ui.py)")
    add_serve_arguments(serve)
    if "corpus" in settings:
        serve.set_defaults(corpus=settings["corpus"])
    serve.set_defaults(run=cmd_serve)

    completion = commands.add_parser("completion", help="print a shell completion script (bash or zsh)")
    completion.add_argument("shell", choices=("bash", "zsh"))
    completion.set_defaults(run=cmd_completion, verbose=False, quiet=False)
    return parser


def _default_index(settings: dict[str, Any]) -> str:
    return os.environ.get(INDEX_VARIABLE) or settings.get("index") or DEFAULT_INDEX


def cmd_completion(args: argparse.Namespace) -> int:
    from rag.cli.completion import completion_script

    print(completion_script(_parser(), args.shell), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `rag` command; returns the exit code (0 ok, 1 user error, 2 usage)."""
    try:
        settings = load_settings()
    except RagError as error:
        print(f"rag: error: {printable(str(error))}", file=sys.stderr)
        return 1
    args = _parser(settings).parse_args(argv)
    # The index built first when there is none: the settings' corpus, for the default index only.
    args.builds_default = getattr(args, "index", None) == _default_index(settings)  # built first when missing
    args.auto_corpus = settings.get("corpus") if args.builds_default else None
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    try:
        with sigterm_as_interrupt():  # timeout, docker stop, systemd: cleaned up as Ctrl-C is
            code = args.run(args)
            sys.stdout.flush()
        return code
    except RagError as error:
        print(f"rag: error: {printable(str(error))}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as Unix tools do
        _silence_stdout()
        return 128 + 13  # killed by SIGPIPE, as a shell reports it
    except Terminated:
        print("rag: terminated (SIGTERM)", file=sys.stderr)
        return TERMINATED_STATUS
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that Python's final flush does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (tests capture it)
        pass


if __name__ == "__main__":
    sys.exit(main())
