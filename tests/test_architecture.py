"""The folder is the architecture: each stage imports only the stages before it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ORDER = [
    "types", "errors", "config", "ingest", "sentences", "chunking", "embedding", "dense",
    "lexical", "boilerplate", "store", "retrieval", "answer", "conversation", "claims", "lookup", "filters",
    "pipeline", "export", "feedback", "evaluation", "cli",
]  # fmt: skip
HEAVY = {"sentence_transformers": "embedding", "torch": "embedding", "onnxruntime": "embedding",
         "faiss": "dense", "bm25s": None, "Stemmer": "lexical", "gradio": None, "ray": None}  # fmt: skip
PUBLIC = {"rag", "rag.errors", "rag.evaluation", "rag.export", "rag.feedback"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_every_module_is_in_the_stage_order() -> None:
    modules = {p.stem for p in (ROOT / "rag").glob("*.py")} - {"__init__"}
    assert modules == set(ORDER)


@pytest.mark.parametrize("module", ORDER)
def test_stages_import_only_earlier_stages(module: str) -> None:
    allowed = set(ORDER[: ORDER.index(module)])
    used = {name.split(".")[1] for name in _imports(ROOT / "rag" / f"{module}.py") if name.startswith("rag.")}
    if module == "pipeline":
        used -= {"cluster"}  # build_index/load_index(ray=...) hand over to rag.cluster, imported only then
    if module == "cli":
        own = {n for n in _imports(ROOT / "rag" / "cli.py") if n == "rag" or n.startswith("rag.")}
        assert own <= PUBLIC, f"the CLI must use the public API only, not {sorted(own - PUBLIC)}"
    assert used <= allowed, f"rag.{module} imports later stages: {sorted(used - allowed)}"


@pytest.mark.parametrize("library", sorted(HEAVY))
def test_each_heavy_library_has_one_home(library: str) -> None:
    owners = {p.stem for p in (ROOT / "rag").glob("*.py") if any(n.split(".")[0] == library for n in _imports(p))}
    assert owners <= ({HEAVY[library]} if HEAVY[library] else set()), f"{library} imported by {sorted(owners)}"


def test_ray_lives_in_the_cluster_package_after_the_pipeline() -> None:
    """rag/cluster/ (the only home of ray) wires the stages up to the pipeline, and nothing imports it back."""
    allowed = {*ORDER[: ORDER.index("pipeline") + 1], "cluster"}
    for path in (ROOT / "rag").rglob("*.py"):
        imported = _imports(path)
        if path.parent.name == "cluster":
            used = {name.split(".")[1] for name in imported if name.startswith("rag.")}
            assert used <= allowed, f"rag/cluster/{path.name} imports later stages: {sorted(used - allowed)}"
        else:
            assert "ray" not in {n.split(".")[0] for n in imported}, f"{path} imports ray"
            assert not {n for n in imported if n.startswith("rag.cluster")} - {"rag.cluster.build", "rag.cluster.serve"}
    modules = {p.stem for p in (ROOT / "rag" / "cluster").glob("*.py")}
    assert modules == {"__init__", "connect", "build", "serve"}


def test_ui_uses_only_the_public_api() -> None:
    ui = ROOT / "ui.py"
    if not ui.exists():
        pytest.skip("ui.py not written yet")
    used = {n for n in _imports(ui) if n == "rag" or n.startswith("rag.")}
    assert used <= PUBLIC, f"ui.py reaches into {sorted(used - PUBLIC)}"
