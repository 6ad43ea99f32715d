"""Disk size of rag's installed dependencies, all of them and those a serving-only machine needs (a benchmark).

python benchmarks/install.py [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

METHOD = """\
The closure of this checkout's pyproject.toml dependencies, followed through each installed
distribution's Requires-Dist (optional extras skipped), each distribution's size the sum of the
files its RECORD lists, as installed in this environment. "Serving" is the closure of
[project] dependencies: what answers from an exported encoder folder ($RAG_ENCODER_DIR).
"All" adds the export extra (torch, sentence-transformers, the model package, onnx), which
`pip install -e ".[test]"` brings. A distribution both need counts once, in serving.
"""

ROOT = Path(__file__).resolve().parent.parent
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requires(name: str) -> list[str]:
    try:
        requirements = metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        return []
    found = []
    for requirement in requirements:
        if ";" in requirement and "extra" in requirement.split(";", 1)[1]:
            continue  # an optional extra
        match = _NAME.match(requirement)
        if match:
            found.append(_canonical(match[1]))
    return found


def closure(roots: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        todo.extend(_requires(name))
    return seen


def size_mb(name: str) -> float:
    distribution = metadata.distribution(name)
    total = 0
    for file in distribution.files or []:
        path = Path(distribution.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total / 1e6


def _roots() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [_NAME.match(line) for line in project["dependencies"]]
    export = [_NAME.match(line) for line in project["optional-dependencies"]["export"]]
    return {_canonical(m[1]) for m in names if m}, {_canonical(m[1]) for m in export if m}


def run() -> dict[str, Any]:
    core, export = _roots()
    everything = closure(core | export)
    serving = closure(core)
    export_only = everything - serving
    sizes = {name: round(size_mb(name), 1) for name in everything}
    return {
        "all_mb": round(sum(sizes[n] for n in everything)),
        "serving_mb": round(sum(sizes[n] for n in serving)),
        "export_only_mb": round(sum(sizes[n] for n in export_only)),
        "export_only": dict(sorted(((n, sizes[n]) for n in export_only), key=lambda item: -item[1])),
        "largest_serving": dict(sorted(((n, sizes[n]) for n in serving), key=lambda item: -item[1])[:8]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog=METHOD, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = run()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"all required dependencies: {result['all_mb']} MB")
    print(f"serving only ([project] dependencies): {result['serving_mb']} MB")
    print(f"export only: {result['export_only_mb']} MB")
    for name, size in result["export_only"].items():
        print(f"  {name:<28}{size:>8.1f} MB")
    print("largest that serving needs:")
    for name, size in result["largest_serving"].items():
        print(f"  {name:<28}{size:>8.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
