"""More pages for benchmarks/readers.py, each shaped like a kind of page met on the web.

Written here (nothing is copied from a site): a news page built of classed <div>s with no HTML5
elements, a live news page with a newsletter box and "Read more" teasers inside the article, a
blog post with a long comment thread, a documentation page with a table of contents and
"Edit on GitHub", an old page laid out in <table>s, a page whose main text is a data table and
lists, a wiki-style article with an infobox and references, a forum thread, and Markdown notes
with a setext heading, fenced and indented code and a table without outer pipes. Each lists its
main text as sentences and its furniture as phrases (in Markdown, markup), as in readers.py.
"""

from __future__ import annotations


def _p(sentences: list[str]) -> str:
    return "".join(f"<p>{s}</p>\n" for s in sentences)


def _links(words: list[str]) -> str:
    return "".join(f'<li><a href="/{w.lower()}">{w}</a></li>' for w in words)


DIVS_MAIN = [
    "Heavy rain closed the main road between Kathmandu and Pokhara for the third day on Sunday.",
    "Army engineers cleared two landslides overnight, but a third buried a bridge near Mugling.",
    "Bus operators said about 400 vehicles were stranded on both sides of the blocked section.",
    "The weather office warned that more rain was expected in the western hills until Wednesday.",
    "Farmers in the valley said the rain had come too late to save much of the maize crop.",
]
DIVS_FURNITURE = [
    "Top stories",
    "Flights resume at Tribhuvan airport after fog",
    "Parliament passes the new budget bill",
    "Most read",
    "Share this with Facebook Share this with X Copy link",
    "Download the app for the latest news on the go",
    "Terms of Use About us Privacy Policy Cookies Accessibility Help Contact us",
]
DIVS = f"""<!DOCTYPE html><html lang="en"><head><title>Rain closes Kathmandu-Pokhara road - Daily Post</title>
<meta name="description" content="Landslides block the highway"></head><body>
<div class="gs-c-nav"><ul class="gs-c-nav__list">{_links(["Home", "News", "Sport", "Weather", "Travel"])}</ul></div>
<div class="gel-wrap"><div class="gel-layout">
<div class="gel-layout__item gel-2/3@l"><div class="story-body">
<h1 class="story-body__h1">Rain closes Kathmandu-Pokhara road for third day</h1>
<div class="date" data-seconds="1717920000">9 June 2024</div>
<div class="story-body__inner" property="articleBody">{_p(DIVS_MAIN[:3])}
<div class="share-tools"><p>{DIVS_FURNITURE[4]}</p></div>{_p(DIVS_MAIN[3:])}</div></div></div>
<div class="gel-layout__item gel-1/3@l"><div class="top-stories"><h2>{DIVS_FURNITURE[0]}</h2>
<ul><li><a href="/a">{DIVS_FURNITURE[1]}</a></li><li><a href="/b">{DIVS_FURNITURE[2]}</a></li></ul></div>
<div class="most-popular"><h2>{DIVS_FURNITURE[3]}</h2><ol>{_links(["Cricket", "Markets"])}</ol></div></div>
</div></div>
<div class="app-promo"><p>{DIVS_FURNITURE[5]}</p></div>
<div class="orb-footer"><p>{DIVS_FURNITURE[6]}</p></div></body></html>"""

LIVE_MAIN = [
    "The central bank raised its main interest rate by a quarter point to 5.5% on Thursday.",
    "It was the eleventh increase in a row, and the governor said it might not be the last.",
    "Inflation fell to 6.8% in July from a peak of 11.1% last October, official figures show.",
    "Mortgage lenders are expected to pass the increase on to borrowers within days.",
    "Economists had been split on whether the bank would pause its run of increases this month.",
]
LIVE_FURNITURE = [
    "Sign up for our morning briefing: the news you need, in your inbox by 7am",
    "Read more: What a rate rise means for your savings",
    "Read more: Five charts that explain inflation",
    "Advertisement",
    "Accept cookies Reject cookies Manage preferences",
    "Follow us on Instagram",
]
LIVE = f"""<html><head><title>Interest rates rise to 5.5%</title>
<meta property="og:site_name" content="The Morning Paper">
<meta property="article:published_time" content="2023-08-03T12:00:00Z"></head><body>
<div class="cookie-consent"><p>{LIVE_FURNITURE[4]}</p></div>
<nav class="primary">{_links(["UK", "World", "Business", "Money", "Opinion"])}</nav>
<main><article><h1>Interest rates rise to 5.5%</h1><p class="standfirst">The bank says more may follow.</p>
{_p(LIVE_MAIN[:2])}<div class="inline-newsletter"><p>{LIVE_FURNITURE[0]}</p></div>
{_p(LIVE_MAIN[2:3])}<p><a href="/savings"><strong>{LIVE_FURNITURE[1]}</strong></a></p>
<div class="ad-slot"><span>{LIVE_FURNITURE[3]}</span></div>
{_p(LIVE_MAIN[3:])}<p><a href="/charts"><strong>{LIVE_FURNITURE[2]}</strong></a></p></article></main>
<footer><p>{LIVE_FURNITURE[5]}</p></footer></body></html>"""

COMMENTS_MAIN = [
    "Sourdough needs three things: flour, water and a starter that is active and bubbly.",
    "Feed the starter the night before, so that it doubles in the morning before you mix.",
    "Mix the dough, rest it for an hour, then fold it four times at half-hour intervals.",
    "Bake it in a covered pot at 250 degrees for twenty minutes, then uncovered for twenty more.",
]
COMMENTS_FURNITURE = [
    "Maria on 12 March 2024 at 9:14 am",
    "I tried this at the weekend and the crust came out perfect, thank you so much!",
    "Tom on 13 March 2024 at 6:02 pm",
    "Can I use whole wheat flour instead of white flour for this recipe?",
    "Leave a Reply Cancel reply",
    "Your email address will not be published. Required fields are marked",
    "Previous post: Ten minute flatbreads",
]
COMMENTS = f"""<html><head><title>Simple sourdough | The Bread Diary</title></head><body>
<div id="page"><div id="header"><h1 class="site-title">The Bread Diary</h1></div>
<div id="primary"><div class="post hentry"><h2 class="entry-title">Simple sourdough</h2>
<div class="entry-meta">Posted on 10 March 2024 by Ella</div>
<div class="entry-content">{_p(COMMENTS_MAIN)}</div>
<div class="post-navigation"><a href="/flatbreads">{COMMENTS_FURNITURE[6]}</a></div></div>
<div id="comments" class="comments-area"><h3>2 thoughts on "Simple sourdough"</h3><ol class="comment-list">
<li class="comment"><div class="comment-meta">{COMMENTS_FURNITURE[0]}</div><p>{COMMENTS_FURNITURE[1]}</p></li>
<li class="comment"><div class="comment-meta">{COMMENTS_FURNITURE[2]}</div><p>{COMMENTS_FURNITURE[3]}</p></li></ol>
<div id="respond"><h3>{COMMENTS_FURNITURE[4]}</h3><form><p>{COMMENTS_FURNITURE[5]}</p>
<textarea name="comment"></textarea></form></div></div></div></div></body></html>"""

DOCS_MAIN = [
    "The reader opens the file, detects its encoding and returns its text with its title.",
    "Call read_document with the path of the file and the id you want the document to have.",
    "Files larger than the limit are read in a separate process, under a time limit.",
    "A file that cannot be read raises an error whose message says why it was skipped.",
]
DOCS_FURNITURE = [
    "Table of contents",
    "Installation Quick start Reading files Configuration API reference",
    "Edit on GitHub",
    "Previous: Quick start",
    "Next: Configuration",
    "Built with Sphinx using a theme provided by Read the Docs.",
]
DOCS = f"""<html><head><title>Reading files - rag 1.2 documentation</title></head><body>
<div class="wy-grid-for-nav"><div class="wy-nav-side"><div class="wy-side-scroll">
<p class="caption">{DOCS_FURNITURE[0]}</p><div class="toctree-wrapper"><p>{DOCS_FURNITURE[1]}</p></div></div></div>
<div class="wy-nav-content"><div class="rst-content"><div role="navigation" aria-label="breadcrumbs">
<a class="fa fa-github" href="https://github.com/x/y">{DOCS_FURNITURE[2]}</a></div>
<div class="document" itemprop="articleBody"><div class="section" id="reading-files"><h1>Reading files</h1>
{_p(DOCS_MAIN[:2])}<div class="highlight"><pre>document = read_document(Path("a.txt"), "a.txt")</pre></div>
{_p(DOCS_MAIN[2:])}</div></div>
<div class="rst-footer-buttons">
<a class="btn" href="/quick">{DOCS_FURNITURE[3]}</a> <a class="btn" href="/conf">{DOCS_FURNITURE[4]}</a></div>
<div class="copyright"><p>{DOCS_FURNITURE[5]}</p></div></div></div></div></body></html>"""

TABLES_MAIN = [
    "The city council published its spending figures for the year to March 2024.",
    "Schools; 412.5; 398.1",
    "Social care; 388.0; 351.7",
    "Roads and transport; 96.4; 102.9",
    "Spending on social care rose by a tenth, the fastest of any service.",
    "Libraries kept their opening hours",
    "Bus passes for pupils were extended to the age of 18",
]
TABLES_FURNITURE = [
    "Council tax Bins and recycling Parking Planning",
    "Was this page useful? Yes No",
    "Report a problem",
]
TABLES = f"""<html><head><title>Council spending 2023/24</title></head><body>
<div class="header"><ul class="nav">{_links(["Council tax", "Bins and recycling", "Parking", "Planning"])}</ul></div>
<div class="content"><h1>Council spending 2023/24</h1><p>{TABLES_MAIN[0]}</p>
<table><thead><tr><th>Service</th><th>2023/24 (m)</th><th>2022/23 (m)</th></tr></thead><tbody>
<tr><td>Schools</td><td>412.5</td><td>398.1</td></tr><tr><td>Social care</td><td>388.0</td><td>351.7</td></tr>
<tr><td>Roads and transport</td><td>96.4</td><td>102.9</td></tr></tbody></table>
<p>{TABLES_MAIN[4]}</p><h2>What changed</h2><ul><li>{TABLES_MAIN[5]}</li><li>{TABLES_MAIN[6]}</li></ul></div>
<div class="feedback"><p>{TABLES_FURNITURE[1]}</p><p><a href="/report">{TABLES_FURNITURE[2]}</a></p></div>
</body></html>"""

LAYOUT_MAIN = [
    "The society was founded in 1952 by a group of amateur astronomers in the town.",
    "It meets on the first Friday of every month in the village hall at half past seven.",
    "New members are welcome, and no telescope or experience is needed to join.",
    "The observatory on the hill is open to the public on clear Saturday evenings.",
]
LAYOUT_FURNITURE = [
    "Home",
    "Meetings",
    "Observatory",
    "Links",
    "Contact",
    "Last updated 4 May 2009",
    "Best viewed in 800x600",
]
LAYOUT = f"""<html><head><title>Hillside Astronomical Society</title></head><body bgcolor="#000033">
<table width="800" border="0"><tr><td colspan="2"><font size="6">Hillside Astronomical Society</font></td></tr>
<tr><td width="150" valign="top"><a href="index.html">{LAYOUT_FURNITURE[0]}</a><br>
<a href="meet.html">{LAYOUT_FURNITURE[1]}</a><br>
<a href="obs.html">{LAYOUT_FURNITURE[2]}</a><br><a href="links.html">{LAYOUT_FURNITURE[3]}</a><br>
<a href="mailto:a@b.c">{LAYOUT_FURNITURE[4]}</a></td>
<td valign="top"><font face="Arial">{LAYOUT_MAIN[0]} {LAYOUT_MAIN[1]}<br><br>{LAYOUT_MAIN[2]}<br>
<br>{LAYOUT_MAIN[3]}</font></td></tr>
<tr><td colspan="2"><font size="1">{LAYOUT_FURNITURE[5]} | {LAYOUT_FURNITURE[6]}</font></td></tr></table>
</body></html>"""

WIKI_MAIN = [
    "The Mekong is a river in Southeast Asia that flows for about 4,900 kilometres.",
    "It rises on the Tibetan Plateau and runs through six countries to the South China Sea.",
    "About 60 million people depend on the river and its basin for food and water.",
    "Dams built upstream since the 1990s have changed the timing of the annual flood.",
]
WIKI_FURNITURE = [
    "Jump to navigation Jump to search",
    "From Wikipedia, the free encyclopedia",
    "Main page Contents Current events Random article",
    "This page was last edited on 2 June 2024, at 10:15.",
    "Privacy policy About Wikipedia Disclaimers",
]
WIKI = f"""<html><head><title>Mekong - Wikipedia</title></head><body>
<div id="mw-page-base"></div><a class="mw-jump-link" href="#content">{WIKI_FURNITURE[0]}</a>
<div id="content" class="mw-body" role="main"><h1 id="firstHeading">Mekong</h1>
<div id="siteSub">{WIKI_FURNITURE[1]}</div><div id="mw-content-text" class="mw-body-content">
<table class="infobox"><tr><th>Length</th><td>4,909 km</td></tr><tr><th>Countries</th><td>6</td></tr></table>
{_p(WIKI_MAIN[:2])}<h2><span class="mw-headline">Basin</span></h2>{_p(WIKI_MAIN[2:])}
<h2>References</h2><ol class="references"><li>Mekong River Commission, 2019.</li></ol></div></div>
<div id="mw-panel"><div class="portal"><p>{WIKI_FURNITURE[2]}</p></div></div>
<div id="footer"><ul><li id="footer-info-lastmod">{WIKI_FURNITURE[3]}</li></ul><p>{WIKI_FURNITURE[4]}</p>
</div></body></html>"""

FORUM_MAIN = [
    "My laptop fan runs at full speed even when the machine is idle.",
    "I have cleaned the vents and updated the BIOS, but nothing has changed.",
    "Check the power plan first: the high performance plan keeps the processor busy.",
    "Switching to the balanced plan fixed it for me on the same model.",
]
FORUM_FURNITURE = [
    "Log in Register",
    "Forum index / Hardware / Laptops",
    "Joined: Jan 2019 Posts: 1,204",
    "Joined: Mar 2021 Posts: 87",
    "Similar threads",
    "Laptop fan noisy after update",
]
FORUM = f"""<html><head><title>Laptop fan always at full speed - Tech Forum</title></head><body>
<div class="topbar"><a href="/login">{FORUM_FURNITURE[0]}</a></div><div class="crumbs">
<p>{FORUM_FURNITURE[1]}</p></div>
<div class="thread"><h1>Laptop fan always at full speed</h1>
<div class="post"><div class="postprofile">jdoe<br><span>{FORUM_FURNITURE[3]}</span></div>
<div class="postbody">{_p(FORUM_MAIN[:2])}</div></div>
<div class="post"><div class="postprofile">helper42<br><span>{FORUM_FURNITURE[2]}</span></div>
<div class="postbody">{_p(FORUM_MAIN[2:])}</div></div></div>
<div class="similar"><h3>{FORUM_FURNITURE[4]}</h3><ul><li><a href="/t/1">{FORUM_FURNITURE[5]}</a></li></ul>
</div></body></html>"""

NOTES_MAIN = [
    "Setting up",
    "Install the package, then build the index once.",
    "def read(path, **options):",
    "return parse(path, sep=' | ')",
    "volume = width*height*depth",
    "html = '<b>bold</b> &amp; more'",
    "rag index corpus/ --threshold 0.3",
    "Python 3.11; required",
    "A GPU; not needed",
    "The index is rebuilt only for files that changed.",
]
NOTES_FURNITURE = ["=====", "```", "| Python", "---|"]
NOTES = f"""{NOTES_MAIN[0]}
==========

{NOTES_MAIN[1]}

```python
{NOTES_MAIN[2]}
    {NOTES_MAIN[3]}
{NOTES_MAIN[4]}
{NOTES_MAIN[5]}
```

    {NOTES_MAIN[6]}

Requirement | Status
------------|-------
Python 3.11 | required
A GPU | not needed

{NOTES_MAIN[9]}
"""

MORE_PAGES: list[tuple[str, str, list[str], list[str]]] = [
    ("news-divs.html", DIVS, DIVS_MAIN, DIVS_FURNITURE),
    ("news-live.html", LIVE, LIVE_MAIN, LIVE_FURNITURE),
    ("blog-comments.html", COMMENTS, COMMENTS_MAIN, COMMENTS_FURNITURE),
    ("docs.html", DOCS, DOCS_MAIN, DOCS_FURNITURE),
    ("tables.html", TABLES, TABLES_MAIN, TABLES_FURNITURE),
    ("table-layout.html", LAYOUT, LAYOUT_MAIN, LAYOUT_FURNITURE),
    ("wiki.html", WIKI, WIKI_MAIN, WIKI_FURNITURE),
    ("forum.html", FORUM, FORUM_MAIN, FORUM_FURNITURE),
    ("notes.md", NOTES, NOTES_MAIN, NOTES_FURNITURE),
]
