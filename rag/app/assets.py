"""What the app's page carries besides its components: the CSS, and the small scripts Gradio runs in the browser.

Both live as files in ``rag/app/static/`` (``app.css``, ``app.js``), read once at import and shipped in
the wheel (``[tool.setuptools.package-data]``). No logic lives in them: the scripts only turn clicks into
requests to the server (through hidden text boxes), move the view to what changed, name chat messages
for screen readers, switch the theme, and keep conversations in the browser's localStorage (never on the
server): the list of past ones, which one is open, and sending a kept one back to the server to be shown.

``PAGE_JS`` (``app.js``) runs once when the page loads and defines the ``window.rag*`` functions that
the events' scripts below call; each is a one-line arrow function, as Gradio's ``js=`` expects.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).with_name("static")


def _read(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


CSS = _read("app.css")
PAGE_JS = _read("app.js")

# After the viewer opened a citation: its highlighted sentence in view (and the viewer, on a phone).
SCROLL_TO_MARK = "() => { window.ragScrollToMark?.(); }"
# After an answer: the start of the newest question and its answer at the top of the chat.
SCROLL_TO_ANSWER = "() => { window.ragScrollToAnswer?.(); }"
# Copy what the server put in the hidden #rag-clip box; say so on the button that asked.
COPY_TO_CLIPBOARD = "(text) => { window.ragCopyToClipboard?.(text); }"
# The document just selected in the Documents tab, in view: on a phone its reader lies under the upload zone.
SHOW_DOCUMENT = "() => { window.ragShowDocument?.(); }"
# Keep the conversation the server sent (its answers as JSON) in localStorage, under the id of the
# conversation open in this page (a new id for a new one), newest first; the oldest go when full.
SAVE_CONVERSATION = "(kept) => { if (window.ragKeep) window.ragKeep(kept); }"
# "New": the next question starts a new conversation; the kept ones stay in the list.
FORGET_CONVERSATION = "() => { if (window.ragForget) window.ragForget(); }"
# Undo a judgement: click the thumb that is on under the judged answer, as clicking it again would.
UNDO_THUMB = "() => { window.ragUndoThumb?.(); }"
# The upload's outcome where the user is looking: scrolled into view when it lies off screen.
SHOW_UPLOAD_SUMMARY = "() => { window.ragShowUploadSummary?.(); }"
TOGGLE_THEME = "() => { window.ragToggleTheme?.(); }"
