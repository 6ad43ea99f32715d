"""The sandboxed parser process: PDF, DOCX and large markup files are parsed in a child process
under time and memory limits, so that a hostile file can neither hang nor exhaust the caller.

The parent side starts the child and reads its JSON outcome; the child side (``_worker_main``)
limits its own memory, runs the reader and reports.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from rag.errors import IngestError
from rag.ingest.files import _FORMAT_NAMES
from rag.ingest.metadata import _Extracted, _one_line

logger = logging.getLogger(__name__)


# Limits of the child process that parses PDF and DOCX files.
PARSER_TIMEOUT_SECONDS = 20.0
PARSER_MEMORY_BYTES = 1_500_000_000
# Text, Markdown and HTML files larger than this are read in that child process too, under
# the same memory limit and a time limit that grows with their size; smaller ones are read in
# process (the readers are linear, and a process per small file would dominate indexing).
IN_PROCESS_MAX_BYTES = 256 * 1024
MARKUP_SECONDS_PER_MB = 3.0
_WORKER_COMMAND = "from rag.ingest.worker import _worker_main; _worker_main()"
_WORKER_LABELS = {"pdf": "PDF", "docx": "DOCX"}


class _ParseProblem(Exception):
    """A file that cannot be used, raised inside the worker process with the reason to report."""


def _extract_in_child(kind: str, data: bytes) -> tuple[list[str], str, str]:
    """Text parts, title and source of a ``kind`` file ("pdf", "docx"), parsed in a child process
    under time and memory limits, so that a hostile file can neither hang nor exhaust the caller.

    A subprocess rather than multiprocessing: spawn and forkserver re-run the caller's
    ``__main__`` script in the child, which breaks scripts without a ``__main__`` guard.
    """
    label = _WORKER_LABELS[kind]
    output, exit_code = _run_worker([kind], data, label, PARSER_TIMEOUT_SECONDS)
    return _parse_worker_outcome(label, output, exit_code)


def _run_worker(arguments: list[str], data: bytes, label: str, timeout: float) -> tuple[bytes, int]:
    """Run the parser process on ``data``; its standard output and exit code."""
    try:
        completed = subprocess.run(
            # -P: the working folder is not put on sys.path, so a json.py or rag/ there cannot stand
            # in for the modules the parser imports (the package comes through PYTHONPATH).
            [sys.executable, "-P", "-c", _WORKER_COMMAND, *arguments],
            input=data,
            capture_output=True,
            timeout=timeout,
            env=_worker_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired as err:  # run() has killed the child
        raise IngestError(f"{label} parsing timed out after {timeout:g} s") from err
    except OSError as err:
        raise IngestError(f"cannot start the {label} parser ({err.strerror})") from err
    if completed.stderr:
        logger.debug("%s worker stderr: %s", label, completed.stderr.decode("utf-8", "replace")[-2000:])
    return completed.stdout, completed.returncode


def _read_markup_in_child(data: bytes, path: Path) -> _Extracted:
    """A large text, Markdown or HTML file read by its reader in the parser process, under its limits.

    The time limit grows with the file, since these readers are linear and a big legitimate file
    takes a while; what cannot pass is a parser that goes quadratic or swells in memory.
    """
    suffix = path.suffix.lower()
    label = _FORMAT_NAMES[suffix]
    timeout = PARSER_TIMEOUT_SECONDS + MARKUP_SECONDS_PER_MB * len(data) / 1e6
    output, exit_code = _run_worker(["markup", suffix], data, label, round(timeout, 1))
    outcome = _worker_outcome(output)
    fields = outcome.get("extracted") if isinstance(outcome, dict) else None
    names = ("text", "title", "source", "url", "date")
    if not isinstance(fields, dict) or not all(isinstance(fields.get(n), str) for n in names):
        raise IngestError(f"{label} parser crashed (exit code {exit_code})")
    return _Extracted(**{n: fields[n] for n in names})


def _worker_environment() -> dict[str, str]:
    """The caller's environment, with this package importable even when it is not installed."""
    package_parent = str(Path(__file__).resolve().parents[2])  # rag/ingest/worker.py -> the folder holding rag/
    paths = [package_parent, *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _worker_outcome(output: bytes) -> object:
    """The parser process's JSON outcome (None when it is not JSON); its own error message is raised."""
    try:
        outcome = json.loads(output)
    except ValueError:
        return None
    if isinstance(outcome, dict) and isinstance(outcome.get("error"), str):
        raise IngestError(outcome["error"])
    return outcome


def _parse_worker_outcome(label: str, output: bytes, exit_code: int) -> tuple[list[str], str, str]:
    outcome = _worker_outcome(output)
    if not (
        isinstance(outcome, dict)
        and _is_str_list(outcome.get("parts"))
        and isinstance(outcome.get("title"), str)
        and isinstance(outcome.get("source"), str)
    ):
        raise IngestError(f"{label} parser crashed (exit code {exit_code})")
    return outcome["parts"], outcome["title"], outcome["source"]


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _worker_main() -> None:
    """Entry point of the parser process: the kind in argv, file bytes on stdin, a JSON outcome on stdout."""
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    data = sys.stdin.buffer.read()
    if kind == "markup":
        sys.stdout.write(_markup_worker(data, sys.argv[2] if len(sys.argv) > 2 else ""))
        return
    # Imported here: the office readers import this module to start the child, and the child
    # looks the extractor up at call time (not in a table) so that tests can replace one.
    from rag.ingest import office

    label = _WORKER_LABELS.get(kind, kind)
    try:
        extract = {"pdf": office._extract_pdf, "docx": office._extract_docx}[kind]
        _limit_memory(PARSER_MEMORY_BYTES)
        parts, title, source = extract(data)
        output = json.dumps({"parts": parts, "title": title, "source": source})
    except MemoryError:
        output = json.dumps({"error": f"{label} parsing ran out of memory (limit {PARSER_MEMORY_BYTES / 1e9:g} GB)"})
    except _ParseProblem as err:
        output = json.dumps({"error": str(err)})
    except Exception as err:  # parsers raise many kinds on malformed input; report, never crash
        reason = office._pdf_error_reason(err) if kind == "pdf" else office._docx_error_reason(err)
        output = json.dumps({"error": reason})
    sys.stdout.write(output)


def _markup_worker(data: bytes, suffix: str) -> str:
    """The JSON outcome of reading a text, Markdown or HTML file in the parser process."""
    from rag.ingest.documents import _READERS  # imported here: documents imports this module

    label = _FORMAT_NAMES.get(suffix, suffix)
    try:
        _limit_memory(PARSER_MEMORY_BYTES)
        extracted = _READERS[suffix](data, Path(f"document{suffix}"))
        fields = {n: getattr(extracted, n) for n in ("text", "title", "source", "url", "date")}
        # Lone surrogates cannot cross as UTF-8 JSON; the readers already replace them.
        return json.dumps({"extracted": fields})
    except MemoryError:
        return json.dumps({"error": f"{label} parsing ran out of memory (limit {PARSER_MEMORY_BYTES / 1e9:g} GB)"})
    except IngestError as err:
        return json.dumps({"error": _one_line(str(err))})


def _limit_memory(budget: int) -> None:
    """Cap this process's address space at what it maps now plus ``budget`` bytes.

    Relative to the current size, because a child may inherit large mappings it does not use.
    """
    try:
        import resource
    except ImportError:  # not Unix: no address-space limit to set
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space_in_use() + budget
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):  # the timeout still bounds the worker
        logger.warning("could not limit the parser worker's memory")


def _address_space_in_use() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
