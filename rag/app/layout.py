"""The app's layout: its tabs, their components, and which handler each event runs.

The handlers are in ``rag.app.chat`` (Ask), ``rag.app.handlers`` (Lookup, Documents, Search in)
and ``rag.app.api`` (the HTTP API); the page's CSS and scripts in ``rag.app.assets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from rag import SUPPORTED_SUFFIXES
from rag.app.api import ask_api, ask_question_api, ask_where_api, lookup_api, lookup_text_api, lookup_where_api
from rag.app.assets import (
    COPY_TO_CLIPBOARD,
    FORGET_CONVERSATION,
    PAGE_JS,
    SAVE_CONVERSATION,
    SCROLL_TO_ANSWER,
    SCROLL_TO_MARK,
    SHOW_DOCUMENT,
    SHOW_UPLOAD_SUMMARY,
    TOGGLE_THEME,
    UNDO_THUMB,
)
from rag.app.chat import (
    K_CHOICES,
    on_answered,
    on_ask,
    on_choose_set,
    on_clear,
    on_copy_request,
    on_edit_last,
    on_feedback,
    on_feedback_reason,
    on_hide_feedback,
    on_keep_settings,
    on_load_settings,
    on_mark_stale,
    on_open_request,
    on_opened,
    on_page_image,
    on_reopen,
    on_restore,
    on_retry_last,
    on_save_set,
    on_undo_feedback,
    saved_answers,
)
from rag.app.documents import MAX_UPLOAD_LABEL
from rag.app.handlers import (
    on_ask_delete,
    on_delete,
    on_filter_choices,
    on_filter_label,
    on_lookup,
    on_refresh_documents,
    on_select_document,
    on_select_row,
    on_upload,
)
from rag.app.render import (
    filter_label,
    placeholder_html,
)
from rag.app.render_lookup import lookup_cards_html
from rag.feedback import REASONS

# --- layout ----------------------------------------------------------------------------

EXAMPLE_QUESTIONS = (
    "How much money does the new chip fund aim to raise?",
    "Which companies did Li Qiang visit?",
    "Which technologies are described as dual-use?",
)
EXAMPLE_LOOKUPS = (
    "China wants to be a world leader in technology.",
    "In response, China is launching a new state-backed investment fund aiming to raise over $40 billion for "
    "its semiconductor sector, according to Reuters. The fund was announced on the moon.",
)
# The browser's own copy of the settings (k, threshold, saved document sets); the encryption Gradio
# adds to BrowserState is not relied on (the key is in this file), only the storage in the user's browser.
SETTINGS_KEY, SETTINGS_SECRET = "rag-settings", "rag-settings-v1"

# System fonts only: the default themes fetch Google Fonts, a request to a third party on every page view.
THEME = gr.themes.Soft(font=("ui-sans-serif", "system-ui", "sans-serif"), font_mono=("ui-monospace", "monospace"))

INTRO = (
    "# rag \u2014 answers quoted from your documents\n"
    "Every answer is made only of sentences copied verbatim from the documents, each with its source. "
    "When the documents do not answer, it says so."
)


@dataclass
class AskTab:
    """The Ask tab's components that other tabs' events update."""

    chatbot: gr.Chatbot
    answers: gr.State
    documents: gr.Dropdown
    sources: gr.Dropdown
    viewer: gr.HTML
    opened: gr.State  # the citation shown in the viewer (as a dict)
    printed: gr.Image  # its PDF page as printed
    original: gr.DownloadButton  # its PDF file
    settings: Settings
    kept_settings: gr.BrowserState  # the settings as the browser keeps them


@dataclass
class Settings:
    """The Settings box: how many quotes, the threshold, and the saved document sets."""

    k: gr.Slider
    threshold: gr.Slider
    set_name: gr.Textbox
    save_set: gr.Button
    sets: gr.Dropdown
    said: gr.HTML  # what saving a set did


def _settings_box() -> Settings:
    with gr.Accordion("Settings", open=False, elem_id="rag-settings"):
        with gr.Row():
            k = gr.Slider(*K_CHOICES, value=3, step=1, label="Most quotes per answer (k)",
                          elem_id="rag-k")  # fmt: skip
            threshold = gr.Slider(
                0.0, 1.0, value=0.25, step=0.01, label="Threshold",
                info="An answer needs a sentence scoring at least this; below it, rag says the documents do "
                "not answer. Lower answers more often, with weaker quotes; higher abstains more.",
                elem_id="rag-threshold",
            )  # fmt: skip
        with gr.Row(equal_height=True):
            sets = gr.Dropdown(label="Saved document sets", choices=[], value=None, scale=3, elem_id="rag-sets",
                               info="Choosing one sets Search in")  # fmt: skip
            set_name = gr.Textbox(label="Name of the set", placeholder="e.g. Chip fund sources", scale=3,
                                  elem_id="rag-set-name")  # fmt: skip
            save_set = gr.Button("Save Search in as this set", size="sm", scale=2, elem_id="rag-save-set")
        said = gr.HTML("", elem_id="rag-set-said")
    return Settings(k, threshold, set_name, save_set, sets, said)


def _ask_tab() -> AskTab:
    answers = gr.State([])
    opened = gr.State(None)
    last_feedback = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=6, min_width=300):
            documents, sources = _filter_box("rag-filter")
            chatbot = gr.Chatbot(
                label="Questions and cited answers",
                show_label=False,
                height="min(52vh, 520px)",
                min_height=160,
                autoscroll=False,
                latex_delimiters=[],
                feedback_options=("Like", "Dislike"),
                buttons=[],
                group_consecutive_messages=True,
                placeholder="Ask a question about the documents. Every answer quotes them, with sources.",
                elem_id="rag-chat",
            )
            with gr.Row(equal_height=True, elem_id="rag-ask-row"):
                question = gr.Textbox(
                    label="Question",  # its accessible name, though not shown
                    placeholder="Ask a question about the documents",
                    show_label=False,
                    scale=8,
                    lines=1,
                    autofocus=True,
                    elem_id="rag-question",
                    submit_btn=False,
                )
                ask = gr.Button("Ask", variant="primary", scale=1, min_width=70, elem_id="rag-ask")
                clear = gr.Button("New", scale=1, min_width=70, elem_id="rag-clear")
            status = gr.HTML("", elem_id="rag-status")
            with gr.Row(visible=False, elem_id="rag-feedback") as undo_row:
                undo = gr.Button("Undo my judgement", size="sm", scale=0, min_width=160, elem_id="rag-undo")
                # Undo clicks the thumb that is on, as a second click would (its state shown, a retraction
                # recorded); this hidden button records the retraction when no thumb is on to click.
                undo_saved = gr.Button("Undo", visible="hidden", elem_id="rag-undo-server")
            with gr.Column(visible=False, elem_id="rag-feedback-reason") as reason_box:
                reason = gr.Radio(list(REASONS), label="What was wrong? (optional)", elem_id="rag-reason")
                comment = gr.Textbox(label="Tell us more (optional)", lines=1, max_lines=4, elem_id="rag-comment")
                send_reason = gr.Button("Send", size="sm", elem_id="rag-send-reason")
            with gr.Row(elem_id="rag-examples"):
                example_buttons = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLE_QUESTIONS]
            with gr.Row(visible=False, elem_id="rag-export") as export_row:
                markdown_file = gr.DownloadButton(
                    "Export conversation (Markdown)", size="sm", interactive=False, elem_id="rag-export-md"
                )
                json_file = gr.DownloadButton(
                    "Export conversation (JSON)", size="sm", interactive=False, elem_id="rag-export-json"
                )
                edit = gr.Button("\u270e Edit last question", size="sm", elem_id="rag-edit")
                retry = gr.Button("\u21bb Ask it again", size="sm", elem_id="rag-retry")
            gr.HTML("", elem_id="rag-history")  # the list of past conversations, drawn by PAGE_JS from localStorage
            settings = _settings_box()
        with gr.Column(scale=5, min_width=300):
            viewer = gr.HTML(placeholder_html("Click a [n] in an answer to read it here."), visible=False,
                             elem_id="rag-viewer")  # fmt: skip
            original = gr.DownloadButton("Open or download the original PDF", visible=False, size="sm",
                                         elem_id="rag-original")  # fmt: skip
            printed = gr.Image(visible=False, type="pil", format="png", interactive=False, show_label=True,
                               buttons=["fullscreen"], elem_id="rag-page-image")  # fmt: skip
    open_request = gr.Textbox(visible="hidden", elem_id="rag-open-request")
    copy_request = gr.Textbox(visible="hidden", elem_id="rag-copy-request")
    clip = gr.Textbox(visible="hidden", elem_id="rag-clip")
    restore = gr.Textbox(visible="hidden", elem_id="rag-restore")  # a kept conversation, sent by the page
    keep = gr.Textbox(visible="hidden", elem_id="rag-keep")  # the conversation for the page to keep
    choice = [documents, sources, settings.k, settings.threshold]
    inputs = [question, chatbot, answers, *choice]
    outputs = [question, chatbot, answers, viewer, export_row, markdown_file, json_file, status]
    events = [
        ask.click(on_ask, inputs, outputs, api_visibility="private"),
        question.submit(on_ask, inputs, outputs, api_visibility="private"),
        retry.click(on_retry_last, [chatbot, answers, *choice], outputs, api_visibility="private"),
    ]
    for button, text in zip(example_buttons, EXAMPLE_QUESTIONS, strict=True):
        events.append(
            button.click(
                lambda h, a, d, s, k, t, q=text: on_ask(q, h, a, d, s, k, t),
                [chatbot, answers, *choice],
                outputs,
                api_visibility="private",
            )
        )
    editing = edit.click(on_edit_last, answers, [question, chatbot, answers, status], api_visibility="private")
    shown = [opened, printed, original]
    editing.then(saved_answers, answers, keep, api_visibility="private").then(None, keep, js=SAVE_CONVERSATION)
    for event in events:
        event.then(None, js=SCROLL_TO_ANSWER).then(None, js=SCROLL_TO_MARK)
        # one request after an answer, not three: each is a round trip the next question waits behind
        event.then(on_answered, answers, [*shown, keep], api_visibility="private").then(
            None, keep, js=SAVE_CONVERSATION
        )
    restoring = restore.change(on_restore, restore, [chatbot, answers, viewer, export_row, markdown_file, json_file,
                                                     status], api_visibility="private")  # fmt: skip
    restoring.then(None, js=SCROLL_TO_ANSWER).then(None, js=SCROLL_TO_MARK)
    restoring.then(on_opened, [gr.State("open 0 1"), answers], shown, api_visibility="private")
    opening = open_request.change(on_open_request, [open_request, answers], viewer, api_visibility="private")
    opening.then(None, js=SCROLL_TO_MARK)
    opening.then(on_opened, [open_request, answers], shown, api_visibility="private")
    copy_request.change(on_copy_request, [copy_request, answers], clip, api_visibility="private").then(
        None, clip, js=COPY_TO_CLIPBOARD
    )
    feedback_outputs = [status, last_feedback, undo_row, reason_box]
    chatbot.like(on_feedback, [chatbot, answers], feedback_outputs, api_visibility="private")
    undo.click(None, js=UNDO_THUMB)
    undo_saved.click(on_undo_feedback, [answers, last_feedback], feedback_outputs, api_visibility="private")
    send_reason.click(on_feedback_reason, [answers, last_feedback, reason, comment], [status, reason_box, comment],
                      api_visibility="private")  # fmt: skip
    for changed in (restoring, editing):
        changed.then(on_hide_feedback, None, [last_feedback, undo_row, reason_box], api_visibility="private")
    clear_outputs = [chatbot, answers, viewer, export_row, status]
    for clearing in (clear.click, chatbot.clear):
        cleared = clearing(on_clear, None, clear_outputs, api_visibility="private")
        cleared.then(None, js=FORGET_CONVERSATION)
        cleared.then(lambda: on_opened("", []), None, shown, api_visibility="private")  # no page image left over
        cleared.then(on_hide_feedback, None, [last_feedback, undo_row, reason_box], api_visibility="private")
    kept_settings = _settings_events(settings, documents, sources)
    return AskTab(chatbot, answers, documents, sources, viewer, opened, printed, original, settings, kept_settings)


def _settings_events(settings: Settings, documents: gr.Dropdown, sources: gr.Dropdown) -> gr.BrowserState:
    saved = gr.BrowserState({}, storage_key=SETTINGS_KEY, secret=SETTINGS_SECRET)
    settings.save_set.click(on_save_set, [saved, settings.set_name, documents, sources],
                            [saved, settings.sets, settings.said], api_visibility="private")  # fmt: skip
    settings.sets.input(on_choose_set, [saved, settings.sets], [documents, sources], api_visibility="private")
    for slider in (settings.k, settings.threshold):
        slider.release(on_keep_settings, [saved, settings.k, settings.threshold], saved, api_visibility="private")
    return saved


def _filter_box(elem_id: str) -> tuple[gr.Dropdown, gr.Dropdown]:
    """The "Search in" choice of documents and sources; its heading says what is chosen."""
    with gr.Accordion(filter_label(None, None), open=False, elem_id=elem_id) as box:
        with gr.Row():
            documents = gr.Dropdown(
                label="Documents",
                choices=[],
                multiselect=True,
                value=[],
                info="Empty: every document",
                elem_id=f"{elem_id}-documents",
                scale=3,
            )
            sources = gr.Dropdown(
                label="Sources", choices=[], multiselect=True, value=[], elem_id=f"{elem_id}-sources", scale=2
            )
    for choice in (documents, sources):
        choice.change(on_filter_label, [documents, sources], box, api_visibility="private")
    return documents, sources


def _lookup_tab() -> tuple[gr.Dropdown, gr.Dropdown]:
    details = gr.State([])
    gr.Markdown("Paste a quote, a claim or a whole draft paragraph: each sentence is traced to its source.")
    documents, sources = _filter_box("rag-lookup-filter")
    text = gr.Textbox(
        label="Text to look up", lines=5, max_lines=14, placeholder="Paste text here", elem_id="rag-lookup-text"
    )
    with gr.Row():
        run = gr.Button("Find sources", variant="primary", elem_id="rag-lookup-run", scale=0, min_width=160)
        gr.Examples([[e] for e in EXAMPLE_LOOKUPS], inputs=[text], label="Examples")
    table = gr.Dataframe(
        headers=["#", "Input sentence", "Source sentence", "Match", "Score", "Document", "Source"],
        datatype=["number", "str", "str", "html", "str", "str", "str"],
        column_widths=["4%", "27%", "31%", "12%", "7%", "12%", "7%"],
        interactive=False,
        wrap=True,
        label="Sentences and their sources (select a row to see the passage)",
        elem_id="rag-lookup-table",
    )
    detail = gr.HTML(
        placeholder_html("Select a row to see its source sentence in its passage."), elem_id="rag-lookup-detail"
    )
    cards = gr.HTML("", elem_id="rag-lookup-cards")  # on a phone, instead of the table: one card per sentence
    with gr.Accordion("Export: Markdown footnotes and JSON", open=False):
        with gr.Row():
            markdown_file = gr.DownloadButton("Download Markdown", interactive=False, size="sm")
            json_file = gr.DownloadButton("Download JSON", interactive=False, size="sm")
        with gr.Row():
            # A Textbox, not a Code view: CodeMirror measured inside the closed accordion drew only some lines.
            markdown = gr.Textbox(
                label="Markdown footnotes",
                interactive=False,
                buttons=["copy"],
                lines=8,
                max_lines=20,
                elem_id="rag-lookup-md",
            )
            as_json = gr.Code(label="JSON", language="json", interactive=False, buttons=["copy"], max_lines=20)
    outputs = [table, details, detail, markdown, as_json, markdown_file, json_file]
    run.click(on_lookup, [text, documents, sources], outputs, api_visibility="private").then(
        lookup_cards_html, details, cards, api_visibility="private"
    )
    table.select(on_select_row, details, detail, api_visibility="private")
    return documents, sources


def _documents_tab(summary: gr.Markdown) -> tuple[gr.Dataframe, gr.State, list[Any]]:
    """The Documents tab; returns its table, the row ids, and the events that change the corpus."""
    doc_ids = gr.State([])
    selected = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=6):
            table = gr.Dataframe(
                headers=["Title", "Source", "Sentences", "Added (UTC)", "Encoding"],
                datatype=["str", "str", "number", "str", "str"],
                column_widths=["34%", "17%", "14%", "21%", "14%"],
                interactive=False,
                wrap=True,
                label="Documents (select one to read it)",
                elem_id="rag-documents",
            )
            delete = gr.Button(
                "Delete selected document\u2026",
                variant="secondary",
                interactive=False,
                size="sm",
                elem_id="rag-delete",
            )
            # A Column, not a Group: Gradio 6 writes a Group's elem_id on two elements (a duplicate id).
            with gr.Column(visible=False, elem_id="rag-confirm-box") as confirm_box:
                question = gr.HTML("", elem_id="rag-confirm-question")
                with gr.Row():
                    confirm = gr.Button("Delete it", variant="stop", size="sm", elem_id="rag-confirm")
                    cancel = gr.Button("Cancel", variant="secondary", size="sm", elem_id="rag-cancel")
            deleted = gr.HTML("", elem_id="rag-delete-message")
            # No file_types: Gradio would refuse other files in a toast that vanishes; the server refuses
            # them instead, each named with its reason in the upload summary.
            upload = gr.File(
                label=f"Add documents: drop files here to index them ({' '.join(SUPPORTED_SUFFIXES)}; "
                f"up to {MAX_UPLOAD_LABEL} each)",
                file_count="multiple",
                elem_id="rag-upload",
            )
            added = gr.HTML("", elem_id="rag-upload-summary")
        with gr.Column(scale=5):
            viewer = gr.HTML(placeholder_html("Select a document to read it."), elem_id="rag-document-view")
    refresh_outputs = [table, doc_ids, summary]
    hide_confirm = gr.update(visible=False)
    selecting = table.select(on_select_document, doc_ids, [viewer, selected, delete], api_visibility="private")
    selecting.then(lambda: ("", hide_confirm), None, [deleted, confirm_box], api_visibility="private")
    selecting.then(None, js=SHOW_DOCUMENT)  # on a phone the reader sits under the upload zone
    uploading = upload.upload(on_upload, upload, [upload, added, *refresh_outputs], api_visibility="private")
    uploading.then(lambda: "", None, deleted, api_visibility="private")
    uploading.then(None, js=SHOW_UPLOAD_SUMMARY)
    delete.click(on_ask_delete, selected, [question, confirm_box], api_visibility="private")
    cancel.click(lambda: ("", hide_confirm), None, [question, confirm_box], api_visibility="private")
    deleting = confirm.click(
        on_delete, selected, [deleted, *refresh_outputs, selected, viewer, confirm_box], api_visibility="private"
    )
    deleting.then(lambda: (gr.update(interactive=False), ""), None, [delete, added], api_visibility="private")
    return table, doc_ids, [uploading, deleting]


def build_demo() -> gr.Blocks:
    """The app's layout and events; it reads the index from ``app_documents.STATE`` at each request."""
    # delete_cache: Gradio's copies of downloads and uploads go after a day (checked hourly).
    with gr.Blocks(title="rag \u2014 cited answers", analytics_enabled=False, delete_cache=(3600, 86400)) as app:
        with gr.Row(elem_id="rag-header"):
            gr.Markdown(INTRO, elem_id="rag-intro")
            theme = gr.Button("\u25d0 Dark / light", size="sm", scale=0, min_width=120, elem_id="rag-theme")
        summary = gr.Markdown("", elem_id="rag-summary")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask") as ask_tab:
                asking = _ask_tab()
            with gr.Tab("Lookup", id="lookup"):
                looking = _lookup_tab()
            with gr.Tab("Documents", id="documents") as documents_tab:
                table, doc_ids, changed = _documents_tab(summary)
        theme.click(None, js=TOGGLE_THEME)
        app.load(None, js=PAGE_JS)
        kept = [asking.settings.k, asking.settings.threshold, asking.settings.sets]
        app.load(on_load_settings, asking.kept_settings, kept, api_visibility="private")
        app.load(on_refresh_documents, None, [table, doc_ids, summary], api_visibility="private")
        choices = ([asking.documents, asking.sources], [asking.documents, asking.sources])
        app.load(on_filter_choices, *choices, api_visibility="private")
        app.load(on_filter_choices, list(looking), list(looking), api_visibility="private")
        documents_tab.select(on_refresh_documents, None, [table, doc_ids, summary], api_visibility="private")
        for event in changed:
            event.then(on_filter_choices, list(looking), list(looking), api_visibility="private")
            event.then(on_filter_choices, *choices, api_visibility="private").then(
                on_mark_stale, [asking.chatbot, asking.answers], asking.chatbot, api_visibility="private"
            ).then(on_reopen, asking.opened, asking.viewer, api_visibility="private").then(
                on_page_image, asking.opened, [asking.printed, asking.original], api_visibility="private"
            )
        ask_tab.select(on_mark_stale, [asking.chatbot, asking.answers], asking.chatbot, api_visibility="private")
        gr.api(ask_api, api_name="ask")
        gr.api(lookup_api, api_name="lookup")
        gr.api(ask_question_api, api_name="ask_question")
        gr.api(lookup_text_api, api_name="lookup_text")
        gr.api(ask_where_api, api_name="ask_where")
        gr.api(lookup_where_api, api_name="lookup_where")
    return app
