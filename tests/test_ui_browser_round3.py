"""The app's third round in a real browser (Debian's Chromium via Playwright), desktop and phone:
earlier answers survive a deleted source, feedback can be taken back, given a reason, and says
when it cannot be saved, conversations survive a reload, questions not in English are told so,
[n] previews, the answer's words marked, settings, edit and retry, and the small fixes of the report.

Each test here failed on f6017ab (the commit the user report tested).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import test_ui_browser as first
from tests.test_ui import CHIP_QUESTION, GOLD, OFF_TOPIC
from tests.test_ui_browser import SIZES, WAIT_MS, ask, chat_text, open_page, select_document, shot, visible

app, app_url, browser, page, sized = first.app, first.app_url, first.browser, first.page, first.sized  # fixtures
uploaded = first.uploaded  # the two-page PDF (and a .txt), uploaded once per module

pytestmark = pytest.mark.browser

SPANISH = "\u00bfCu\u00e1nto dinero quiere recaudar el nuevo fondo de chips?"
BAKERY = "Lisbon bakery notes\n\nThe Lisbon bakery sold 900 custard tarts on its first day.\n"


def answers_shown(page, count: int) -> None:
    page.wait_for_function(
        "(n) => document.querySelectorAll('#rag-chat [data-testid=\"user\"]').length === n", arg=count, timeout=WAIT_MS
    )


def ask_and_wait(page, question: str, count: int) -> None:
    ask(page, question)
    answers_shown(page, count)
    page.wait_for_function(
        "(n) => document.querySelectorAll('#rag-chat [data-testid=\"bot\"]').length >= 2 * n", arg=count,
        timeout=WAIT_MS,
    )  # fmt: skip
    page.wait_for_timeout(400)


def feedback_lines(app: tuple[str, Path]) -> list[dict]:
    path = app[1] / "index.feedback.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.is_file() else []


def wait_for_lines(page, app: tuple[str, Path], count: int) -> list[dict]:
    for _ in range(100):
        lines = feedback_lines(app)
        if len(lines) >= count:
            return lines
        page.wait_for_timeout(100)
    raise AssertionError(f"expected {count} feedback lines, have {feedback_lines(app)}")


@pytest.fixture()
def fresh(browser, app_url: str) -> Iterator:
    """A desktop page with nothing kept in the browser from another test."""
    page, watch = open_page(browser, app_url, "desktop")
    yield page, watch
    page.context.close()


def upload(page, folder: Path, name: str, text: str) -> None:
    page.get_by_role("tab", name="Documents").click()
    file = folder / name
    file.write_text(text, encoding="utf-8")
    page.set_input_files("#rag-upload input[type=file]", [str(file)])
    visible(page.locator("#rag-upload-summary").get_by_text(name)).wait_for(timeout=WAIT_MS)


def test_deleting_a_document_keeps_earlier_answers_readable(sized, tmp_path_factory: pytest.TempPathFactory) -> None:
    page, watch, size = sized
    upload(page, tmp_path_factory.mktemp("bakery"), f"bakery-{size}.txt", BAKERY)
    page.get_by_role("tab", name="Ask").click()
    ask_and_wait(page, "How many custard tarts did the Lisbon bakery sell on its first day?", 1)
    reply = visible(page.locator("#rag-chat [data-testid='bot']")).inner_text()
    assert "900 custard tarts" in reply
    page.get_by_role("tab", name="Documents").click()
    select_document(page, "Lisbon bakery notes")
    page.click("#rag-delete")
    visible(page.locator("#rag-confirm")).wait_for(timeout=WAIT_MS)
    ids = page.locator("[id='rag-confirm-box']").count()  # checked below, after the answer's text
    page.click("#rag-confirm")
    page.wait_for_function(
        "() => !document.querySelector('#rag-documents').innerText.includes('Lisbon bakery')", timeout=WAIT_MS
    )
    page.get_by_role("tab", name="Ask").click()
    visible(page.locator("#rag-chat .rag-stale")).wait_for(timeout=WAIT_MS)
    after = visible(page.locator("#rag-chat [data-testid='bot']")).inner_text()
    assert "'type': 'text'" not in after and "[{" not in after and "\\n" not in after
    assert "\u201cThe Lisbon bakery sold 900 custard tarts on its first day.\u201d" in after
    assert "no longer in the index" in after
    assert ids == 1  # one element with the confirmation's id (there were 2)
    shot(page, f"30-stale-kept-{size}.png", full_page=False)
    watch.assert_clean()


def test_feedback_taken_back_with_a_reason_and_undo(fresh, app: tuple[str, Path]) -> None:
    page, watch = fresh
    before = len(feedback_lines(app))
    ask_and_wait(page, CHIP_QUESTION, 1)
    chat = page.locator("#rag-chat")
    visible(chat.get_by_role("button", name="Like", exact=True)).click()
    lines = wait_for_lines(page, app, before + 1)
    assert lines[-1]["rating"] == "up"
    visible(page.locator("#rag-status").get_by_text("was saved to index.feedback.jsonl")).wait_for(timeout=WAIT_MS)
    visible(chat.get_by_role("button", name="Liked", exact=True)).click()  # the thumb taken back
    lines = wait_for_lines(page, app, before + 2)
    assert lines[-1]["rating"] == "retracted" and lines[-1]["question"] == CHIP_QUESTION  # never "down"
    visible(page.locator("#rag-status").get_by_text("taken back")).wait_for(timeout=WAIT_MS)

    visible(chat.get_by_role("button", name="Dislike", exact=True)).click()
    wait_for_lines(page, app, before + 3)
    page.locator("#rag-reason").get_by_text("wrong source").click()
    page.fill("#rag-comment textarea", "It quotes Reuters, not the fund's own plan.")
    page.click("#rag-send-reason")
    lines = wait_for_lines(page, app, before + 4)
    assert lines[-1]["rating"] == "down" and lines[-1]["reason"] == "wrong source"
    assert lines[-1]["comment"] == "It quotes Reuters, not the fund's own plan."
    shot(page, "31-feedback-reason.png", full_page=False)
    page.click("#rag-undo")
    lines = wait_for_lines(page, app, before + 5)
    assert lines[-1]["rating"] == "retracted" and len(feedback_lines(app)) == before + 5  # one line, not two
    page.wait_for_function(  # the thumb is shown off again, as the file says
        "() => !document.querySelector('#rag-chat button[aria-label=\"Disliked\"]')", timeout=WAIT_MS
    )
    visible(page.locator("#rag-status").get_by_text("taken back")).wait_for(timeout=WAIT_MS)
    assert not page.locator("#rag-undo").is_visible()
    watch.assert_clean()


def test_a_feedback_file_that_cannot_be_written_says_so_inline(fresh, app: tuple[str, Path]) -> None:
    page, watch = fresh
    path = app[1] / "index.feedback.jsonl"
    moved = path.with_name("feedback.kept")
    if path.exists():
        path.rename(moved)
    path.mkdir()  # a folder in the file's place
    try:
        ask_and_wait(page, CHIP_QUESTION, 1)
        visible(page.locator("#rag-chat").get_by_role("button", name="Like", exact=True)).click()
        status = page.locator("#rag-status .rag-warning")
        status.wait_for(timeout=WAIT_MS)
        text = status.inner_text()
        assert "was not saved" in text and str(path) in text and "Is a directory" in text
        assert page.locator(".toast-body.error").count() == 0  # not "Error" in a toast
        shot(page, "32-feedback-not-saved.png", full_page=False)
    finally:
        path.rmdir()
        if moved.exists():
            moved.rename(path)
    watch.assert_clean()


def test_the_question_box_has_a_name_and_the_chat_controls_distinct_ones(fresh) -> None:
    page, watch = fresh
    box = page.get_by_role("textbox", name="Question", exact=True)
    assert box.count() == 1 and box.get_attribute("placeholder") == "Ask a question about the documents"
    ask_and_wait(page, CHIP_QUESTION, 1)
    assert page.get_by_role("button", name="Clear", exact=True).count() <= 1  # one "Clear", not two
    nameless = page.evaluate(
        """() => [...document.querySelectorAll('#rag-chat button')].filter(b => b.offsetParent &&
        !(b.getAttribute('aria-label') || b.textContent).trim()).length"""
    )
    assert nameless == 0
    snapshot = page.locator("#rag-chat").aria_snapshot()
    assert 'group "Question: How much money' in snapshot and 'group "Answer: [1]' in snapshot
    watch.assert_clean()


def test_on_a_phone_a_tapped_document_comes_into_view(browser, app_url: str) -> None:
    page, watch = open_page(browser, app_url, "phone")
    try:
        page.get_by_role("tab", name="Documents").click()
        visible(page.locator("#rag-documents .cell-wrap").filter(has_text="China steps up")).tap()
        visible(page.locator("#rag-document-view").get_by_text("China steps up", exact=False)).wait_for(timeout=WAIT_MS)
        page.wait_for_timeout(600)
        top = page.locator("#rag-document-view").bounding_box()["y"]
        assert 0 <= top < SIZES["phone"]["height"] * 0.6, f"the document opened at y={top}, out of view"
        label = page.locator("#rag-upload label[data-testid='block-label']").bounding_box()
        icon = page.locator("#rag-upload [data-testid='upload-icon']").bounding_box()
        assert label["y"] + label["height"] <= icon["y"] + 1, "the upload label covers its icon"
        shot(page, "33-phone-document-in-view.png", full_page=False)
        watch.assert_clean()
    finally:
        page.context.close()


def test_a_conversation_survives_a_reload_and_past_ones_are_listed(sized) -> None:
    page, watch, size = sized
    ask_and_wait(page, CHIP_QUESTION, 1)
    ask_and_wait(page, "Which companies did Li Qiang visit?", 2)
    page.reload()
    page.wait_for_selector("#rag-question textarea", timeout=WAIT_MS)
    answers_shown(page, 2)
    text = page.locator("#rag-chat").inner_text()
    assert "aiming to raise over $40 billion" in text and "Huawei" in text
    box = page.locator("#rag-question textarea").bounding_box()
    assert box["y"] + box["height"] <= SIZES[size]["height"]  # the question box stays above the fold
    history = page.locator("#rag-history")
    assert "Past conversations, kept in this browser (1)" in history.inner_text()
    assert page.locator("#rag-export").is_visible()  # the exports came back too

    page.click("#rag-clear")  # a new conversation
    answers_shown(page, 0)
    ask_and_wait(page, OFF_TOPIC, 1)
    history.get_by_text("Past conversations").click()
    assert history.locator("li").count() == 2
    history.locator("button.rag-open-conversation").filter(has_text="How much money").click()
    answers_shown(page, 2)
    assert "Huawei" in page.locator("#rag-chat").inner_text()
    history.locator("li").filter(has_text="Who won").locator("button.rag-delete-conversation").click()
    page.wait_for_function("() => document.querySelectorAll('#rag-history li').length === 1", timeout=WAIT_MS)
    assert "Who won" not in page.evaluate("() => localStorage.getItem('rag-conversations')")
    shot(page, f"34-conversations-{size}.png", full_page=False)
    watch.assert_clean()


def test_a_question_not_in_english_is_told_so(fresh) -> None:
    page, watch = fresh
    ask_and_wait(page, SPANISH, 1)
    reply = visible(page.locator("#rag-chat [data-testid='bot']")).inner_text()
    assert "rag matches English questions; this looks like Spanish" in reply
    assert "\u201cel\u201d" not in reply and "'el'" not in reply  # no stop words listed as missing
    watch.assert_clean()


def test_long_and_empty_questions_are_said_inline(fresh) -> None:
    page, watch = fresh
    page.fill("#rag-question textarea", "   ")
    page.click("#rag-ask")
    visible(page.locator("#rag-status").get_by_text("Type a question first")).wait_for(timeout=WAIT_MS)
    long = ("How much money does the new chip fund aim to raise? " * 100).strip()
    page.fill("#rag-question textarea", long)
    assert len(page.locator("#rag-question textarea").input_value()) == len(long)  # not cut by the box
    page.click("#rag-ask")
    visible(page.locator("#rag-status").get_by_text("Shorten it")).wait_for(timeout=WAIT_MS)
    assert f"{len(long):,} characters" in page.locator("#rag-status").inner_text()
    assert page.locator("#rag-question textarea").input_value() == long  # nothing lost
    answers_shown(page, 0)
    watch.assert_clean()


def test_nearest_passages_are_distinct_and_scored(fresh) -> None:
    page, watch = fresh
    ask_and_wait(page, "What is the boiling point of water?", 1)
    page.locator("#rag-chat").get_by_text("Nearest passages").last.click()
    nearest = page.locator("#rag-chat [data-testid='bot']").last.inner_text()
    assert "score 0.00" not in nearest
    watch.assert_clean()


def test_preview_of_a_marker_on_hover_and_keyboard_focus(sized) -> None:
    page, watch, size = sized
    ask_and_wait(page, CHIP_QUESTION, 1)
    marker = visible(page.locator("#rag-chat button.rag-q1-c1"))
    preview = page.locator("#rag-preview")
    assert not preview.is_visible()
    if size == "desktop":
        marker.hover()
    else:
        marker.focus()  # what a tap does first, before it opens the document below
    preview.wait_for(state="visible", timeout=WAIT_MS)
    shown = preview.inner_text()
    assert "China steps up" in shown and "cgtn.com" in shown and GOLD in shown and "characters" in shown
    box = preview.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= SIZES[size]["width"] + 1
    shot(page, f"35-preview-{size}.png", full_page=False)
    assert marker.get_attribute("aria-describedby") == "rag-preview"
    # It holds a button, which a tooltip may not: a non-modal dialog, named for screen readers.
    assert preview.get_attribute("role") == "dialog" and preview.get_attribute("aria-label") == "Citation preview"
    assert preview.locator("button").count() == 1
    page.mouse.move(0, 0)
    page.locator("#rag-question textarea").focus()  # focus elsewhere: the card goes
    preview.wait_for(state="hidden", timeout=WAIT_MS)
    page.evaluate("() => document.querySelector('#rag-chat button.rag-q1-c1').focus()")  # as Tab reaches it
    preview.wait_for(state="visible", timeout=WAIT_MS)
    page.keyboard.press("Escape")
    preview.wait_for(state="hidden", timeout=WAIT_MS)
    watch.assert_clean()


def test_the_answer_is_marked_inside_the_quote(fresh) -> None:
    page, watch = fresh
    ask_and_wait(page, CHIP_QUESTION, 1)
    marks = page.locator("#rag-chat [data-testid='bot'] strong.rag-answer").locator("visible=true")
    assert marks.all_inner_texts() == ["$40 billion"]
    watch.assert_clean()


def test_settings_k_threshold_and_a_saved_document_set_are_kept(fresh) -> None:
    page, watch = fresh
    page.locator("#rag-settings").get_by_text("Settings").click()
    k = page.locator("#rag-k input[type=number]")
    # On a loaded machine the page's own restore of the kept settings (k = 3 by default) can land
    # after the fill and undo it: set k until the slider holds 1 twice, half a second apart.
    slider_holds_one = "() => document.querySelector('#rag-k input[type=range]').value === '1'"
    for _ in range(5):
        k.fill("1")
        k.press("Enter")
        k.blur()
        page.wait_for_timeout(500)
        if page.evaluate(slider_holds_one):
            page.wait_for_timeout(500)
            if page.evaluate(slider_holds_one):
                break
    ask_and_wait(page, "Which companies did Li Qiang visit?", 1)
    page.get_by_text("Sources (").first.click()
    reply = page.locator("#rag-chat [data-testid='bot']").first.inner_text()
    assert "[2]" not in reply  # k = 1: one quote
    page.locator("#rag-filter").get_by_text("Search in:").click()
    page.locator("#rag-filter-documents input").click()
    visible(page.get_by_role("option").filter(has_text="China steps up")).click()
    page.fill("#rag-set-name textarea, #rag-set-name input", "Chip news")
    page.click("#rag-save-set")
    page.wait_for_timeout(800)
    page.reload()
    page.wait_for_selector("#rag-question textarea", timeout=WAIT_MS)
    page.wait_for_timeout(1500)
    page.locator("#rag-settings").get_by_text("Settings").click()
    assert page.locator("#rag-k input[type=number]").input_value() == "1"  # kept in the browser
    page.locator("#rag-sets input").click()
    visible(page.get_by_role("option", name="Chip news")).click()
    page.wait_for_function(
        "() => document.querySelector('#rag-filter').innerText.includes('1 document only')", timeout=WAIT_MS
    )
    watch.assert_clean()


def test_edit_and_ask_again_the_last_question(fresh) -> None:
    page, watch = fresh
    ask_and_wait(page, CHIP_QUESTION, 1)
    ask_and_wait(page, OFF_TOPIC, 2)
    page.click("#rag-edit")
    answers_shown(page, 1)
    assert page.locator("#rag-question textarea").input_value() == OFF_TOPIC
    page.fill("#rag-question textarea", "Which companies did Li Qiang visit?")
    page.press("#rag-question textarea", "Enter")
    answers_shown(page, 2)
    chat_text(page, "Huawei").wait_for(timeout=WAIT_MS)
    page.click("#rag-retry")
    page.wait_for_timeout(1500)
    answers_shown(page, 2)  # asked again in its place, not added
    assert OFF_TOPIC not in page.locator("#rag-chat").inner_text()
    watch.assert_clean()


def test_dark_mode_marks_differences_red_and_lookup_sides_side_by_side(fresh) -> None:
    page, watch = fresh
    page.click("#rag-theme")
    page.get_by_role("tab", name="Lookup").click()
    page.fill("#rag-lookup-text textarea", GOLD.replace("$40 billion", "$90 billion"))
    page.click("#rag-lookup-run")
    visible(page.locator("#rag-lookup-table .rag-kind-altered")).wait_for(timeout=WAIT_MS)
    visible(page.locator("#rag-lookup-table .cell-wrap").filter(has_text="$90 billion")).click()
    diff = visible(page.locator("#rag-lookup-detail mark.rag-diff"))
    diff.wait_for(timeout=WAIT_MS)
    assert page.evaluate("(m) => getComputedStyle(m).backgroundColor", diff.element_handle()) == "rgb(254, 202, 202)"
    cards = page.locator("#rag-lookup-detail .rag-side > .rag-card")
    claim, source = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
    assert abs(claim["y"] - source["y"]) < 2 and claim["x"] < source["x"]  # side by side on a desktop
    shot(page, "36-dark-lookup.png", full_page=False)
    page.click("#rag-theme")
    watch.assert_clean()


def test_a_refused_upload_is_named_in_the_summary_and_one_sentence_is_singular(
    page, tmp_path_factory: pytest.TempPathFactory
) -> None:
    page, watch = page
    folder = tmp_path_factory.mktemp("refused")
    (folder / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (folder / "one-line.md").write_text("The kiln in Porto fired its first bricks.\n", encoding="utf-8")
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#rag-upload input[type=file]", [str(folder / "data.csv"), str(folder / "one-line.md")])
    summary = page.locator("#rag-upload-summary")
    visible(summary.get_by_text("one-line.md")).wait_for(timeout=WAIT_MS)
    text = summary.inner_text()
    assert "data.csv skipped" in text and ".csv" in text  # in the summary, not only in a toast
    assert "1 sentence" in text and "1 sentences" not in text
    watch.assert_clean()


def test_a_pdf_citation_shows_its_page_as_printed_and_the_original(
    sized, uploaded: dict[str, str], app: tuple[str, Path]
) -> None:
    page, watch, size = sized
    ask_and_wait(page, "When did divers survey the reefs at Lizard Island?", 1)
    image = page.locator("#rag-page-image img")
    image.wait_for(state="visible", timeout=WAIT_MS)
    label = page.locator("#rag-page-image").inner_text()
    assert "Page 2 of Coral survey, as printed (the quote highlighted)" in label
    highlighted = page.evaluate(
        """(img) => { const c = document.createElement('canvas'); c.width = img.naturalWidth;
        c.height = img.naturalHeight; const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 230 && d[i + 1] > 200 && d[i + 2] < 190) n++;
        return n; }""",
        image.element_handle(),
    )
    assert highlighted > 500, "no highlight drawn on the page image"
    assert page.locator("#rag-viewer mark#rag-focus").is_visible() or size == "phone"  # the text view stays
    with page.expect_download() as download:
        page.locator("#rag-original").click()
    original = app[1] / "corpus" / uploaded["pdf"]
    assert download.value.suggested_filename == "coral-survey.pdf"
    assert Path(download.value.path()).read_bytes() == original.read_bytes()
    shot(page, f"37-pdf-page-image-{size}.png", full_page=False)
    page.click("#rag-clear")
    page.wait_for_function("() => !document.querySelector('#rag-page-image img')?.offsetParent", timeout=WAIT_MS)
    watch.assert_clean()
