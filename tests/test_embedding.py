"""The embedder: both encoders of the packaged model, the int8 export cache, and the fake."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from rag.encoder import embedding
from rag.encoder import export_onnx as model_export
from rag.encoder.embedding import ENCODERS, Embedder, OnnxEmbedder, default_model_path, load_embedder, prepare_encoder
from rag.errors import ModelError
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = [
    "The United Methodist Church was formed in 1968.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
    "Genghis Khan's grandson Möngke became Great Khan in 1251.",
    "The treaty was signed in Paris.",
    "Antigenic variation lets the parasite evade the immune system.",
    "ok",
    "",
    "Shares of the chip maker rose 4% after the company raised its forecast for the year.",
]
QUESTIONS = ["When was the United Methodist Church formed?", "Who became Great Khan in 1251?"]
LONG_TEXT = "The committee reviewed the annual budget and the minutes of the previous meeting. " * 40


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """The session's temporary cache (tests/conftest.py), so the model is exported once."""
    return embedding.default_cache_dir()


@pytest.fixture(scope="session")
def export_dir(cache_dir: Path, packaged_model: str) -> Path:
    return prepare_encoder(cache_dir=cache_dir)


@pytest.fixture(scope="session")
def onnx_embedder(export_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(export_dir)


@pytest.fixture(scope="session")
def torch_embedder(packaged_model: str) -> Embedder:
    return load_embedder(encoder="torch-fp32")


@pytest.fixture(params=ENCODERS)
def any_embedder(request: pytest.FixtureRequest, packaged_model: str) -> Embedder:
    return request.getfixturevalue("onnx_embedder" if request.param == "onnx-int8" else "torch_embedder")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def test_embedders_describe_the_packaged_model(onnx_embedder: Embedder, torch_embedder: Embedder) -> None:
    assert onnx_embedder.name.startswith("onnx-int8:all-MiniLM-L6-v2:") and len(onnx_embedder.name.split(":")[2]) == 12
    assert torch_embedder.name == "st-fp32:all-MiniLM-L6-v2"
    for embedder in (onnx_embedder, torch_embedder):
        assert isinstance(embedder, Embedder)
        assert (embedder.dim, embedder.max_tokens) == (384, 256)


def test_vectors_are_contiguous_unit_float32_rows(any_embedder: Embedder) -> None:
    vectors = any_embedder.encode(SENTENCES)
    assert vectors.shape == (len(SENTENCES), any_embedder.dim)
    assert vectors.dtype == np.float32 and vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_an_empty_matrix(any_embedder: Embedder) -> None:
    vectors = any_embedder.encode([])
    assert vectors.shape == (0, any_embedder.dim) and vectors.dtype == np.float32
    assert any_embedder.count_tokens([]) == []


def test_a_bare_string_is_refused(any_embedder: Embedder) -> None:
    with pytest.raises(TypeError, match="not a single str"):
        any_embedder.encode("a question")  # type: ignore[arg-type]


def test_progress_bar_on_request(onnx_embedder: Embedder, capsys: pytest.CaptureFixture[str]) -> None:
    onnx_embedder.encode(SENTENCES)
    assert "Embedding" not in capsys.readouterr().err
    assert onnx_embedder.encode(SENTENCES, show_progress=True).shape == (len(SENTENCES), 384)
    assert "Embedding" in capsys.readouterr().err


@pytest.mark.usefixtures("packaged_model")
def test_an_unwritable_cache_is_a_model_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ModelError, match="RAG_CACHE_DIR"):
        prepare_encoder(cache_dir=blocker / "encoders")


def test_length_sorting_keeps_each_vector_on_its_text(export_dir: Path) -> None:
    # batch_size 3 so the sorted texts cross several batch boundaries.
    embedder = OnnxEmbedder(export_dir, batch_size=3)
    texts = [*SENTENCES, LONG_TEXT, *QUESTIONS]
    together = embedder.encode(texts)
    alone = np.vstack([embedder.encode([text]) for text in texts])
    similarity = together @ alone.T
    assert list(similarity.argmax(axis=1)) == list(range(len(texts)))
    # Int8 activations are scaled per batch, so batch mates move a vector a little
    # (most for texts of a word or two, such as "ok").
    assert _cosines(together, alone).min() > 0.9


def test_torch_encoder_keeps_order_exactly(torch_embedder: Embedder) -> None:
    together = torch_embedder.encode(SENTENCES)
    alone = np.vstack([torch_embedder.encode([text]) for text in SENTENCES])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_int8_vectors_agree_with_the_fp32_model(onnx_embedder: Embedder, torch_embedder: Embedder) -> None:
    texts = [text for text in [*SENTENCES, *QUESTIONS, LONG_TEXT] if len(text) > 10]
    assert _cosines(onnx_embedder.encode(texts), torch_embedder.encode(texts)).min() > 0.98
    # Quantisation noise weighs more on a text of a word or two.
    tiny = ["ok", ""]
    assert _cosines(onnx_embedder.encode(tiny), torch_embedder.encode(tiny)).min() > 0.95
    # and they retrieve the same sentence for each question
    nearest = [(e.encode(QUESTIONS) @ e.encode(SENTENCES).T).argmax(axis=1) for e in (onnx_embedder, torch_embedder)]
    assert list(nearest[0]) == list(nearest[1]) == [0, 2]


def test_count_tokens_matches_the_model_tokenizer(onnx_embedder: Embedder, torch_embedder: Embedder) -> None:
    tokenizer = Tokenizer.from_file(str(Path(default_model_path()) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()  # the packaged file pads to 128
    texts = [*SENTENCES, LONG_TEXT]
    expected = [len(e.ids) for e in tokenizer.encode_batch(texts)]
    assert onnx_embedder.count_tokens(texts) == expected
    assert torch_embedder.count_tokens(texts) == expected
    assert expected[SENTENCES.index("")] == 2  # [CLS] [SEP]


def test_text_past_the_window_is_truncated(any_embedder: Embedder) -> None:
    assert any_embedder.count_tokens([LONG_TEXT])[0] > 2 * any_embedder.max_tokens
    longer = LONG_TEXT + " This sentence lies beyond the window and cannot change the vector."
    vectors = any_embedder.encode([LONG_TEXT, longer])
    assert _cosines(vectors[:1], vectors[1:])[0] > 0.9999


def test_a_missing_model_folder_is_a_model_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-model")
    for encoder in ENCODERS:
        with pytest.raises(ModelError, match="no-such-model") as raised:
            load_embedder(missing, encoder, cache_dir=tmp_path / "cache")
        assert "\n" not in str(raised.value)


@pytest.mark.parametrize("offline", [None, "1"])
@pytest.mark.parametrize("encoder", ENCODERS)
def test_an_uncached_hub_model_is_a_model_error_offline(
    tmp_path: Path, encoder: str, offline: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Offline is the default (None: the variable unset), passed to the loader as local_files_only.
    if offline is None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", offline)
    with pytest.raises(ModelError, match="no-such-org/no-such-model.*HF_HUB_OFFLINE=0") as raised:
        load_embedder("no-such-org/no-such-model", encoder, cache_dir=tmp_path)  # type: ignore[arg-type]
    assert "\n" not in str(raised.value)
    assert not list(tmp_path.iterdir()), "a failed export must leave nothing behind"


def test_the_export_is_reused(export_dir: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    onnx_file = export_dir / model_export.ONNX_FILE
    before = onnx_file.stat().st_mtime_ns

    def no_export(*args: object) -> None:
        raise AssertionError("the cached export should have been used")

    monkeypatch.setattr(model_export, "_export_int8", no_export)
    assert prepare_encoder(cache_dir=cache_dir) == export_dir
    assert load_embedder(cache_dir=cache_dir).name == OnnxEmbedder(export_dir).name
    assert onnx_file.stat().st_mtime_ns == before


@pytest.mark.usefixtures("packaged_model")
def test_a_crashed_export_leaves_no_partial_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(source: str, label: str, folder: Path, open_export: object) -> None:
        (folder / model_export.ONNX_FILE).write_bytes(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(model_export, "_export_int8", crash)
    with pytest.raises(KeyboardInterrupt):
        prepare_encoder(cache_dir=tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.usefixtures("packaged_model")
def test_loading_the_cached_export_imports_neither_torch_nor_sentence_transformers(cache_dir: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from rag.encoder.embedding import load_embedder\n"
        f"load_embedder(cache_dir=Path({str(cache_dir)!r})).encode(['a question'])\n"
        "heavy = sorted({'torch', 'sentence_transformers', 'transformers'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_importing_rag_leaves_the_environment_alone() -> None:
    # A host process (a notebook, an app) keeps its own Hugging Face settings: offline mode is
    # passed to the model loader, never written into os.environ.
    script = (
        "import os; before = dict(os.environ)\n"
        "import rag, rag.encoder.embedding, rag.encoder.export_onnx, rag.pipeline\n"
        "assert dict(os.environ) == before, sorted(set(os.environ.items()) ^ set(before.items()))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"} | {"PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_damaged_export_says_how_to_recover(export_dir: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(export_dir, damaged)
    (damaged / model_export.ONNX_FILE).write_bytes(b"not a model")
    with pytest.raises(ModelError, match="delete that folder"):
        OnnxEmbedder(damaged)


def test_models_beyond_transformer_and_pooling_are_refused(tmp_path: Path, torch_embedder: Embedder) -> None:
    model = tmp_path / "max-pooled"
    shutil.copytree(default_model_path(), model)
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)
    pooling.write_text(json.dumps(config))
    with pytest.raises(ModelError, match="use the torch-fp32 encoder"):
        prepare_encoder(str(model), cache_dir=tmp_path / "cache")


def test_bad_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match="encoder must be one of"):
        load_embedder(encoder="gpu-fp16")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threads"):
        load_embedder(threads=0)


def test_the_fake_embedder_fits_the_protocol() -> None:
    fake = FakeEmbedder()
    assert isinstance(fake, Embedder) and fake.name == "fake-hash-64"
    vectors = fake.encode(["the treaty of Paris", "Paris treaty signed", "photosynthesis makes sugar"])
    assert vectors.shape == (3, 64) and vectors.dtype == np.float32 and vectors.flags.c_contiguous
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


@pytest.mark.slow
@pytest.mark.usefixtures("packaged_model")
def test_two_workers_give_the_same_vectors_as_one() -> None:
    from rag.encoder.embedding import load_embedder

    texts = [f"Sentence number {i} about chips, funds and {'innovation ' * (i % 7)}policy." for i in range(300)]
    one = load_embedder(None, "onnx-int8", workers=1, batch_size=16).encode(texts)
    two = load_embedder(None, "onnx-int8", workers=2, batch_size=16).encode(texts)
    np.testing.assert_allclose(one, two, atol=1e-6)


def test_words_are_read_with_their_spans_and_the_texts_own_vector(any_embedder: Embedder) -> None:
    texts = ["When was Huawei founded?", "Authorities are addressing issues of waste."]
    read = any_embedder.encode_words(texts)
    assert [texts[0][a:b] for a, b in read[0].spans] == ["When", "was", "Huawei", "founded", "?"]
    for words, text in zip(read, texts, strict=True):
        assert words.vectors.shape == (len(words.spans), any_embedder.dim)
        np.testing.assert_allclose(np.linalg.norm(words.vectors, axis=1), 1.0, atol=1e-5)
        # The question is encoded once for both uses: its vector is what encode gives it alone.
        np.testing.assert_allclose(words.text_vector, any_embedder.encode([text])[0], atol=1e-5)
    huawei = read[0].vectors[2]
    assert float(huawei @ read[0].vectors[2]) > float(huawei @ read[1].vectors[0])


def test_encoding_into_rows_gives_the_vectors_of_one_encode_call(onnx_embedder: Embedder, tmp_path: Path) -> None:
    # A build writes its vectors straight into the segment's file: the same batches as encode(),
    # so the same vectors exactly, whichever rows they are written to.
    from rag.index.dense import RowFile, RowWriter

    texts = [f"Sentence {i} is about {'chips ' * (i % 9)}and funds." for i in range(300)]
    whole = onnx_embedder.encode(texts)
    rows = np.random.default_rng(0).permutation(400)[:300]
    with RowWriter(tmp_path / "rows.npy", 400, onnx_embedder.dim) as out:
        embedding.encode_into(onnx_embedder, texts, out, rows)
    written = RowFile(tmp_path / "rows.npy")
    assert np.array_equal(written[rows], whole)
    unwritten = np.setdiff1d(np.arange(400), rows)
    assert not written[unwritten].any()


def test_an_embedder_without_encode_into_is_encoded_a_slice_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedding, "ENCODE_SLICE", 64)
    fake, calls = FakeEmbedder(), []
    encode = fake.encode
    monkeypatch.setattr(fake, "encode", lambda texts, **kw: calls.append(len(texts)) or encode(texts, **kw))
    texts = [f"text number {i} about chips" for i in range(150)]
    out = np.zeros((150, fake.dim), dtype=np.float32)
    embedding.encode_into(fake, texts, out)
    assert calls == [64, 64, 22]  # never the vectors of every text at once
    assert np.array_equal(out, encode(texts))


def test_texts_are_tokenised_in_slices_bounded_by_count_and_characters() -> None:
    # Long texts keep their truncated overflow in the tokenizer's encodings: 1,024 texts of 2,000
    # characters at once held about 60 MB more than slices of 128 K characters (a 45 MB file).
    texts = ["x" * 2000] * 300 + ["short one"] * 3000 + ["y" * 500_000]
    slices = list(embedding._text_slices(texts))
    assert [t for some in slices for t in some] == texts
    assert all(len(some) <= embedding.TOKENIZE_SLICE for some in slices)
    assert all(len(some) == 1 or sum(map(len, some)) <= embedding.TOKENIZE_CHARS for some in slices)
    assert slices[-1] == ["y" * 500_000]  # a text longer than the bound goes alone
