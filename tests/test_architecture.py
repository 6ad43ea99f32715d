"""The folder is the architecture: each stage imports only the stages before it.

A stage is a top-level module (``rag/config.py``) or a package (``rag/search/``): a package's
modules belong to its stage, import each other only in the order ``INSIDE`` gives, and, like a
module, import only the stages before theirs. A question goes down the stages once: its text
(``text``), what it asks (``question``), the search (``search``), the answer and its citations
(``answer``); the app and the CLI sit on top and use the public API.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rag.index.segment import SEGMENT_FILES

ROOT = Path(__file__).resolve().parent.parent
RAG = ROOT / "rag"
ORDER = [
    "types", "errors", "progress", "answer_model", "config", "ingest", "corpus", "text", "encoder", "index",
    "question", "search", "answer", "pipeline", "cluster", "export", "feedback", "evaluation", "workspace", "app",
    "cli", "__main__",
]  # fmt: skip
# The modules of a package stage in their own order: each imports only those before it.
INSIDE = {
    "text": ["words", "sentences", "chunking", "boilerplate", "language"],
    "encoder": ["export_onnx", "embedding"],
    "index": ["manifest", "files", "metadata", "dense", "lexical", "segment", "open", "update"],
    "question": ["focus", "followups", "kinds"],
    "search": ["retrieval", "filters"],
    "answer": ["select", "compose", "claim_words", "claim_names", "claim_opposites", "claims", "spans", "lookup",
               "queries"],
    "app": ["access", "assets", "pages", "render", "render_lookup", "documents", "handlers", "chat", "api", "layout",
            "server"],
    "cli": ["settings", "completion", "main"],
    "cluster": ["connect", "shard", "build", "serve"],
}  # fmt: skip
# The one module (or modules) where each heavy library may be imported.
HEAVY = {"sentence_transformers": "encoder.export_onnx", "torch": ("encoder.embedding", "encoder.export_onnx"),
         "onnxruntime": ("encoder.embedding", "encoder.export_onnx"),
         "faiss": "index.dense", "bm25s": None, "Stemmer": "text.words",
         "gradio": ("app.server", "app.handlers", "app.chat", "app.api", "app.layout"),
         "ray": ("cluster.connect", "cluster.shard", "cluster.build", "cluster.serve")}  # fmt: skip
# What the app and the CLI may import besides their own package: the public API.
PUBLIC = {"rag", "rag.errors", "rag.evaluation", "rag.export", "rag.feedback", "rag.workspace", "rag.text.language",
          "rag.answer.spans"}  # fmt: skip
APP_ALSO = {"rag.ingest"}  # read_document: an upload is refused for the reason indexing would give
# What only rag/index/ may know: the names of the files in an index folder, and the manifest's keys.
INDEX_FILE_NAMES = {*SEGMENT_FILES, "manifest.json"}
# Stages that read a manifest of their own, not the index's (the ONNX export's, in the model cache).
OWN_MANIFESTS = {"encoder"}
MAX_TOP_LEVEL_MODULES = 15  # issue 23: what is not a stage of its own belongs in a package
MAX_MODULE_LINES = 600


def _sources() -> dict[Path, str]:
    """Every module of the package, with the stage it belongs to."""
    found = {}
    for path in sorted(RAG.rglob("*.py")):
        parts = path.relative_to(RAG).with_suffix("").parts
        if parts == ("__init__",):
            continue
        found[path] = parts[0]
    return found


def _name(path: Path) -> str:
    return path.relative_to(RAG).as_posix()


def _imports(path: Path) -> set[str]:
    """The modules ``path`` imports, relative imports resolved against its package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(("rag", *path.relative_to(RAG).parent.parts)) if path.is_relative_to(RAG) else ""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            folder = ROOT.joinpath(*node.module.split("."))
            found.update(f"{node.module}.{a.name}" for a in node.names if (folder / f"{a.name}.py").exists())
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            found.update(".".join([*base, *([node.module] if node.module else [alias.name])]) for alias in node.names)
    return found


def _stage_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "rag" and len(parts) > 1 else None


def test_every_module_is_in_the_stage_order() -> None:
    assert set(_sources().values()) == set(ORDER)
    for package, modules in INSIDE.items():
        held = {p.stem for p in (RAG / package).glob("*.py")} - {"__init__"}
        assert held == set(modules), f"rag/{package}/ holds {sorted(held)}, INSIDE lists {sorted(modules)}"


@pytest.mark.parametrize("path", sorted(_sources()), ids=_name)
def test_stages_import_only_earlier_stages(path: Path) -> None:
    stage = _sources()[path]
    allowed = set(ORDER[: ORDER.index(stage)])
    imported = {name for name in _imports(path) if _stage_of(name)}
    used = {_stage_of(name) for name in imported} - {stage}
    if stage == "pipeline":
        used -= {"cluster"}  # build_index/load_index(ray=...) hand over to rag.cluster, imported only then
    own = {n for n in _imports(path) if n == "rag" or n.startswith("rag.")}
    if stage in ("cli", "app"):
        own_package = {n for n in own if n == f"rag.{stage}" or n.startswith(f"rag.{stage}.")}
        allowed_too = {"rag.app.server"} if stage == "cli" else APP_ALSO  # `rag serve` starts the app
        outside = own - own_package - PUBLIC - allowed_too
        assert not outside, f"rag/{stage}/ must use the public API only, not {sorted(outside)}"
    assert used <= allowed, f"{_name(path)} ({stage}) imports later stages: {sorted(used - allowed)}"
    if stage in INSIDE and path.stem != "__init__":
        order = INSIDE[stage]
        inside = {name.split(".")[2] for name in imported if _stage_of(name) == stage and len(name.split(".")) > 2}
        later = inside - set(order[: order.index(path.stem)])
        assert not later, f"rag/{stage}/{path.name} imports modules after it in {stage}: {sorted(later)}"


@pytest.mark.parametrize("library", sorted(HEAVY))
def test_each_heavy_library_has_one_home(library: str) -> None:
    owners = {
        ".".join(path.relative_to(RAG).with_suffix("").parts)
        for path in _sources()
        if any(n.split(".")[0] == library for n in _imports(path))
    }
    homes = HEAVY[library]
    allowed = {homes} if isinstance(homes, str) else set(homes or ())
    assert owners <= allowed, f"{library} imported by {sorted(owners)}"


def test_rag_keeps_few_top_level_modules() -> None:
    top_level = sorted(p.name for p in RAG.glob("*.py"))
    assert len(top_level) <= MAX_TOP_LEVEL_MODULES, f"rag/ holds {len(top_level)} modules: {top_level}"


@pytest.mark.parametrize("path", sorted(RAG.rglob("*.py")), ids=_name)
def test_no_module_is_over_600_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_name(path)} has {lines} lines"


@pytest.mark.parametrize("package", sorted(p.parent for p in RAG.glob("*/__init__.py")), ids=lambda p: p.name)
def test_each_package_says_what_it_holds(package: Path) -> None:
    tree = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"rag/{package.name}/__init__.py has no docstring"


def test_only_the_pipeline_hooks_reach_the_cluster_package() -> None:
    """rag/cluster/ runs after the pipeline; the pipeline's ray= hooks are the only way in, imported lazily."""
    for path, stage in _sources().items():
        if stage != "cluster":
            reached = {n for n in _imports(path) if n.startswith("rag.cluster")}
            assert reached <= ({"rag.cluster.build", "rag.cluster.serve"} if stage == "pipeline" else set()), path
    pipeline = ast.parse((RAG / "pipeline.py").read_text(encoding="utf-8"))
    top_level = {node.module for node in pipeline.body if isinstance(node, ast.ImportFrom)}
    assert not {m for m in top_level if m and m.startswith("rag.cluster")}


def _index_knowledge(path: Path, *, manifests: bool = True) -> list[str]:
    """Where ``path`` names a file of the index folder or reads a key of a manifest (dict or JSON).

    Reading the typed ``Manifest``'s attributes is the way; ``Index.info()``, the public summary
    the CLI prints, is not a manifest.
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in INDEX_FILE_NAMES:
            found.append(f"line {node.lineno}: names the index file {node.value!r}")
        elif not manifests:
            continue
        elif isinstance(node, ast.Subscript) and "manifest" in ast.unparse(node.value).lower():
            found.append(f"line {node.lineno}: reads a manifest key ({ast.unparse(node)})")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            if "manifest" in ast.unparse(node.func.value).lower():
                found.append(f"line {node.lineno}: reads a manifest key ({ast.unparse(node)})")
    return found


@pytest.mark.parametrize("path", [p for p, stage in sorted(_sources().items()) if stage != "index"], ids=_name)
def test_only_the_index_package_knows_the_index_files(path: Path) -> None:
    found = _index_knowledge(path, manifests=_sources()[path] not in OWN_MANIFESTS)
    assert found == [], f"{path.relative_to(ROOT)} reaches into the index folder"


def test_the_index_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    module = tmp_path / "leaky.py"
    module.write_text(
        'a = index.manifest["segments"]\nb = self._manifest.get("files")\nc = folder / "sentences.faiss"\n',
        encoding="utf-8",
    )
    assert len(_index_knowledge(module)) == 3


def test_ui_only_launches_the_app() -> None:
    ui = ROOT / "ui.py"
    used = {n for n in _imports(ui) if n == "rag" or n.startswith("rag.")}
    assert used <= PUBLIC | {"rag.app.server"}, f"ui.py reaches into {sorted(used - PUBLIC - {'rag.app.server'})}"
    lines = len(ui.read_text(encoding="utf-8").splitlines())
    assert lines <= 30, f"ui.py has {lines} lines: the app belongs in rag/app/"
