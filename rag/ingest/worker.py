"""The sandboxed parser pool: PDF, DOCX and large markup files are parsed in long-lived child
processes under time and memory limits, so that a hostile file can neither hang nor exhaust the caller.

The parent side (``ParserPool``) keeps one ``python -P`` child per core and speaks to each over
its pipes: a request is a length-prefixed JSON header and the file's bytes, an outcome is a
length-prefixed JSON object. A child that times out is killed, one that crashes or runs out of
memory is replaced, and only its file is skipped. The child side (``_worker_main``) limits its
own memory once, then reads, parses and answers until its stdin closes.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import selectors
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from rag.errors import IngestError
from rag.ingest.formats import format_name, reader_for
from rag.ingest.metadata import Extracted, as_one_line

logger = logging.getLogger(__name__)


# Limits of the child processes that parse PDF and DOCX files.
PARSER_TIMEOUT_SECONDS = 20.0
PARSER_MEMORY_BYTES = 1_500_000_000
# Text, Markdown and HTML files larger than this are read in a child process too, under
# the same memory limit and a time limit that grows with their size; smaller ones are read in
# process (the readers are linear, and a round trip per small file would dominate indexing).
IN_PROCESS_MAX_BYTES = 256 * 1024
MARKUP_SECONDS_PER_MB = 3.0
# A child is replaced after this many files, so that what a parser's caches and a fragmented
# heap hold cannot grow over a long run; starting one costs about 0.3 s, 3 ms a file at 100
# (benchmarks/ingest.py measures the pool's rate with this setting).
TASKS_PER_WORKER = 100
_WORKER_COMMAND = "from rag.ingest.worker import _worker_main; _worker_main()"
_WORKER_LABELS = {"pdf": "PDF", "docx": "DOCX"}
_REQUEST_HEAD = struct.Struct(">IQ")  # header length, data length
_REPLY_HEAD = struct.Struct(">I")  # outcome length
_CLOSE_SECONDS = 2.0


class ParseProblem(Exception):
    """A file that cannot be used, raised inside the worker process with the reason to report."""


def parser_processes() -> int:
    """How many parser processes a pool keeps by default: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class _Worker:
    """One long-lived parser process, started on first use and replaced when it dies or is retired."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._tasks = 0

    def call(self, header: dict[str, str], data: bytes, label: str, timeout: float) -> tuple[object, int]:
        """Send one file; its JSON outcome (None when the child died) and the child's exit code (0 if alive)."""
        process = self._running(label)
        deadline = time.monotonic() + timeout
        try:
            encoded = json.dumps(header).encode("utf-8")
            _write_all(process.stdin, _REQUEST_HEAD.pack(len(encoded), len(data)) + encoded, data)
            reply = _read_reply(process.stdout, deadline)
        except TimeoutError:
            self.stop(kill=True)
            raise IngestError(f"{label} parsing timed out after {timeout:g} s") from None
        except (BrokenPipeError, EOFError, OSError):
            return None, self._exit_code()
        self._tasks += 1
        outcome = _json_or_none(reply)
        if self._tasks >= TASKS_PER_WORKER or (isinstance(outcome, dict) and outcome.get("retire")):
            self.stop()
        return outcome, 0

    def _running(self, label: str) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._process, self._tasks = None, 0
        try:
            self._process = subprocess.Popen(
                # -P: the working folder is not put on sys.path, so a json.py or rag/ there cannot
                # stand in for the modules the parser imports (the package comes through PYTHONPATH).
                [sys.executable, "-P", "-c", _WORKER_COMMAND],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=_worker_environment(),
            )
        except OSError as err:
            raise IngestError(f"cannot start the {label} parser ({err.strerror})") from err
        return self._process

    def _exit_code(self) -> int:
        """The exit code of a child that stopped answering (it is killed if it has not exited)."""
        process, self._process = self._process, None
        if process is None:
            return 0
        try:
            return process.wait(timeout=_CLOSE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def stop(self, *, kill: bool = False) -> None:
        """End the child: close its stdin so it exits, or kill it (after a timeout, or when it lingers)."""
        process, self._process = self._process, None
        if process is None:
            return
        if kill:
            process.kill()
        for stream in (process.stdin, process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            process.wait(timeout=_CLOSE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ParserPool:
    """Long-lived parser processes shared by the threads that read a corpus; at most ``size`` run at once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._workers = [_Worker() for _ in range(size)]
        for worker in self._workers:
            self._idle.put(worker)

    def call(self, header: dict[str, str], data: bytes, label: str, timeout: float) -> tuple[object, int]:
        """Parse one file in an idle child; see ``_Worker.call``."""
        worker = self._idle.get()
        try:
            return worker.call(header, data, label, timeout)
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        """Stop every child."""
        for worker in self._workers:
            worker.stop()


_pool_lock = threading.Lock()
_pool: ParserPool | None = None
_pool_users = 0


@contextmanager
def parser_pool(size: int | None = None) -> Iterator[ParserPool]:
    """The process-wide parser pool, kept while any caller is inside this block.

    Loads that overlap (a build and an upload) share it; the children end when the last leaves.
    Outside any block, a file is parsed by a pool of one started for it.
    """
    global _pool, _pool_users
    with _pool_lock:
        if _pool is None:
            _pool = ParserPool(size or parser_processes())
        _pool_users += 1
        pool = _pool
    try:
        yield pool
    finally:
        with _pool_lock:
            _pool_users -= 1
            if _pool_users == 0:
                _pool = None
                pool.close()


def _call_parser(header: dict[str, str], data: bytes, label: str, timeout: float) -> tuple[object, int]:
    with parser_pool(1) as pool:
        return pool.call(header, data, label, timeout)


def extract_in_child(kind: str, data: bytes) -> tuple[list[str], str, str]:
    """Text parts, title and author of a ``kind`` file ("pdf", "docx"), parsed in a child process
    under time and memory limits, so that a hostile file can neither hang nor exhaust the caller.

    Child processes rather than multiprocessing: spawn and forkserver re-run the caller's
    ``__main__`` script in the child, which breaks scripts without a ``__main__`` guard.
    """
    label = _WORKER_LABELS[kind]
    outcome, exit_code = _call_parser({"kind": kind}, data, label, PARSER_TIMEOUT_SECONDS)
    return _parse_worker_outcome(label, outcome, exit_code)


def read_markup_in_child(data: bytes, path: Path) -> Extracted:
    """A large text, Markdown or HTML file read by its reader in the parser process, under its limits.

    The time limit grows with the file, since these readers are linear and a big legitimate file
    takes a while; what cannot pass is a parser that goes quadratic or swells in memory.
    """
    suffix = path.suffix.lower()
    label = format_name(suffix)
    timeout = round(PARSER_TIMEOUT_SECONDS + MARKUP_SECONDS_PER_MB * len(data) / 1e6, 1)
    outcome, exit_code = _call_parser({"kind": "markup", "suffix": suffix}, data, label, timeout)
    _raise_reported(outcome)
    fields = outcome.get("extracted") if isinstance(outcome, dict) else None
    names = ("text", "title", "source", "url", "date", "encoding")
    if not isinstance(fields, dict) or not all(isinstance(fields.get(n), str) for n in names):
        raise IngestError(f"{label} parser crashed (exit code {exit_code})")
    return Extracted(**{n: fields[n] for n in names})


def _worker_environment() -> dict[str, str]:
    """The caller's environment, with this package importable even when it is not installed."""
    package_parent = str(Path(__file__).resolve().parents[2])  # rag/ingest/worker.py -> the folder holding rag/
    paths = [package_parent, *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _write_all(stream: IO[bytes] | None, head: bytes, data: bytes) -> None:
    if stream is None:
        raise BrokenPipeError
    stream.write(head)
    stream.write(data)
    stream.flush()


def _read_reply(stream: IO[bytes] | None, deadline: float) -> bytes:
    """One length-prefixed outcome from the child, waiting no later than ``deadline``.

    Raises:
        TimeoutError: The deadline passed first.
        EOFError: The child closed its output (it died).
    """
    if stream is None:
        raise EOFError
    descriptor = stream.fileno()
    (length,) = _REPLY_HEAD.unpack(_read_exactly(descriptor, _REPLY_HEAD.size, deadline))
    return _read_exactly(descriptor, length, deadline)


def _read_exactly(descriptor: int, size: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    wanted = size
    with selectors.DefaultSelector() as selector:
        selector.register(descriptor, selectors.EVENT_READ)
        while wanted:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise TimeoutError
            chunk = os.read(descriptor, min(wanted, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            wanted -= len(chunk)
    return b"".join(chunks)


def _json_or_none(output: bytes) -> object:
    try:
        return json.loads(output)
    except ValueError:
        return None


def _raise_reported(outcome: object) -> None:
    """Raise the parser process's own error message, when its outcome is one."""
    if isinstance(outcome, dict) and isinstance(outcome.get("error"), str):
        raise IngestError(outcome["error"])


def _parse_worker_outcome(label: str, outcome: object, exit_code: int) -> tuple[list[str], str, str]:
    _raise_reported(outcome)
    if not (
        isinstance(outcome, dict)
        and _is_str_list(outcome.get("parts"))
        and isinstance(outcome.get("title"), str)
        and isinstance(outcome.get("author"), str)
    ):
        raise IngestError(f"{label} parser crashed (exit code {exit_code})")
    return outcome["parts"], outcome["title"], outcome["author"]


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


# --- the child side ----------------------------------------------------------------------


def _worker_main() -> None:
    """Entry point of a parser process: requests on stdin, one JSON outcome each on stdout, until stdin closes."""
    requests = sys.stdin.buffer
    # The protocol keeps the real stdout to itself; anything a parser prints goes nowhere.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    _limit_memory(PARSER_MEMORY_BYTES)
    while True:
        head = requests.read(_REQUEST_HEAD.size)
        if len(head) < _REQUEST_HEAD.size:
            return
        header_length, data_length = _REQUEST_HEAD.unpack(head)
        header = json.loads(requests.read(header_length))
        data = requests.read(data_length)
        outcome = _serve_one(header, data)
        encoded = json.dumps(outcome).encode("utf-8")
        replies.write(_REPLY_HEAD.pack(len(encoded)) + encoded)
        replies.flush()
        if outcome.get("retire"):
            return


def _serve_one(header: dict[str, str], data: bytes) -> dict[str, object]:
    kind = header.get("kind", "")
    if kind == "markup":
        return _markup_worker(data, header.get("suffix", ""))
    # Imported here: the office readers import this module to start the child, and the child
    # looks the extractor up at call time (not in a table) so that tests can replace one.
    from rag.ingest import office

    label = _WORKER_LABELS.get(kind, kind)
    try:
        extract = {"pdf": office._extract_pdf, "docx": office._extract_docx}[kind]
        parts, title, author = extract(data)
        return {"parts": parts, "title": title, "author": author}
    except MemoryError:
        return _out_of_memory(label)
    except ParseProblem as err:
        return {"error": str(err)}
    except Exception as err:  # parsers raise many kinds on malformed input; report, never crash
        reason = office._pdf_error_reason(err) if kind == "pdf" else office._docx_error_reason(err)
        return {"error": reason}


def _out_of_memory(label: str) -> dict[str, object]:
    # retire: a process that ran out of memory may hold a damaged heap; the pool starts another.
    return {"error": f"{label} parsing ran out of memory (limit {PARSER_MEMORY_BYTES / 1e9:g} GB)", "retire": True}


def _markup_worker(data: bytes, suffix: str) -> dict[str, object]:
    """The outcome of reading a text, Markdown or HTML file in the parser process."""
    label = format_name(suffix)
    try:
        extracted = reader_for(suffix)(data, Path(f"document{suffix}"))
        # Lone surrogates cannot cross as UTF-8 JSON; the readers already replace them.
        fields = ("text", "title", "source", "url", "date", "encoding")
        return {"extracted": {n: getattr(extracted, n) for n in fields}}
    except MemoryError:
        return _out_of_memory(label)
    except IngestError as err:
        return {"error": as_one_line(str(err))}


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
