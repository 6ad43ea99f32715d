"""The folder is the architecture: each stage imports only the stages before it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ORDER = [
    "types", "errors", "config", "ingest", "sentences", "chunking", "model_export", "embedding", "dense",
    "lexical", "boilerplate", "store", "retrieval", "answer", "conversation", "claims", "lookup", "filters",
    "pipeline", "cluster", "export", "feedback", "evaluation", "workspace",
    "app_render", "app_access", "app_documents", "app_assets", "app", "cli",
]  # fmt: skip
HEAVY = {"sentence_transformers": "model_export", "torch": ("embedding", "model_export"),
         "onnxruntime": ("embedding", "model_export"),
         "faiss": "dense", "bm25s": None, "Stemmer": "lexical", "gradio": "app",
         "ray": "cluster"}  # fmt: skip
PUBLIC = {"rag", "rag.errors", "rag.evaluation", "rag.export", "rag.feedback", "rag.workspace"}
APP = {"rag.app", "rag.app_render", "rag.app_access", "rag.app_documents", "rag.app_assets"}
APP_ALSO = {"rag.ingest"}  # read_document: an upload is refused for the reason indexing would give


def _stage_files(stage: str) -> list[Path]:
    """The source of a stage: ``rag/STAGE.py``, or every module of the package ``rag/STAGE/``."""
    package = ROOT / "rag" / stage
    return sorted(package.glob("*.py")) if package.is_dir() else [ROOT / "rag" / f"{stage}.py"]


def _stage_imports(stage: str) -> set[str]:
    return set().union(*(_imports(path) for path in _stage_files(stage)))


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
    modules |= {p.name for p in (ROOT / "rag").iterdir() if (p / "__init__.py").is_file()}
    assert modules == set(ORDER)


@pytest.mark.parametrize("module", ORDER)
def test_stages_import_only_earlier_stages(module: str) -> None:
    allowed = set(ORDER[: ORDER.index(module)])
    used = {name.split(".")[1] for name in _stage_imports(module) if name.startswith("rag.")} - {module}
    if module == "pipeline":
        used -= {"cluster"}  # build_index/load_index(ray=...) hand over to rag.cluster, imported only then
    own = {n for n in _stage_imports(module) if n == "rag" or n.startswith("rag.")}
    if module == "cli":
        assert own <= PUBLIC | {"rag.app"}, f"the CLI must use the public API only, not {sorted(own - PUBLIC)}"
    if f"rag.{module}" in APP:
        assert own <= PUBLIC | APP | APP_ALSO, f"the app must use the public API only, not {sorted(own - PUBLIC - APP)}"
    assert used <= allowed, f"rag.{module} imports later stages: {sorted(used - allowed)}"


@pytest.mark.parametrize("library", sorted(HEAVY))
def test_each_heavy_library_has_one_home(library: str) -> None:
    owners = {stage for stage in ORDER if any(n.split(".")[0] == library for n in _stage_imports(stage))}
    homes = HEAVY[library]
    allowed = {homes} if isinstance(homes, str) else set(homes or ())
    assert owners <= allowed, f"{library} imported by {sorted(owners)}"


def test_only_the_pipeline_hooks_reach_the_cluster_package() -> None:
    """rag/cluster/ runs after the pipeline; the pipeline's ray= hooks are the only way in, imported lazily."""
    for path in (ROOT / "rag").rglob("*.py"):
        if path.parent.name != "cluster":
            reached = {n for n in _imports(path) if n.startswith("rag.cluster")}
            assert reached <= ({"rag.cluster.build", "rag.cluster.serve"} if path.stem == "pipeline" else set()), path
    pipeline = ast.parse((ROOT / "rag" / "pipeline.py").read_text(encoding="utf-8"))
    top_level = {node.module for node in pipeline.body if isinstance(node, ast.ImportFrom)}
    assert not {m for m in top_level if m and m.startswith("rag.cluster")}


def test_ui_only_launches_the_app() -> None:
    ui = ROOT / "ui.py"
    used = {n for n in _imports(ui) if n == "rag" or n.startswith("rag.")}
    assert used <= PUBLIC | {"rag.app"}, f"ui.py reaches into {sorted(used - PUBLIC - {'rag.app'})}"
    lines = len(ui.read_text(encoding="utf-8").splitlines())
    assert lines <= 30, f"ui.py has {lines} lines: the app belongs in rag/app.py"
