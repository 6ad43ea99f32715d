"""How much of a page's main text the HTML and Markdown readers keep, and how much furniture they drop (a benchmark).

python benchmarks/readers.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.ingest import read_document  # noqa: E402
from rag.sentences import split_sentences  # noqa: E402

METHOD = """\
Pages written here to look like real ones (a news article in HTML5 elements, a WordPress-style
blog post in classed <div>s, a page with <main> and ARIA roles, a plain page with no markers
at all, a Markdown README with a table, footnotes and <details>). Each page lists its main
text as sentences and its furniture (navigation, "Related" asides, share buttons, cookie
banners, comments, footers) as phrases. Main words kept: the words of the main sentences found
whole in the document's text (spaces normalised). Furniture words left: the words of the
furniture phrases found in it. Offsets: every sentence rag splits satisfies
text[start:end] == sentence. Run it on two checkouts to compare readers.
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


def _normal(text: str) -> str:
    return " ".join(text.split())


def measure(folder: Path) -> list[dict[str, Any]]:
    rows = []
    for name, content, main, furniture in PAGES:
        path = folder / name
        path.write_text(content, encoding="utf-8")
        document = read_document(path, name)
        text = _normal(document.text)
        sentences = split_sentences(document.text, name)
        main_words = sum(len(s.split()) for s in main)
        kept = sum(len(s.split()) for s in main if _normal(s) in text)
        furniture_words = sum(len(f.split()) for f in furniture)
        left = sum(len(f.split()) for f in furniture if _normal(f) in text)
        rows.append(
            {
                "page": name,
                "main_words": main_words,
                "main_kept": kept,
                "furniture_words": furniture_words,
                "furniture_left": left,
                "offsets_exact": all(document.text[s.start : s.end] == s.text for s in sentences),
                "title": document.title,
            }
        )
    return rows


def print_report(rows: list[dict[str, Any]]) -> None:
    print(f"{'page':<22}{'main words kept':>18}{'furniture left':>17}  offsets  title")
    for row in rows:
        kept = f"{row['main_kept']}/{row['main_words']}"
        left = f"{row['furniture_left']}/{row['furniture_words']}" if row["furniture_words"] else "-"
        exact = "exact" if row["offsets_exact"] else "WRONG"
        print(f"{row['page']:<22}{kept:>18}{left:>17}  {exact:<7}  {row['title']}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog=METHOD, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rag-readers-") as folder:
        rows = measure(Path(folder))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_report(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
