"""The app in a real browser (Playwright driving Debian's Chromium), on a desktop (1366x900) and a
phone (390x844): ask, click a [n] marker to open its source, copy and export, choose documents,
give feedback, look up, and upload documents (a PDF with pages; hostile ones that must execute
nothing and fetch nothing).

Screenshots of each screen go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_ui import CHIP_QUESTION, GOLD, HOSTILE, HOSTILE_MD, HOSTILE_TXT, LEAFLET, OFF_TOPIC, start_app, stop_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium package to run browser tests",
                allow_module_level=True)  # fmt: skip

from playwright.sync_api import Browser, Locator, Page, sync_playwright  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
WAIT_MS = 60_000
HARBOUR_TITLE = "Harbour report <script>alert(1)</script> ![x](http://127.0.0.1:9/beacon) [click](javascript:alert(1))"


SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, packaged_model: str) -> Iterator[tuple[str, Path]]:
    """The app's address and its folder (corpus/ and index/ inside it)."""
    process, url, corpus = start_app(tmp_path_factory.mktemp("ui-browser"))
    yield url, corpus.parent
    stop_app(process)


@pytest.fixture(scope="module")
def app_url(app: tuple[str, Path]) -> str:
    return app[0]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watch:
    """Everything the page tried that it must not: dialogs (alert), requests off the app's origin."""

    def __init__(self, page: Page, origin: str) -> None:
        self.dialogs: list[str] = []
        self.foreign: list[str] = []
        page.on("dialog", self._dialog)
        page.on("request", lambda request: None if request.url.startswith(origin) else self.foreign.append(request.url))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def assert_clean(self) -> None:
        assert self.dialogs == [], f"a script ran: dialogs {self.dialogs}"
        assert self.foreign == [], f"the page fetched off the app: {self.foreign}"


def open_page(browser: Browser, app_url: str, size: str) -> tuple[Page, Watch]:
    phone = size == "phone"
    context = browser.new_context(
        viewport=SIZES[size], is_mobile=phone, has_touch=phone, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    watch = Watch(page, app_url)
    page.goto(app_url)
    page.wait_for_selector("#rag-question textarea", timeout=WAIT_MS)
    page.wait_for_timeout(500)  # the page script installs its handlers on load
    return page, watch


@pytest.fixture(params=list(SIZES))
def sized(request: pytest.FixtureRequest, browser: Browser, app_url: str) -> Iterator[tuple[Page, Watch, str]]:
    """A fresh page (a new conversation) at each size."""
    page, watch = open_page(browser, app_url, request.param)
    yield page, watch, request.param
    page.context.close()


@pytest.fixture()
def page(browser: Browser, app_url: str) -> Iterator[tuple[Page, Watch]]:
    context = browser.new_context(viewport=SIZES["desktop"])
    page = context.new_page()
    watch = Watch(page, app_url)
    page.goto(app_url)
    page.wait_for_selector("#rag-question textarea", timeout=WAIT_MS)
    yield page, watch
    context.close()


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)  # let transitions settle
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def visible(locator: Locator) -> Locator:
    return locator.locator("visible=true").first


def select_document(page: Page, title: str) -> None:
    """Click the document's row and wait until the viewer shows it: the app knows the selection then."""
    visible(page.locator("#rag-documents .cell-wrap").filter(has_text=title)).click()
    visible(page.locator("#rag-document-view").get_by_text(title, exact=False)).wait_for(timeout=WAIT_MS)


def ask(page: Page, question: str) -> None:
    page.fill("#rag-question textarea", question)
    page.click("#rag-ask")


def chat_text(page: Page, text: str) -> Locator:
    return visible(page.locator("#rag-chat").get_by_text(text))


def focus_mark(page: Page) -> Locator:
    return page.locator("#rag-viewer mark#rag-focus")


def in_viewport(page: Page, selector: str) -> bool:
    """Whether the element's top lies inside the window as it is scrolled now."""
    box = page.locator(selector).first.bounding_box()
    return box is not None and 0 <= box["y"] < page.viewport_size["height"]


def last_answer_start_visible(page: Page) -> bool:
    """Whether the newest question and the first line of its answer are both inside the chat's visible part
    and inside the window."""
    return page.evaluate(
        """() => { const asked = [...document.querySelectorAll('#rag-chat [data-testid="user"]')].pop();
        const bots = [...document.querySelectorAll('#rag-chat [data-testid="bot"]')];
        const reply = bots.find(b => asked.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
        const chat = document.querySelector('#rag-chat').getBoundingClientRect();
        const q = asked.getBoundingClientRect(), r = reply.getBoundingClientRect();
        const top = Math.max(chat.top, 0), bottom = Math.min(chat.bottom, window.innerHeight);
        return q.top >= top - 1 && r.top + 20 <= bottom; }"""
    )


def test_first_screen_shows_the_question_box_and_no_empty_controls(sized: tuple[Page, Watch, str]) -> None:
    page, watch, size = sized
    shot(page, f"10-first-{size}.png", full_page=False)
    box = page.locator("#rag-question textarea").bounding_box()
    assert box["y"] + box["height"] <= SIZES[size]["height"], f"the question box is below the fold on {size}"
    assert page.locator("#rag-viewer").count() == 0 or not page.locator("#rag-viewer").is_visible()
    assert not page.locator("#rag-export").is_visible()
    if size == "desktop":  # every example question fully on screen
        for example in page.locator("#rag-examples button").all():
            example_box = example.bounding_box()
            assert example_box["y"] + example_box["height"] <= SIZES[size]["height"]
    assert page.evaluate("() => document.activeElement === document.querySelector('#rag-question textarea')")
    outline = page.evaluate("() => getComputedStyle(document.querySelector('#rag-question textarea')).outlineStyle")
    assert outline == "solid"  # a visible focus ring
    page.get_by_role("tab", name="Ask").focus()
    page.keyboard.press("ArrowRight")  # arrow keys move between tabs
    page.wait_for_function("() => document.activeElement?.innerText?.trim() === 'Lookup'", timeout=WAIT_MS)
    assert page.get_by_role("tab", name="Lookup").get_attribute("aria-selected") == "true"
    page.keyboard.press("ArrowLeft")
    assert page.get_by_role("tab", name="Ask").get_attribute("aria-selected") == "true"
    footer = page.locator("footer").inner_text()
    assert "\u00b7" not in footer and (size == "phone" or "Use via API" in footer)  # no stray separator
    watch.assert_clean()


def test_clicking_a_marker_opens_its_sentence_highlighted(sized: tuple[Page, Watch, str]) -> None:
    page, watch, size = sized
    ask(page, CHIP_QUESTION)
    chat_text(page, "aiming to raise over $40 billion").wait_for(timeout=WAIT_MS)
    reply = page.locator("#rag-chat").inner_text()
    assert "[1]" in reply and GOLD in reply and "cgtn.com" in reply
    assert "China steps up its push for tech self-reliance" in reply
    assert focus_mark(page).inner_text() == GOLD  # the first citation opens with the answer
    assert not visible(page.locator("#rag-chat").get_by_text("score")).is_visible()  # Sources start collapsed

    visible(page.get_by_role("button", name="Which companies did Li Qiang visit?")).click()
    chat_text(page, "Huawei and BYD").wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(500)
    assert last_answer_start_visible(page), "the start of the newest answer is not in view"
    shot(page, f"11-answer-{size}.png", full_page=False)
    names = page.evaluate("() => [...document.querySelectorAll('#rag-chat [data-testid]')].map(e => e.ariaLabel)")
    assert any(n and n.startswith("Answer: [1]") for n in names)
    assert not any(n and re.search(r"&#\d+;|<button", n) for n in names), names  # plain accessible names

    page.locator("#rag-chat button.rag-q2-c1").first.click()
    # Its first quote is one of the two sentences on Li's visits to companies (the answer model scores
    # them within 1% of each other; the answer cites both): either names Li, neither the fund.
    page.wait_for_function(
        "() => { const t = document.querySelector('#rag-viewer mark#rag-focus')?.textContent || '';"
        " return t.includes('Li') && t.includes('compan') && !t.includes('40 billion'); }",
        timeout=WAIT_MS,
    )
    page.wait_for_timeout(400)
    assert mark_in_view(page)
    assert in_viewport(page, "#rag-viewer mark#rag-focus"), f"the source did not come into view on {size}"
    shot(page, f"12-marker-opened-{size}.png", full_page=False)
    back = page.locator("#rag-viewer .rag-back")
    assert back.is_visible() == (size == "phone")  # the viewer is under the chat only on a phone
    if size == "phone":
        back.click()
        page.wait_for_timeout(300)
        assert last_answer_start_visible(page)
    page.locator("#rag-chat button.rag-q1-c1").first.click()  # back to the first answer's citation
    page.wait_for_function(
        "(gold) => document.querySelector('#rag-viewer mark#rag-focus')?.textContent === gold",
        arg=GOLD,
        timeout=WAIT_MS,
    )
    contrast = page.evaluate(
        """() => { const m = document.querySelector('#rag-viewer mark#rag-focus'); const s = getComputedStyle(m);
        return [s.color, s.backgroundColor]; }"""
    )
    assert contrast_ratio(*contrast) >= 4.5

    ask(page, OFF_TOPIC)
    chat_text(page, "The documents do not answer this question.").wait_for(timeout=WAIT_MS)
    assert "Reason:" in page.locator("#rag-chat").inner_text()
    watch.assert_clean()


def _luminance(color: str) -> float:
    channels = [int(v) / 255 for v in re.findall(r"\d+", color)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_dark_mode_toggle_keeps_the_highlight_readable(page: tuple[Page, Watch]) -> None:
    page, watch = page
    page.click("#rag-theme")
    assert page.evaluate("() => document.body.classList.contains('dark')")
    ask(page, CHIP_QUESTION)
    chat_text(page, "aiming to raise over $40 billion").wait_for(timeout=WAIT_MS)
    page.get_by_text("Sources (").first.click()  # Sources start collapsed
    page.locator("#rag-chat button.rag-q1-c1").nth(1).click()  # the [1] in Sources opens the citation too
    for selector in ("#rag-viewer mark#rag-focus", "#rag-chat mark"):
        visible(page.locator(selector)).wait_for(timeout=WAIT_MS)
        page.wait_for_timeout(1000)  # Gradio dims an output while its event runs; let that pass
        colours = page.evaluate(
            "(s) => { const m = [...document.querySelectorAll(s)].find(e => e.offsetParent);"
            " const c = getComputedStyle(m); let o = 1; for (let e = m; e; e = e.parentElement)"
            " o *= Number(getComputedStyle(e).opacity); return [c.color, c.backgroundColor, o]; }",
            selector,
        )
        assert contrast_ratio(*colours[:2]) >= 4.5 and colours[2] == 1, (selector, colours)  # and not dimmed
    shot(page, "13-dark.png", full_page=False)
    page.click("#rag-theme")
    assert not page.evaluate("() => document.body.classList.contains('dark')")
    watch.assert_clean()


def test_copy_buttons_and_conversation_export(sized: tuple[Page, Watch, str]) -> None:
    page, watch, size = sized
    ask(page, CHIP_QUESTION)
    chat_text(page, "aiming to raise over $40 billion").wait_for(timeout=WAIT_MS)

    def copied(selector: str) -> str:
        page.evaluate("() => navigator.clipboard.writeText('')")
        visible(page.locator(selector)).click()
        for _ in range(100):
            text = page.evaluate("() => navigator.clipboard.readText()")
            if text:
                return text
            page.wait_for_timeout(100)
        raise AssertionError(f"nothing was copied by {selector}")

    quote = copied("#rag-chat button.rag-q1-c0-quote")
    assert quote.startswith(f"[1] \u201c{GOLD}\u201d \u2014 China steps up") and "seed-article.md, characters" in quote
    note = copied("#rag-chat button.rag-q1-c0-note")
    assert (
        note.startswith(f"\u201c{GOLD.replace('$', chr(92) + '$')}\u201d[^1]") and "\n\n[^1]: *China steps up" in note
    )
    assert "sha256 " in note
    page.get_by_text("Sources (").first.click()  # open Sources: each citation has its own buttons
    single = copied("#rag-chat button.rag-q1-c1-quote")
    assert single.startswith(f"\u201c{GOLD}\u201d") and not single.startswith("[1]")

    ask(page, OFF_TOPIC)
    chat_text(page, "The documents do not answer this question.").wait_for(timeout=WAIT_MS)
    with page.expect_download() as markdown_download:
        page.locator("#rag-export-md").click()
    markdown = Path(markdown_download.value.path()).read_text(encoding="utf-8")
    assert markdown_download.value.suggested_filename == "rag-conversation.md"
    assert "## 1. How much money" in markdown and "## 2. Who won" in markdown and "[^1]: *China steps up" in markdown
    with page.expect_download() as json_download:
        page.locator("#rag-export-json").click()
    turns = json.loads(Path(json_download.value.path()).read_text(encoding="utf-8"))
    assert [t["question"] for t in turns] == [CHIP_QUESTION, OFF_TOPIC] and turns[1]["abstained"] is True
    cited = turns[0]["citations"][0]
    assert cited["text"] == GOLD and len(cited["content_hash"]) == 64 and cited["end"] - cited["start"] == len(GOLD)
    shot(page, f"14-export-{size}.png", full_page=False)
    watch.assert_clean()


def test_feedback_is_saved_beside_the_index(sized: tuple[Page, Watch, str], app: tuple[str, Path]) -> None:
    page, watch, _ = sized
    feedback = app[1] / "index.feedback.jsonl"
    before = feedback.read_text(encoding="utf-8").splitlines() if feedback.exists() else []
    ask(page, CHIP_QUESTION)
    chat_text(page, "aiming to raise over $40 billion").wait_for(timeout=WAIT_MS)
    visible(page.locator("#rag-chat").get_by_role("button", name="Like", exact=True)).click()
    for _ in range(50):
        if feedback.exists() and len(feedback.read_text(encoding="utf-8").splitlines()) > len(before):
            break
        page.wait_for_timeout(100)
    line = json.loads(feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert line["question"] == CHIP_QUESTION and line["rating"] == "up" and line["answer"] == GOLD
    watch.assert_clean()


def mark_in_view(page: Page) -> bool:
    """Whether the highlighted sentence lies inside the visible part of the document viewer."""
    return page.evaluate(
        """() => { const mark = document.querySelector('#rag-viewer mark#rag-focus');
        const box = mark && mark.closest('.rag-doc'); if (!box) return false;
        const m = mark.getBoundingClientRect(), b = box.getBoundingClientRect();
        return m.top >= b.top - 1 && m.top < b.bottom; }"""
    )


def test_lookup_table_row_detail_and_exports(page: tuple[Page, Watch]) -> None:
    page, watch = page
    page.get_by_role("tab", name="Lookup").click()
    text = f"{GOLD} China wants to be a world leader in technology. Pigeons painted the Eiffel Tower green."
    page.fill("#rag-lookup-text textarea", text)
    page.click("#rag-lookup-run")
    table = page.locator("#rag-lookup-table")
    visible(table.locator(".rag-kind-unsupported")).wait_for(timeout=WAIT_MS)
    for kind in ("exact", "paraphrase", "unsupported"):
        assert visible(table.locator(f".rag-kind-{kind}")).is_visible()
    visible(table.locator(".cell-wrap").filter(has_text="world leader in technology")).click()
    detail = page.locator("#rag-lookup-detail")
    page.wait_for_function(
        "() => (document.querySelector('#rag-lookup-detail mark')?.textContent || '').includes('global leader')",
        timeout=WAIT_MS,
    )
    assert "paraphrase" in detail.inner_text()
    page.get_by_text("Export: Markdown footnotes and JSON").click()
    visible(page.locator("#rag-lookup-md textarea")).wait_for(timeout=WAIT_MS)
    assert "[^3]:" in page.locator("#rag-lookup-md textarea").input_value()  # the whole preview, every line
    shot(page, "04-lookup.png")
    with page.expect_download() as markdown_download:
        page.get_by_role("button", name="Download Markdown").click()
    footnotes = Path(markdown_download.value.path()).read_text(encoding="utf-8")
    assert markdown_download.value.suggested_filename == "rag-lookup.md"
    assert footnotes.startswith(GOLD + "[^1]") and "[^3]: Unsupported" in footnotes
    with page.expect_download() as json_download:
        page.get_by_role("button", name="Download JSON").click()
    kinds = [m["kind"] for m in json.loads(Path(json_download.value.path()).read_text(encoding="utf-8"))]
    assert kinds == ["exact", "paraphrase", "unsupported"]
    watch.assert_clean()


def test_hostile_upload_executes_nothing_and_shows_text_literally(page: tuple[Page, Watch]) -> None:
    page, watch = page
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#rag-upload input[type=file]", [str(HOSTILE_MD), str(HOSTILE_TXT)])  # indexed on drop
    summary = page.locator("#rag-upload-summary")
    visible(summary.get_by_text("hostile-plain.txt")).wait_for(timeout=WAIT_MS)
    assert "hostile.md added" in summary.inner_text() and "hostile-plain.txt added" in summary.inner_text()
    visible(page.locator("#rag-documents .cell-wrap").filter(has_text="Harbour report")).wait_for(timeout=WAIT_MS)
    table_text = page.locator("#rag-documents").inner_text()
    assert HARBOUR_TITLE in table_text and "Dockside notes <img src=x onerror=alert(1)>" in table_text
    shot(page, "05-documents-upload.png")

    visible(page.locator("#rag-documents .cell-wrap").filter(has_text="Harbour report")).click()
    viewer = page.locator("#rag-document-view")
    visible(viewer.get_by_text("Valparaiso", exact=False)).wait_for(timeout=WAIT_MS)
    shown = viewer.inner_text()
    assert HARBOUR_TITLE in shown and "<img src=x onerror=alert(1)>" in shown
    assert "reads <script>alert(1)</script> and <img src=x onerror=alert(1)> as written" in shown
    shot(page, "06-hostile-document.png")

    visible(page.locator("#rag-documents .cell-wrap").filter(has_text="Dockside notes")).click()
    visible(viewer.get_by_text("crane operators", exact=False)).wait_for(timeout=WAIT_MS)
    assert LEAFLET in viewer.inner_text()

    page.get_by_role("tab", name="Ask").click()
    ask(page, "What did the union leaflet say in one line?")
    chat_text(page, "The union leaflet said").wait_for(timeout=WAIT_MS)
    assert LEAFLET in page.locator("#rag-chat").inner_text()
    assert LEAFLET in page.locator("#rag-viewer").inner_text()
    shot(page, "07-hostile-answer.png")

    page.get_by_role("tab", name="Lookup").click()
    page.fill("#rag-lookup-text textarea", LEAFLET)
    page.click("#rag-lookup-run")
    visible(page.locator("#rag-lookup-table .rag-kind-exact")).wait_for(timeout=WAIT_MS)
    assert LEAFLET in page.locator("#rag-lookup-table").inner_text()
    visible(page.locator("#rag-lookup-table .cell-wrap").filter(has_text="The union leaflet said")).click()
    detail = page.locator("#rag-lookup-detail")  # waited for, not slept on: a loaded machine answers late
    visible(detail.get_by_text("The union leaflet said", exact=False).first).wait_for(timeout=WAIT_MS)
    assert LEAFLET in detail.inner_text()
    shot(page, "08-hostile-lookup.png")

    page.get_by_role("tab", name="Documents").click()  # delete one of them again
    select_document(page, "Dockside notes")  # a delete clicked before the selection arrives asks to select first
    page.click("#rag-delete")
    page.locator("#rag-confirm").click()
    page.wait_for_function(
        "() => !document.querySelector('#rag-documents').innerText.includes('Dockside notes')", timeout=WAIT_MS
    )
    assert "Deleted Dockside notes <img src=x onerror=alert(1)>" in page.locator("body").inner_text()
    shot(page, "09-document-deleted.png")

    page.wait_for_timeout(1000)  # time for any injected image or script to fire
    assert page.locator("img[src='x'], img[src*='beacon'], a[href^='javascript:' i]").count() == 0
    assert page.evaluate("() => [...document.scripts].filter(s => s.textContent.includes('alert(1)')).length") == 0
    for text in HOSTILE:  # shown as text in the viewer, the table and the detail, never as elements
        assert text in page.locator("#rag-lookup-detail").inner_text()
    watch.assert_clean()


PDF_PAGE_TWO = (
    "Divers surveyed the reefs at Lizard Island between January and April 2024 and counted fewer young corals "
    "than in any year before."
)
LIBRARY_TXT = (
    "Rivertown library opens\n\nThe new Rivertown library cost 4 million dollars to build. The money for the "
    "library came from local taxes. It opened in June with a reading room for children.\n"
)


@pytest.fixture(scope="module")
def uploaded(browser: Browser, app_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A two-page PDF (with hard line breaks, made by Chromium) and a .txt with a headline, added on drop."""
    folder = tmp_path_factory.mktemp("uploads")
    page, watch = open_page(browser, app_url, "desktop")
    maker = page.context.new_page()
    maker.set_content(
        "<title>Coral survey</title><h1>Coral survey</h1><p>The survey covers the northern reefs.</p>"
        f'<p style="page-break-before: always; width: 260px">{PDF_PAGE_TWO}</p>'
    )
    maker.pdf(path=str(folder / "coral-survey.pdf"))
    maker.close()
    (folder / "rivertown-library.txt").write_text(LIBRARY_TXT, encoding="utf-8")
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files(
        "#rag-upload input[type=file]", [str(folder / "coral-survey.pdf"), str(folder / "rivertown-library.txt")]
    )
    summary = page.locator("#rag-upload-summary")
    visible(summary.get_by_text("rivertown-library.txt")).wait_for(timeout=WAIT_MS)  # indexed on drop, no button
    assert "coral-survey.pdf added" in summary.inner_text() and "rivertown-library.txt added" in summary.inner_text()
    page.wait_for_timeout(500)
    assert in_viewport(page, "#rag-upload-summary")  # the outcome where the user dropped the files
    table = page.locator("#rag-documents")
    visible(table.locator(".cell-wrap").filter(has_text="Rivertown library opens")).wait_for(timeout=WAIT_MS)
    shot(page, "15-documents-added.png")
    watch.assert_clean()
    page.context.close()
    return {"pdf": "uploads/coral-survey.pdf", "txt": "uploads/rivertown-library.txt"}


def choose_documents(page: Page, *titles: str, box: str = "rag-filter") -> None:
    page.locator(f"#{box}").get_by_text("Search in:").click()
    for title in titles:
        page.locator(f"#{box}-documents input").click()
        visible(page.get_by_role("option", name=re.compile(re.escape(title)))).click()
    page.wait_for_function(
        "(box) => document.querySelector('#' + box).innerText.includes('only')", arg=box, timeout=WAIT_MS
    )


def test_a_filtered_question_searches_only_the_chosen_documents(
    sized: tuple[Page, Watch, str], uploaded: dict[str, str]
) -> None:
    page, watch, size = sized
    ask(page, "How much did the Rivertown library cost?")
    chat_text(page, "cost 4 million dollars").wait_for(timeout=WAIT_MS)
    choose_documents(page, "China steps up")
    assert "Search in: 1 document only" in page.locator("#rag-filter").inner_text()
    ask(page, "How much did the Rivertown library cost?")
    page.wait_for_function(
        "() => document.querySelectorAll('#rag-chat [data-testid=\"user\"]').length === 2", timeout=WAIT_MS
    )
    chat_text(page, "The documents do not answer this question.").wait_for(timeout=WAIT_MS)
    shot(page, f"16-filtered-{size}.png", full_page=False)
    page.locator("#rag-chat").get_by_text("Nearest passages").last.click()
    nearest = page.locator("#rag-chat [data-testid='bot']").last.inner_text()
    assert "China steps up" in nearest and "Rivertown" not in nearest  # even the nearest come from the choice

    page.get_by_role("tab", name="Lookup").click()  # the same choice for a lookup
    choose_documents(page, "Rivertown library opens", box="rag-lookup-filter")
    page.fill("#rag-lookup-text textarea", f"{GOLD} The new Rivertown library cost 4 million dollars to build.")
    page.click("#rag-lookup-run")
    results = page.locator("#rag-lookup-cards" if size == "phone" else "#rag-lookup-table")
    visible(results.locator(".rag-kind-exact")).wait_for(timeout=WAIT_MS)
    assert results.locator(".rag-kind-exact").locator("visible=true").count() == 1  # GOLD is not in that document
    assert visible(results.locator(".rag-kind-unsupported")).is_visible()
    watch.assert_clean()


def test_pdf_citation_shows_its_page_and_the_viewer_its_page_boundaries(
    sized: tuple[Page, Watch, str], uploaded: dict[str, str]
) -> None:
    page, watch, size = sized
    ask(page, "When did divers survey the reefs at Lizard Island?")
    chat_text(page, "Lizard Island").wait_for(timeout=WAIT_MS)
    reply = visible(page.locator("#rag-chat [data-testid='bot']")).inner_text()
    assert "p. 2" in reply and "Coral survey" in reply  # the page on the citation line itself
    page.locator("#rag-chat button.rag-q1-c1").first.click()
    viewer = page.locator("#rag-viewer")
    visible(viewer.locator(".rag-page").filter(has_text="Page 2")).wait_for(timeout=WAIT_MS)
    assert viewer.locator(".rag-page").count() == 2
    assert " ".join(PDF_PAGE_TWO.split()[:6]) in focus_mark(page).inner_text()
    assert "\n" not in focus_mark(page).inner_text()  # hard line breaks shown as spaces
    shot(page, f"17-pdf-page-{size}.png", full_page=False)
    watch.assert_clean()


def test_lookup_results_are_readable_and_an_empty_run_is_a_hint(sized: tuple[Page, Watch, str]) -> None:
    page, watch, size = sized
    page.get_by_role("tab", name="Lookup").click()
    page.click("#rag-lookup-run")
    visible(page.locator("#rag-lookup-detail").get_by_text("type some text to look up")).wait_for(timeout=WAIT_MS)
    assert page.locator(".toast-body.error, .toast-wrap .error").count() == 0
    text = f"{GOLD} China wants to be a world leader in technology. Pigeons painted the Eiffel Tower green."
    page.fill("#rag-lookup-text textarea", text)
    page.click("#rag-lookup-run")
    results = page.locator("#rag-lookup-cards" if size == "phone" else "#rag-lookup-table")
    badge = visible(results.locator(".rag-kind-unsupported"))
    badge.wait_for(timeout=WAIT_MS)
    assert page.evaluate("(b) => b.scrollWidth <= b.clientWidth + 1", badge.element_handle())  # badge not clipped
    assert badge.inner_text().strip() == "\u2717 unsupported"
    if size == "phone":  # stacked cards instead of the table, each readable at the screen's width
        assert not page.locator("#rag-lookup-table").is_visible()
        cards = page.locator(".rag-lookup-card")
        assert cards.count() == 3
        for card in cards.all():
            box = card.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= SIZES["phone"]["width"]
        assert "global leader in technology" in cards.nth(1).inner_text()
        assert not page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")  # no clipping
    else:
        assert not page.locator("#rag-lookup-cards").is_visible()
    page.get_by_text("Export: Markdown footnotes and JSON").click()
    preview = page.locator("#rag-lookup-md textarea").input_value()
    assert preview.startswith(GOLD + "[^1]") and all(f"[^{n}]:" in preview for n in (1, 2, 3))
    if size == "desktop":
        visible(results.locator(".cell-wrap").filter(has_text="world leader in technology")).click()
        page.wait_for_timeout(300)
        detail = page.locator("#rag-lookup-detail").inner_text()
    else:
        detail = page.locator(".rag-lookup-card").nth(1).inner_text()
    assert detail.count("score") == 1  # the score once
    shot(page, f"18-lookup-{size}.png")
    watch.assert_clean()


def test_delete_asks_with_cancel_and_marks_answers_that_cited_it(
    page: tuple[Page, Watch], uploaded: dict[str, str]
) -> None:
    page, watch = page
    ask(page, "How much did the Rivertown library cost?")
    chat_text(page, "cost 4 million dollars").wait_for(timeout=WAIT_MS)
    page.get_by_role("tab", name="Documents").click()
    select_document(page, "Rivertown library opens")
    page.click("#rag-delete")
    question = page.locator("#rag-confirm-question")
    visible(question.get_by_text("Delete")).wait_for(timeout=WAIT_MS)
    background = page.evaluate("() => getComputedStyle(document.querySelector('#rag-confirm')).backgroundColor")
    assert background == "rgb(185, 28, 28)"  # visibly destructive
    shot(page, "19-delete-confirm.png", full_page=False)
    page.click("#rag-cancel")
    page.wait_for_function("() => !document.querySelector('#rag-confirm')?.offsetParent", timeout=WAIT_MS)
    assert "Rivertown library opens" in page.locator("#rag-documents").inner_text()
    page.click("#rag-delete")
    page.click("#rag-confirm")
    page.wait_for_function(
        "() => !document.querySelector('#rag-documents').innerText.includes('Rivertown library opens')",
        timeout=WAIT_MS,
    )
    page.get_by_role("tab", name="Ask").click()
    visible(page.locator("#rag-chat .rag-stale")).wait_for(timeout=WAIT_MS)
    assert "no longer in the index" in page.locator("#rag-chat .rag-stale").first.inner_text()
    page.wait_for_function(  # the viewer showed the deleted document
        "() => document.querySelector('#rag-viewer').innerText.includes('rivertown-library.txt is no longer in')",
        timeout=WAIT_MS,
    )
    assert "reading room" not in page.locator("#rag-viewer").inner_text()
    shot(page, "20-stale-answer.png", full_page=False)
    watch.assert_clean()


def test_documents_table_keeps_its_words_whole(sized: tuple[Page, Watch, str]) -> None:
    page, watch, size = sized
    page.get_by_role("tab", name="Documents").click()
    visible(page.locator("#rag-documents .cell-wrap").filter(has_text="cgtn.com")).wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(300)
    broken = page.evaluate(
        """() => [...document.querySelectorAll('#rag-documents th, #rag-documents .body-cell')]
        .filter(cell => cell.offsetParent && cell.scrollWidth > cell.clientWidth + 1).map(cell => cell.innerText)"""
    )
    assert broken == [], f"cells too narrow for their words on {size}: {broken}"
    lines = page.evaluate(
        """() => [...document.querySelectorAll('#rag-documents .body-cell')].filter(c => c.innerText.trim() ===
        'cgtn.com').map(c => { const w = document.createTreeWalker(c, NodeFilter.SHOW_TEXT); let n, r = null;
        while ((n = w.nextNode())) if (n.textContent.trim()) { r = document.createRange(); r.selectNodeContents(n); }
        return r ? r.getClientRects().length : 0; })"""
    )
    assert lines and max(lines) == 1, lines  # "cgtn.com" on one line, not "cgtn.c / om"
    shot(page, f"21-documents-{size}.png", full_page=False)
    watch.assert_clean()
