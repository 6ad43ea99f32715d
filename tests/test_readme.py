"""The examples of the README and of docs/*.md run as written, and every link of the docs resolves.

The rules a page follows (so that a writer knows which blocks are run):
- A ```python block is run with exec, in a namespace of its own (a reader copies one block at a
  time). A ```sh block holds `rag` commands, each line run through `rag.cli.main.main` and expected to
  exit with status 0. ```bash and ```text blocks are shown, not run: set-up, test and benchmark
  commands, curl calls (tests/test_http_api.py runs docs/http-api.md's against a live app) and
  expected output.
- The blocks of one page run in order in one fresh folder holding a copy of corpus/ (fast: one
  article), so a later block may use what an earlier one wrote (an index, a file of questions).
- A block that needs something the test does not start is not run: one naming `gradio_client`
  needs the app running (tests/test_ui.py makes the same calls against it), one naming `--ray`
  or `ray=` needs a Ray cluster (tests/test_cluster.py builds and serves on a local one).
- Every block that runs has an entry in PRINTED: lines its output must hold.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = ["README.md", "CHANGELOG.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
RUN = ("python", "sh")
# What a block must name to be left out, and why (see the module docstring).
NEEDS = {
    "gradio_client": "the app running",
    "--ray": "a Ray cluster",
    "ray=": "a Ray cluster",
}

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Block:
    page: str
    line: int  # where the block opens, 1-based
    language: str
    code: str

    @property
    def needs(self) -> str | None:
        return next((why for marker, why in NEEDS.items() if marker in self.code), None)

    def __str__(self) -> str:
        return f"{self.page}:{self.line} ({self.language})"


def _text(page: str) -> str:
    return (ROOT / page).read_text(encoding="utf-8")


def blocks(page: str) -> list[Block]:
    text = _text(page)
    return [Block(page, text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def runnable(page: str) -> list[Block]:
    return [b for b in blocks(page) if b.language in RUN and b.needs is None]


# What each block that runs must print, by page and by a line of the block: what the docs promise.
PRINTED: dict[str, dict[str, list[str]]] = {
    "README.md": {
        'rag ask "Who won the 2022 World Cup?"': [
            "In response, China is launching a new state-backed investment fund",
            "The sources do not answer this question.",
            "altered, says something else",
            "number: claim “$90 billion” / source “$40 billion” (replaced)",
        ],
        'follow_up = index.ask("Who is spearheading it?", history=[answer])': [
            "(seed-article.md, characters 1082-1233)",
            "Who is spearheading the new chip fund?\n",
            "altered - number: the claim says $90 billion, the source says $40 billion",
        ],
    },
    "docs/cli.md": {
        'rag ask "Which companies did Li Qiang visit?" --context -k 1': [
            "In response, China is launching a new state-backed investment fund",
            "covers: ",
            "The sources do not answer this question.",
            "Reason: no document mentions “World Cup”",
            "seed-article.md",
        ],
        "rag lookup \"Li's visits to Huawei and BYD do not send": [
            "altered, says something else",
            "why: negation: the claim adds “not”, which the source does not say",
            "- negation: claim “not” / source (nothing) (added)",
            "2. “The fund aims to raise more than forty billion dollars.”\n   paraphrase",
        ],
    },
    "docs/python-api.md": {
        'answer = index.ask("Which companies did Li Qiang visit?", k=3)': [
            "False best sentence scored",  # answered, not abstained
            "leading tech companies such as Huawei and BYD",
            "It plans to raise $90 billion. altered",
            "number $90 billion $40 billion",  # the differing words of the altered sentence
            "False ['seed-article.md']",  # the filtered question is answered from the cgtn.com article
        ],
    },
    "docs/design.md": {
        'follow_up = index.ask("Who is spearheading it?", history=[first])': [
            "Who is spearheading the new chip fund?\n",
            "spearheaded by the China Integrated Circuit Industry Investment Fund",
            "['Which companies did Premier Li Qiang visit?', 'What did Premier Li Qiang say about innovation?']",
            "overview: ",
        ],
    },
    "docs/evaluation.md": {
        'with open("questions.jsonl", "w", encoding="utf-8") as f:': ["3 questions written"],
        "rag eval questions.jsonl": [
            "3 questions: 2 answerable, 1 should abstain",
            "Hit@1 1.000",
            "abstention precision 1.000, recall 1.000",
        ],
    },
}


def expected(block: Block) -> list[str]:
    return [line for key, lines in PRINTED.get(block.page, {}).items() if key in block.code for line in lines]


def test_the_readme_is_a_front_door() -> None:
    assert len(README.splitlines()) <= 250
    for command in ('pip install -e ".[test,ray]"', "python ui.py", "python -m pytest -q"):
        assert command in README, command
    for tier in ('-m "not slow and not browser"', '-m "not model"'):
        assert f"python -m pytest -q {tier}" in README, tier
    assert {b.language for b in runnable("README.md")} == {"python", "sh"}


def test_every_block_that_runs_says_what_it_prints() -> None:
    pages = [page for page in PAGES if runnable(page)]
    assert {"README.md", "docs/cli.md", "docs/python-api.md", "docs/evaluation.md"} <= set(pages)
    for page in pages:
        for block in runnable(page):
            assert expected(block), f"{block} runs but has no expected output in PRINTED"
    for page, keys in PRINTED.items():
        for key in keys:
            assert any(key in b.code for b in runnable(page)), f"PRINTED[{page!r}] names no block: {key!r}"


def test_the_blocks_left_out_are_only_those_that_need_an_app_or_a_cluster() -> None:
    left_out = [b for page in PAGES for b in blocks(page) if b.language in RUN and b.needs]
    assert left_out, "the gradio_client and Ray examples are expected to be left out"
    for block in left_out:
        if block.needs == "a Ray cluster":
            assert re.search(r"--ray\b|\bray=", block.code), block
        else:
            assert "gradio_client" in block.code, block


@pytest.fixture()
def in_a_fresh_folder(tmp_path: Path, monkeypatch) -> Path:
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAG_INDEX", raising=False)
    return tmp_path


def _run(block: Block, capsys) -> str:
    if block.language == "python":
        exec(compile(block.code, str(block), "exec"), {"__name__": "__docs__"})
    else:
        for line in block.code.splitlines():
            argv = shlex.split(line, comments=True)
            if not argv:
                continue
            assert argv[0] == "rag", f"{block}: a ```sh block holds rag commands only: {line}"
            status = main(argv[1:])
            assert status == 0, f"{block}: {line!r} exited {status}\n{capsys.readouterr().err}"
    return capsys.readouterr().out


@pytest.mark.usefixtures("packaged_model")  # the examples build and ask with the packaged model (the `model` tier)
@pytest.mark.parametrize("page", [page for page in PAGES if runnable(page)])
def test_page_examples_run(page: str, in_a_fresh_folder: Path, capsys) -> None:
    for block in runnable(page):
        out = _run(block, capsys)
        for line in expected(block):
            assert line in out, f"{block} should print {line!r}; it printed:\n{out}"


# Links: a relative target must be a file of the repository, and an anchor a heading of its page.
LINK = re.compile(r"\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"|href=\"([^\"]+)\"")


def anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces as hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    ids = set()
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", text, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        ids.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return ids


def links(page: str) -> list[str]:
    text = FENCE.sub("", _text(page))
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code is not a link
    return [next(g for g in m.groups() if g) for m in LINK.finditer(text)]


def broken_links(page: str) -> list[str]:
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):  # https:, mailto: ...: not checked here (offline)
            continue
        path, _, anchor = target.partition("#")
        file = (ROOT / page).parent / path if path else ROOT / page
        if not file.resolve().is_relative_to(ROOT) or not file.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no heading #{anchor} in {path or page})")
    return broken


@pytest.mark.parametrize("page", PAGES)
def test_links_resolve(page: str) -> None:
    assert broken_links(page) == [], f"{page} links to what does not exist"


def test_a_broken_link_is_caught(tmp_path: Path, monkeypatch) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A page\n\n## Its `part`: two\n\n[ok](a.md#its-part-two) [self](#a-page)\n")
    (tmp_path / "README.md").write_text(
        "[ok](docs/a.md) [gone](docs/b.md) [no anchor](docs/a.md#nothing) [web](https://example.org/x)\n"
        "```sh\n[in code](docs/c.md)\n```\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert broken_links("docs/a.md") == []
    assert broken_links("README.md") == [
        "docs/b.md (no such file)",
        "docs/a.md#nothing (no heading #nothing in docs/a.md)",
    ]
