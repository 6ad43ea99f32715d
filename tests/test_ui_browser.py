"""The app in a real browser (Playwright driving Debian's Chromium): ask, open a citation, look up,
and upload hostile documents that must execute nothing and fetch nothing.

Screenshots of each screen go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_ui import CHIP_QUESTION, GOLD, HOSTILE, HOSTILE_MD, HOSTILE_TXT, LEAFLET, OFF_TOPIC, start_app, stop_app

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


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url, _ = start_app(tmp_path_factory.mktemp("ui-browser"))
    yield url
    stop_app(process)


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


@pytest.fixture()
def page(browser: Browser, app_url: str) -> Iterator[tuple[Page, Watch]]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    watch = Watch(page, app_url)
    page.goto(app_url)
    page.wait_for_selector("#rag-question textarea", timeout=WAIT_MS)
    yield page, watch
    context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)  # let transitions settle
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def visible(locator: Locator) -> Locator:
    return locator.locator("visible=true").first


def ask(page: Page, question: str) -> None:
    page.fill("#rag-question textarea", question)
    page.click("#rag-ask")


def chat_text(page: Page, text: str) -> Locator:
    return visible(page.locator("#rag-chat").get_by_text(text))


def focus_mark(page: Page) -> Locator:
    return page.locator("#rag-viewer mark#rag-focus")


def test_ask_shows_cited_sentence_source_and_opens_citations(page: tuple[Page, Watch]) -> None:
    page, watch = page
    ask(page, CHIP_QUESTION)
    chat_text(page, "aiming to raise over $40 billion").wait_for(timeout=WAIT_MS)
    reply = page.locator("#rag-chat").inner_text()
    assert "[1]" in reply and GOLD in reply and "cgtn.com" in reply
    assert "China steps up its push for tech self-reliance" in reply
    assert focus_mark(page).inner_text() == GOLD  # the first citation opens beside the chat
    shot(page, "01-ask-answer.png")

    visible(page.get_by_role("button", name="Which companies did Li Qiang visit?")).click()
    chat_text(page, "Huawei and BYD").wait_for(timeout=WAIT_MS)
    page.get_by_role("button", name="Open [1] in its document").click()
    page.wait_for_function(
        "() => (document.querySelector('#rag-viewer mark#rag-focus')?.textContent || '').includes('Huawei')",
        timeout=WAIT_MS,
    )
    page.wait_for_timeout(300)
    assert mark_in_view(page)
    shot(page, "02-citation-opened.png")

    page.locator("#rag-citation input").click()  # reopen the first answer's citation from the list
    visible(page.get_by_role("option", name=re.compile(r"^Q1 \[1\]"))).click()
    page.wait_for_function(
        "(gold) => document.querySelector('#rag-viewer mark#rag-focus')?.textContent === gold",
        arg=GOLD,
        timeout=WAIT_MS,
    )

    ask(page, OFF_TOPIC)
    chat_text(page, "The documents do not answer this question.").wait_for(timeout=WAIT_MS)
    assert "Reason:" in page.locator("#rag-chat").inner_text()
    assert focus_mark(page).count() == 0
    shot(page, "03-abstention.png")
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
    visible(page.get_by_text("[^1]:", exact=False)).wait_for(timeout=WAIT_MS)
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
    page.set_input_files("#rag-upload input[type=file]", [str(HOSTILE_MD), str(HOSTILE_TXT)])
    page.wait_for_timeout(1000)  # the files upload to the server before they can be added
    page.click("#rag-add")
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
    page.wait_for_timeout(500)
    assert LEAFLET in page.locator("#rag-lookup-detail").inner_text()
    shot(page, "08-hostile-lookup.png")

    page.get_by_role("tab", name="Documents").click()  # delete one of them again
    visible(page.locator("#rag-documents .cell-wrap").filter(has_text="Dockside notes")).click()
    page.get_by_role("button", name="Delete selected document").click()
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
