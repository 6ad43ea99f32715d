"""Text -> unit vectors: the embedder protocol and its two encoders.

Two encoders produce vectors of the same model:

- ``onnx-int8`` (default): the model's transformer exported once to ONNX, dynamically
  quantised to int8 and cached on disk (by ``rag.encoder.export_onnx``); run with onnxruntime and
  the ``tokenizers`` library, pooled and normalised here. Loading a cached export imports
  neither torch nor sentence-transformers, so a single question costs milliseconds, not seconds.
- ``torch-fp32``: the sentence-transformers model itself, the quality reference.

This module and ``rag.encoder.export_onnx`` are the only ones that import sentence_transformers, torch
and onnxruntime.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from rag.encoder.export_onnx import (
    EXPORT_MANIFEST,
    TOKENIZER_FILE,
    default_model_path,
    first_line,
    load_sentence_transformer,
    model_label,
    prepare_export,
)
from rag.encoder.export_onnx import default_cache_dir as default_cache_dir  # re-exported: where it was before the split
from rag.errors import ModelError
from rag.progress import on_terminal, progress

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tokenizers import Tokenizer


Encoder = Literal["onnx-int8", "torch-fp32"]
ENCODERS: tuple[Encoder, ...] = ("onnx-int8", "torch-fp32")
# Word pieces per batch (texts x padded length). Measured on 2 cores: int8 MatMuls run
# fastest while a batch's activations stay in cache; 512 gave 379 sentences/s and 90
# 4-sentence passages/s against 314 and 53 for plain batches of 64.
BATCH_TOKENS = 512
# Texts tokenised at once before encoding, at most this many and (past the first) this many
# characters: bounds the tokenizer's memory, whose encodings of long texts keep their overflow.
TOKENIZE_SLICE = 1024
TOKENIZE_CHARS = 128 * 1024


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors.

    Attributes:
        name: identity of the vectors, recorded in the index manifest; two embedders
            with the same name produce interchangeable vectors.
        dim: vector dimension.
        max_tokens: the model's window in word pieces; longer texts are truncated.
    """

    name: str
    dim: int
    max_tokens: int

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Embeds texts as a C-contiguous float32 array of shape (len(texts), dim), rows of norm 1."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text, special tokens included, before truncation."""
        ...

    # Optional, and used when present: ``encode_words(texts) -> list[WordVectors]``, each
    # word's contextual vector, with which a question's words are aligned with a sentence's.
    # Optional, and used when present: ``encode_into(texts, out, *, show_progress)``, which writes
    # the vector of texts[i] into out[i] (see ``encode_into`` below) instead of returning them.


class RowSink(Protocol):
    """Where vectors are written, ``sink[rows] = vectors``: an array, or a build's vector file."""

    def __setitem__(self, rows: np.ndarray, vectors: np.ndarray) -> None: ...


# Texts per ``encode`` call when an embedder cannot write into a sink itself: a build holds
# the vectors of this many texts at a time, not of every sentence.
ENCODE_SLICE = 4096


def encode_into(
    embedder: Embedder,
    texts: Sequence[str],
    out: RowSink,
    rows: np.ndarray | None = None,
    *,
    show_progress: bool = False,
) -> None:
    """Write the vector of ``texts[i]`` into row ``rows[i]`` of ``out`` (row ``i`` without ``rows``).

    An embedder with its own ``encode_into`` writes a batch at a time, with the vectors one
    ``encode`` call gives; any other is called on ``ENCODE_SLICE`` texts at a time.
    """
    texts = _as_sequence(texts)
    target: RowSink = out if rows is None else _Rows(out, np.asarray(rows, dtype=np.int64))
    own = getattr(embedder, "encode_into", None)
    if callable(own):
        own(texts, target, show_progress=show_progress)
        return
    with _progress(len(texts), show_progress) as bar:
        for start in range(0, len(texts), ENCODE_SLICE):
            stop = min(start + ENCODE_SLICE, len(texts))
            target[np.arange(start, stop)] = embedder.encode(list(texts[start:stop]))
            bar.update(stop - start)


class _Rows:
    """A sink whose row ``i`` is row ``rows[i]`` of another."""

    def __init__(self, out: RowSink, rows: np.ndarray) -> None:
        self._out, self._rows = out, rows

    def __setitem__(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        self._out[self._rows[rows]] = vectors


def load_embedder(
    model: str | None = None,
    encoder: Encoder = "onnx-int8",
    *,
    cache_dir: Path | None = None,
    threads: int = 1,
    batch_size: int = 64,
    workers: int = 1,
) -> Embedder:
    """Loads an embedder for a sentence-transformers model.

    Args:
        model: a local sentence-transformers folder or a Hugging Face hub name
            (downloaded only when ``HF_HUB_OFFLINE=0``); None for the packaged model.
        encoder: ``"onnx-int8"`` (fast; exports the model on first use, 10-20 s,
            then reuses the export) or ``"torch-fp32"`` (the reference).
        cache_dir: folder of ONNX exports; default :func:`default_cache_dir`.
        threads: CPU threads for the model. One is fastest when anything else runs.
        batch_size: texts per model call.
        workers: batches encoded at once (onnx-int8 only); 2 uses both cores of a 2-core machine.

    Returns:
        An :class:`Embedder`.

    Raises:
        ModelError: the model cannot be found, loaded or exported.
        ValueError: an unknown encoder, or threads / batch_size below 1.
    """
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")
    if threads < 1 or batch_size < 1:
        raise ValueError(f"threads and batch_size must be >= 1, got {threads} and {batch_size}")
    exported = exported_encoder_dir() if model is None and encoder == "onnx-int8" else None
    if exported is not None:  # a serving machine: the export made elsewhere, no torch, no model package
        return OnnxEmbedder(exported, threads=threads, batch_size=batch_size, workers=workers)
    source = model or default_model_path()
    if encoder == "torch-fp32":
        return SentenceTransformerEmbedder(source, threads=threads, batch_size=batch_size)
    export_dir = prepare_encoder(source, cache_dir=cache_dir)
    return OnnxEmbedder(export_dir, threads=threads, batch_size=batch_size, workers=workers)


ENCODER_DIR_VARIABLE = "RAG_ENCODER_DIR"


def exported_encoder_dir() -> Path | None:
    """The exported encoder folder ``$RAG_ENCODER_DIR`` names, for the default model; None when unset.

    A machine that only serves (a container, a Ray worker) copies the folder a build machine's
    first ``rag index`` exported (``~/.cache/rag/encoders/all-minilm-l6-v2-*``) and needs neither
    torch, sentence-transformers, onnx nor the model package (docs/install.md).

    Raises:
        ModelError: the variable names a folder without an export.
    """
    value = os.environ.get(ENCODER_DIR_VARIABLE)
    if not value:
        return None
    folder = Path(value).expanduser()
    if not (folder / EXPORT_MANIFEST).is_file():
        raise ModelError(f"${ENCODER_DIR_VARIABLE} is {value}, which holds no exported encoder ({EXPORT_MANIFEST})")
    return folder


def prepare_encoder(model: str | None = None, *, cache_dir: Path | None = None) -> Path:
    """Makes sure the int8 ONNX export of ``model`` is cached, exporting it if needed.

    See :func:`rag.encoder.export_onnx.prepare_export`; a new export is checked through :class:`OnnxEmbedder`.

    Args:
        model: as for :func:`load_embedder`.
        cache_dir: as for :func:`load_embedder`.

    Returns:
        The folder holding the export (``encoder.json``, ``model_int8.onnx``, ``tokenizer.json``).

    Raises:
        ModelError: the model cannot be loaded or exported.
    """
    return prepare_export(model or default_model_path(), OnnxEmbedder, cache_dir=cache_dir)


class OnnxEmbedder:
    """Runs a cached int8 ONNX export with onnxruntime and the ``tokenizers`` library."""

    def __init__(self, export_dir: Path, *, threads: int = 1, batch_size: int = 64, workers: int = 1) -> None:
        """Loads the export made by :func:`prepare_encoder` in ``export_dir``.

        ``workers`` batches run at once, each on ``threads`` threads: onnxruntime releases
        the GIL, so two single-threaded workers use both cores of a small machine for a
        long encode, while one question still runs on one thread.

        Raises:
            ModelError: the export is missing or unreadable.
        """
        try:
            manifest = json.loads((export_dir / EXPORT_MANIFEST).read_text(encoding="utf-8"))
            self.name = f"onnx-int8:{manifest['model']}:{manifest['sha256'][:12]}"
            self.dim = int(manifest["dim"])
            self.max_tokens = int(manifest["max_tokens"])
            self._pooling = str(manifest["pooling"])
            self._session = _onnx_session(export_dir / manifest["onnx_file"], threads)
            self._tokenizer = _load_tokenizer(export_dir / TOKENIZER_FILE, self.max_tokens)
        except Exception as exc:  # any failure here means the same thing to the user
            raise ModelError(
                f"the cached encoder in {export_dir} cannot be loaded ({first_line(exc)}); "
                "delete that folder to export it again"
            ) from exc
        self.batch_size = batch_size
        self.workers = max(1, workers)
        self._input_names = [node.name for node in self._session.get_inputs()]
        self._counter: Tokenizer | None = None

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Embeds texts; see :class:`Embedder`.

        Texts are sorted by length and batched so that padding is minimal; a batch holds
        at most ``batch_size`` texts and, past its first text, :data:`BATCH_TOKENS` padded
        word pieces. Int8 activations are scaled per batch, so a text's vector varies
        slightly (cosine about 0.99) with the texts it is batched with.
        """
        texts = _as_list(texts)
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        self.encode_into(texts, vectors, show_progress=show_progress)
        return vectors

    def encode_into(self, texts: Sequence[str], out: RowSink, *, show_progress: bool = False) -> None:
        """Write the vector of ``texts[i]`` into row ``i`` of ``out``, a batch at a time.

        The vectors are those :meth:`encode` returns (the same batches), but they never
        need to be all in memory: a build writes them straight into its vector file.
        """
        texts = _as_sequence(texts)
        # Only the word-piece ids are kept, tokenised a slice at a time: a tokenizers Encoding
        # also holds the pieces' strings, offsets, masks and the truncated overflow, which for
        # tens of thousands of long texts came to gigabytes. They are kept end to end in one
        # int32 array (an array per text cost more in overhead than its ids).
        slices: list[np.ndarray] = []
        counts: list[int] = []
        for some in _text_slices(texts):
            encodings = self._tokenizer.encode_batch(some)
            counts.extend(len(e.ids) for e in encodings)
            slices.append(np.fromiter(itertools.chain.from_iterable(e.ids for e in encodings), dtype=np.int32))
            del encodings
        pieces = np.concatenate(slices) if slices else np.zeros(0, dtype=np.int32)
        del slices
        lengths = np.asarray(counts, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        order = np.argsort(lengths, kind="stable")
        batches = [order[rows] for rows in _batches(lengths[order], self.batch_size)]

        def run(rows: np.ndarray) -> np.ndarray:
            pooled = self._encode_batch([pieces[starts[i] : starts[i] + lengths[i]] for i in rows], lengths[rows])
            return _normalise(pooled)  # row by row: the same whatever the batch

        with _progress(len(texts), show_progress) as bar:
            if self.workers > 1 and len(batches) > 1:
                with ThreadPoolExecutor(self.workers) as pool:
                    for rows, batch_vectors in zip(batches, pool.map(run, batches), strict=True):
                        out[rows] = batch_vectors
                        bar.update(len(rows))
            else:
                for rows in batches:
                    out[rows] = run(rows)
                    bar.update(len(rows))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, special tokens included, before truncation."""
        if self._counter is None:
            self._counter = _counting_tokenizer(self._tokenizer)
        texts = _as_list(texts)
        counts: list[int] = []
        for some in _text_slices(texts):
            counts += [len(e.ids) for e in self._counter.encode_batch(some)]
        return counts

    def encode_words(self, texts: Sequence[str]) -> list[WordVectors]:
        """The contextual vector of each word of each text, for aligning a question's words with a sentence's.

        A word's vector is the mean of its word pieces' last hidden states, L2-normalised.
        Each text runs alone (a batch would pad it to the longest), so its ``text_vector`` is
        exactly what :meth:`encode` gives it: a question is encoded once for both uses.
        """
        found = []
        for text in _as_list(texts):
            encoding = self._tokenizer.encode(text)
            lengths = np.array([len(encoding.ids)], dtype=np.int64)
            hidden = self._hidden_states([encoding.ids], lengths)
            pooled = _normalise(_pool(hidden, np.ones((1, len(encoding.ids)), dtype=np.int64), self._pooling))
            found.append(_word_vectors(encoding.word_ids, encoding.offsets, hidden[0], pooled[0]))
        return found

    def _hidden_states(self, ids: Sequence[Sequence[int] | np.ndarray], lengths: np.ndarray) -> np.ndarray:
        width = int(lengths.max())
        mask = (np.arange(width) < lengths[:, None]).astype(np.int64)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        for row, piece_ids in enumerate(ids):
            input_ids[row, : len(piece_ids)] = piece_ids
        feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        return self._session.run(None, {name: feed[name] for name in self._input_names})[0]

    def _encode_batch(self, ids: Sequence[Sequence[int] | np.ndarray], lengths: np.ndarray) -> np.ndarray:
        mask = (np.arange(int(lengths.max())) < lengths[:, None]).astype(np.int64)
        return _pool(self._hidden_states(ids, lengths), mask, self._pooling)


class SentenceTransformerEmbedder:
    """The sentence-transformers model in float32 on the CPU: the quality reference."""

    def __init__(self, model: str, *, threads: int = 1, batch_size: int = 64) -> None:
        """Loads ``model`` (local folder or hub name) with sentence-transformers.

        Raises:
            ModelError: the model cannot be loaded.
        """
        self._model = load_sentence_transformer(model)
        import torch  # importable: sentence-transformers has just loaded it

        torch.set_num_threads(threads)
        self.name = f"st-fp32:{model_label(model)}"
        self.dim = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)
        self.batch_size = batch_size
        self._counter = _counting_tokenizer(self._model.tokenizer.backend_tokenizer)

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Embeds texts; see :class:`Embedder`."""
        texts = _as_list(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=show_progress and on_terminal(),  # elsewhere, a line at most (rag.progress)
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, special tokens included, before truncation."""
        return [len(e.ids) for e in self._counter.encode_batch(_as_list(texts))]

    def encode_words(self, texts: Sequence[str]) -> list[WordVectors]:
        """The contextual vector of each word of each text; see :meth:`OnnxEmbedder.encode_words`."""
        found = []
        for text in _as_list(texts):
            output = self._model.encode([text], output_value=None, convert_to_numpy=False)[0]
            pieces = self._model.tokenizer(
                text, return_offsets_mapping=True, truncation=True, max_length=self.max_tokens
            )
            states = output["token_embeddings"].float().numpy()
            text_vector = _normalise(output["sentence_embedding"].float().numpy().reshape(1, -1))[0]
            found.append(_word_vectors(pieces.word_ids(), pieces["offset_mapping"], states, text_vector))
        return found


# --- shared helpers -------------------------------------------------------------------


def _as_list(texts: Sequence[str]) -> list[str]:
    return list(_as_sequence(texts))


def _as_sequence(texts: Sequence[str]) -> Sequence[str]:
    """``texts`` as given when it is a sequence (read a slice at a time), else as a list."""
    # A lone string is a Sequence[str] too; embedding it letter by letter is never meant.
    if isinstance(texts, str):
        raise TypeError("encode() takes a sequence of texts, not a single str: wrap it in a list")
    return texts if isinstance(texts, Sequence) else list(texts)


def _text_slices(texts: Sequence[str]) -> Iterator[list[str]]:
    """``texts`` in order, as lists of at most TOKENIZE_SLICE texts and, past the first, TOKENIZE_CHARS characters."""
    start = 0
    while start < len(texts):
        some = list(texts[start : start + TOKENIZE_SLICE])
        total, end = 0, 0
        while end < len(some) and (end == 0 or total + len(some[end]) <= TOKENIZE_CHARS):
            total += len(some[end])
            end += 1
        yield some[:end]
        start += end


def _batches(sorted_lengths: np.ndarray, batch_size: int) -> Iterator[slice]:
    """Slices of consecutive texts (sorted by length) that fill a batch."""
    start, count = 0, len(sorted_lengths)
    while start < count:
        end = start + 1
        while end < count and end - start < batch_size and (end - start + 1) * sorted_lengths[end] <= BATCH_TOKENS:
            end += 1
        yield slice(start, end)
        start = end


@dataclass(frozen=True, slots=True)
class WordVectors:
    """The words of a text as character spans, one unit vector per word (rows of ``vectors``),
    and the text's own vector (as :meth:`Embedder.encode` gives it)."""

    spans: tuple[tuple[int, int], ...]
    vectors: np.ndarray
    text_vector: np.ndarray


def _word_vectors(
    word_ids: Sequence[int | None], offsets: Sequence[tuple[int, int]], states: np.ndarray, text_vector: np.ndarray
) -> WordVectors:
    pieces: dict[int, list[int]] = {}
    for position, word in enumerate(word_ids):
        if word is not None:
            pieces.setdefault(word, []).append(position)
    if not pieces:
        return WordVectors((), np.zeros((0, states.shape[-1]), dtype=np.float32), text_vector)
    spans = tuple((offsets[p[0]][0], offsets[p[-1]][1]) for p in pieces.values())
    vectors = np.stack([states[p].mean(axis=0) for p in pieces.values()]).astype(np.float32)
    return WordVectors(spans, _normalise(vectors), text_vector)


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "cls":
        return hidden[:, 0, :]
    weights = mask.astype(np.float32)[:, None, :]
    summed = np.matmul(weights, hidden)[:, 0, :]
    return summed / np.maximum(weights.sum(axis=2), 1.0)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    # A slice at a time: the norm squares its whole input into a temporary array, which for
    # every sentence of a large build was as big as the vectors themselves. Each row's norm
    # is the same whatever the slice.
    for start in range(0, len(vectors), TOKENIZE_SLICE):
        rows = vectors[start : start + TOKENIZE_SLICE]
        rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return vectors


def _progress(total: int, show: bool) -> Any:
    return progress(total, "Embedding", "text", show)


def _load_tokenizer(path: Path, max_tokens: int) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer


def _counting_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    from tokenizers import Tokenizer

    counter = Tokenizer.from_str(tokenizer.to_str())
    counter.no_padding()
    counter.no_truncation()
    return counter


def _onnx_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    # Memory patterns are planned and kept per input shape; sorted batches of texts take
    # thousands of shapes, so on a long encode they held more memory than the vectors did.
    options.enable_mem_pattern = False
    if threads > 1:
        # Spinning workers steal the core other jobs need: on a shared 2-core machine
        # 2 spinning threads ran 200 sentences/s against 380 without spinning.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
