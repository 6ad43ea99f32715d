"""How much of a page's main text the HTML and Markdown readers keep, and how much furniture they drop (a benchmark).

python benchmarks/readers.py [--baseline CHECKOUT] [--json]

Side by side: this checkout's readers, trafilatura's own text (what the HTML reader would store if
it took trafilatura's output as the document), and with --baseline the readers of another checkout
(e.g. a `git archive` of main), run in a subprocess with that checkout first on sys.path.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("RAG_READERS_CHECKOUT", str(ROOT)))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from reader_pages import MORE_PAGES  # noqa: E402

from rag.ingest import read_document  # noqa: E402

# A baseline checkout may predate the format registry and the rag/text package (issue 23).
try:
    from rag.ingest.formats import reader_for
except ImportError:
    from rag.ingest import documents as old_documents

    reader_for = getattr(old_documents, "READERS", None) or old_documents._READERS  # type: ignore[attr-defined]
    reader_for = reader_for.__getitem__
try:
    from rag.text.sentences import split_sentences
except ImportError:
    from rag.sentences import split_sentences  # type: ignore[no-redef]

METHOD = """\
Thirteen pages written to look like real ones (here and in reader_pages.py: news in HTML5
elements, news in classed <div>s, a live news page with a newsletter box and "Read more" teasers,
a WordPress-style blog, a blog with comments, a page with <main> and ARIA roles, a docs page, a
page whose main text is a table and lists, an old page laid out in <table>s, a wiki article, a
forum thread, a plain page with no markers, a Markdown README with a table, footnotes and
<details>). Each lists its main text as sentences and its furniture (navigation, "Related",
share buttons, cookie banners, comments, footers) as phrases. Main words kept: the words of the
main sentences found as a run of words in the document's text (words: letters and digits, case
folded, so "| 412.5 |" and "; 412.5;" match). Furniture words left: likewise for the furniture
phrases (in Markdown, furniture is markup and code must stay as written, so both are looked for
as written, spaces normalised). Offsets: every
sentence rag splits satisfies text[start:end] == sentence. Time: the reader alone on the page,
in process, median of 5 (a parser process adds a round trip).
"""

ARTICLE = [
    "China is launching a new state-backed investment fund to raise over $40 billion for chips.",
    "The fund is the third of its kind since 2014, according to people familiar with the matter.",
    "Officials said the money would go to equipment makers and to the makers of chip materials.",
    "Analysts expect the fund to be registered with regulators before the end of the month.",
    "Shares of chip equipment makers rose by as much as 5% in Shanghai on Tuesday.",
]
NEWS_FURNITURE = [
    "Home | World | Business | Tech | About",
    "You are here: Home / Business / Tech",
    "Related: Chip stocks rally as Beijing weighs support",
    "Related: Five things to know about export controls",
    "Share on Twitter Share on Facebook Email this story",
    "We use cookies to improve your experience. Accept all",
    "Copyright 2024 Example News. All rights reserved. Privacy | Terms | Contact",
]


def _paragraphs(sentences: list[str]) -> str:
    return "".join(f"<p>{s}</p>\n" for s in sentences)


NEWS = f"""<!doctype html><html><head><title>China launches chip fund | Example News</title>
<meta property="og:site_name" content="Example News"></head><body>
<div id="cookie-banner"><p>{NEWS_FURNITURE[5]}</p></div>
<header class="site-header"><a href="/">Example News</a><nav><p>{NEWS_FURNITURE[0]}</p></nav></header>
<div class="breadcrumbs"><p>{NEWS_FURNITURE[1]}</p></div>
<article><header><h1>China launches a $40 billion chip fund</h1><p class="byline">By Jane Doe, 5 March 2024</p></header>
{_paragraphs(ARTICLE[:3])}<figure><img src="fab.jpg"><figcaption>A chip plant in Wuxi.</figcaption></figure>
<div class="share-buttons"><p>{NEWS_FURNITURE[4]}</p></div>
{_paragraphs(ARTICLE[3:])}</article>
<aside class="related"><h2>More on this</h2><ul><li>{NEWS_FURNITURE[2]}</li><li>{NEWS_FURNITURE[3]}</li></ul></aside>
<footer><p>{NEWS_FURNITURE[6]}</p></footer></body></html>"""

POST = [
    "I spent the spring in the tea gardens of Yunnan, where the harvest begins in March.",
    "Pickers start before dawn and carry the leaves down the hill in baskets on their backs.",
    "The first flush is the most prized, and a kilogram can sell for more than a month's wage.",
    "By May the gardens are quiet again, and the villages turn to drying and sorting the leaves.",
]
BLOG_FURNITURE = [
    "Skip to content",
    "Home Travel Food About me Contact",
    "Recent posts: A week in Chengdu; Rice terraces of Yuanyang",
    "Archives: April 2024 March 2024 February 2024",
    "Subscribe to the newsletter and never miss a post",
    "Anna says: Lovely photos, thank you for sharing!",
    "Proudly powered by WordPress. Theme by Example.",
]
BLOG = f"""<html><head><title>Tea harvest in Yunnan - A travel blog</title></head><body>
<a class="skip-link" href="#content">{BLOG_FURNITURE[0]}</a>
<div id="masthead"><div class="site-title">A travel blog</div><ul class="menu"><li>{BLOG_FURNITURE[1]}</li></ul></div>
<div id="content"><div class="entry"><h1 class="entry-title">Tea harvest in Yunnan</h1>
<div class="entry-content">{_paragraphs(POST)}</div></div>
<div id="comments"><h3>2 comments</h3><p>{BLOG_FURNITURE[5]}</p></div></div>
<div class="sidebar"><p>{BLOG_FURNITURE[2]}</p><p>{BLOG_FURNITURE[3]}</p>
<div class="newsletter"><p>{BLOG_FURNITURE[4]}</p></div></div>
<div class="site-footer"><p>{BLOG_FURNITURE[6]}</p></div></body></html>"""

REPORT = [
    "The port of Rotterdam handled 439 million tonnes of cargo in 2023, down 6% on the year before.",
    "Container volumes fell less than bulk cargo, which suffered from lower coal imports.",
    "The port authority expects volumes to recover slowly as industry in Germany picks up.",
]
REPORT_FURNITURE = ["Search this site", "Ports Shipping Energy Markets", "Most read: Strike ends at Antwerp"]
MAIN = f"""<html><head><title>Rotterdam cargo falls</title></head><body>
<div role="search"><p>{REPORT_FURNITURE[0]}</p></div><div role="navigation"><p>{REPORT_FURNITURE[1]}</p></div>
<main><h1>Rotterdam cargo falls 6%</h1>{_paragraphs(REPORT)}</main>
<div role="complementary"><p>{REPORT_FURNITURE[2]}</p></div></body></html>"""

PLAIN_TEXT = [
    "The committee met on Monday to discuss the budget for the coming year.",
    "Members agreed to raise spending on schools by 3% and to freeze spending on roads.",
    "A final vote is expected at the next meeting in April.",
]
PLAIN = f"<html><body><div><h2>Committee notes</h2>{_paragraphs(PLAIN_TEXT)}</div></body></html>"

README_TEXT = [
    "The tool indexes a folder of documents and answers questions with quoted sentences.",
    "Each answer cites the document and the characters it quotes.",
    "China; 17.9",
    "United States; 27.4",
    "Build the index once, then ask as often as you like.",
    "Answers abstain when no sentence scores above the threshold.",
    "The threshold was fitted on SQuAD questions.",
]
README_FURNITURE = ["| China", "[^1]", "ThresholdBuild"]
README = f"""# The tool

{README_TEXT[0]} {README_TEXT[1]}[^1]

| Country | GDP (trillion $) |
|---------|-----------------:|
| China   | 17.9 |
| United States | 27.4 |

<details><summary>Threshold</summary>{README_TEXT[4]}</details>

{README_TEXT[5]}

[^1]: {README_TEXT[6]}
"""

PAGES: list[tuple[str, str, list[str], list[str]]] = [
    ("news.html", NEWS, ARTICLE, NEWS_FURNITURE),
    ("blog.html", BLOG, POST, BLOG_FURNITURE),
    ("main-and-roles.html", MAIN, REPORT, REPORT_FURNITURE),
    ("plain.html", PLAIN, PLAIN_TEXT, []),
    ("readme.md", README, README_TEXT, README_FURNITURE),
]


_WORD = re.compile(r"\w+(?:[.,'\u2019]\w+)*")
PAGES = PAGES[:4] + MORE_PAGES + PAGES[4:]


def _words(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


def _found(words: list[str], phrase: str) -> bool:
    wanted = _words(phrase)
    return any(words[i : i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


def _score(text: str, main: list[str], furniture: list[str], *, markdown: bool = False) -> dict[str, Any]:
    words = _words(text)
    sentences = split_sentences(text, "page")
    if markdown:  # Markdown's furniture is markup ("| China", "[^1]") and its code must stay as written
        flat = " ".join(text.split())
        kept = sum(len(_words(s)) for s in main if " ".join(s.split()) in flat)
        left = sum(len(f.split()) for f in furniture if " ".join(f.split()) in flat)
    else:
        kept = sum(len(_words(s)) for s in main if _found(words, s))
        left = sum(len(_words(f)) for f in furniture if _found(words, f))
    return {
        "main_kept": kept,
        "furniture_left": left,
        "offsets_exact": all(text[s.start : s.end] == s.text for s in sentences),
    }


def _timed(call: Any) -> tuple[Any, float]:
    times, result = [], None
    for _ in range(5):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return result, statistics.median(times) * 1000


def _trafilatura_text(content: str) -> str:
    import trafilatura

    extracted = trafilatura.extract(content, include_tables=True, include_comments=False, fast=True)
    return "\n\n".join((extracted or "").split("\n"))


def measure(folder: Path, *, with_trafilatura: bool) -> list[dict[str, Any]]:
    rows = []
    for name, content, main, furniture in PAGES:
        path = folder / name
        path.write_text(content, encoding="utf-8")
        document = read_document(path, name)  # as indexing reads it (HTML in a parser process)
        _, milliseconds = _timed(lambda path=path: reader_for(path.suffix)(path.read_bytes(), path))
        row = {
            "page": name,
            "main_words": sum(len(_words(s)) for s in main),
            "furniture_words": sum(len(f.split() if name.endswith(".md") else _words(f)) for f in furniture),
            "title": document.title,
            "reader": {**_score(document.text, main, furniture, markdown=name.endswith(".md")), "ms": milliseconds},
        }
        if with_trafilatura and name.endswith(".html"):
            text, milliseconds = _timed(lambda content=content: _trafilatura_text(content))
            row["trafilatura"] = {**_score(text, main, furniture), "ms": milliseconds}
        rows.append(row)
    return rows


def _baseline(checkout: Path) -> list[dict[str, Any]]:
    environment = {**os.environ, "RAG_READERS_CHECKOUT": str(checkout), "PYTHONPATH": str(checkout)}
    command = [sys.executable, __file__, "--json", "--no-trafilatura"]
    output = subprocess.run(command, env=environment, capture_output=True, text=True, check=True).stdout
    return json.loads(output)


def _cell(result: dict[str, Any] | None, row: dict[str, Any]) -> str:
    if result is None:
        return f"{'-':>30}"
    left = f"{result['furniture_left']}/{row['furniture_words']}" if row["furniture_words"] else "-"
    exact = "exact" if result["offsets_exact"] else "WRONG"
    return f"{result['main_kept']:>3}/{row['main_words']:<3} {left:>6} {exact:>6} {result['ms']:>6.1f}ms"


def print_report(rows: list[dict[str, Any]], baseline: list[dict[str, Any]] | None) -> None:
    before = {row["page"]: row["reader"] for row in baseline or []}
    columns = (["baseline"] if baseline else []) + ["this checkout", "trafilatura's text"]
    print(f"{'page':<20}" + "".join(f"{c:>31}" for c in columns))
    print(f"{'':<20}" + "   main    furniture  offsets  time" * len(columns))
    for row in rows:
        cells = ([_cell(before.get(row["page"]), row)] if baseline else []) + [
            _cell(row["reader"], row),
            _cell(row.get("trafilatura"), row),
        ]
        print(f"{row['page']:<20}" + "".join(f" {c}" for c in cells))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog=METHOD, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--baseline", type=Path, help="a checkout whose readers to measure beside these")
    parser.add_argument("--no-trafilatura", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rag-readers-") as folder:
        rows = measure(Path(folder), with_trafilatura=not args.no_trafilatura)
    baseline = _baseline(args.baseline.resolve()) if args.baseline else None
    if args.json:
        print(json.dumps(rows if baseline is None else {"rows": rows, "baseline": baseline}, indent=2))
    else:
        print_report(rows, baseline)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
