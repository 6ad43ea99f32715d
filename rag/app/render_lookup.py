"""How lookups look on the app's page: the table of sentences and their sources, each row's detail
(an altered claim beside its source, the words that differ marked), the cards a phone shows, and
the Markdown footnotes and JSON to export. Every piece of text escaped (``rag.app.render``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rag import Citation, Index, Match
from rag.app.render import highlight_html, html_text, markdown_export_text, placeholder_html
from rag.export import where as citation_place

KIND_BADGES = {
    "exact": "\u2714 exact",
    "near-exact": "\u2248 near-exact",
    "paraphrase": "~ paraphrase",
    "altered": "\u26a0 altered",
    "unsupported": "\u2717 unsupported",
}

# --- lookup ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LookupView:
    """Everything the Lookup tab shows for one text."""

    rows: list[list[Any]]
    details: list[str]
    markdown: str
    json: str
    matches: list[Match] = field(default_factory=list)


def kind_badge(kind: str) -> str:
    return f'<span class="rag-kind rag-kind-{html_text(kind)}">{html_text(KIND_BADGES.get(kind, kind))}</span>'


def lookup_rows(matches: Sequence[Match]) -> list[list[Any]]:
    """One table row per input sentence: #, input, matched source sentence, kind badge, score, document, source."""
    rows = []
    for number, match in enumerate(matches, start=1):
        cited = match.citation
        rows.append(
            [
                number,
                match.query,
                cited.text if cited else "",
                kind_badge(match.kind),
                f"{match.score:.2f}",
                cited.title if cited else "",
                cited.source if cited else "",
            ]
        )
    return rows


def passage_html(citation: Citation, label: str, score: float | None = None) -> str:
    """A citation's passage with its sentence highlighted, under a line saying where it is (and ``score``,
    by default the citation's own; a lookup row passes its match's, so the table and the detail agree)."""
    if citation.context:
        inner = citation.start - citation.context_start
        passage = highlight_html(citation.context, inner, inner + len(citation.text))
    else:
        passage = highlight_html(citation.text, 0, len(citation.text))
    meta = (
        f"{html_text(label)} \u00b7 <b>{html_text(citation.title)}</b>"
        + (f" \u00b7 {html_text(citation.source)}" if citation.source else "")
        + f" \u00b7 <code>{html_text(citation_place(citation))}</code> \u00b7 score "
        + f"{citation.score if score is None else score:.2f}"
    )
    return f'<div class="rag-card"><div class="rag-meta">{meta}</div><div class="rag-passage">{passage}</div></div>'


def marks_html(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """HTML of ``text`` with each span of ``spans`` in a <mark class="rag-diff">; every piece escaped.

    Empty spans mark nothing; overlapping spans are joined.
    """
    pieces, at = [], 0
    for start, end in sorted((max(0, a), min(len(text), b)) for a, b in spans if b > a):
        if end <= at:
            continue
        start = max(start, at)
        pieces.append(html_text(text[at:start]))
        pieces.append(f'<mark class="rag-diff">{html_text(text[start:end])}</mark>')
        at = end
    pieces.append(html_text(text[at:]))
    return "".join(pieces)


def altered_html(match: Match) -> str:
    """An altered claim beside its source sentence, the words where they differ marked on both sides."""
    cited = match.citation
    if cited is None:  # lookup gives every altered match the source it differs from (match_detail_html checks)
        raise ValueError(f"an altered match has no source sentence: {match.query!r}")
    claim = marks_html(match.query, [(d.claim_start - match.query_start, d.claim_end - match.query_start)
                                     for d in match.differences])  # fmt: skip
    source = marks_html(
        cited.text, [(d.source_start - cited.start, d.source_end - cited.start) for d in match.differences]
    )
    rows = "".join(
        f"<li><b>{html_text(d.kind)}</b> ({html_text(d.change)}): the claim says "
        f"{'&ldquo;' + html_text(d.claim_text) + '&rdquo;' if d.claim_text else 'nothing'}, the source says "
        f"{'&ldquo;' + html_text(d.source_text) + '&rdquo;' if d.source_text else 'nothing'}</li>"
        for d in match.differences
    )
    meta = (
        f"<b>{html_text(cited.title)}</b>" + (f" \u00b7 {html_text(cited.source)}" if cited.source else "")
        + f" \u00b7 <code>{html_text(citation_place(cited))}</code> \u00b7 score {match.score:.2f}"
    )  # fmt: skip
    return (
        f'<div class="rag-card rag-reason"><b>Why ({html_text(match.verdict)}):</b> {html_text(match.reason)}'
        f'<ul class="rag-summary">{rows}</ul></div>'
        f'<div class="rag-side"><div class="rag-card"><div class="rag-meta">The claim</div>'
        f'<div class="rag-passage">{claim}</div></div>'
        f'<div class="rag-card"><div class="rag-meta">The source \u00b7 {meta}</div>'
        f'<div class="rag-passage">{source}</div></div></div>'
    )


def match_detail_html(match: Match) -> str:
    """What a selected lookup row shows: the source sentence highlighted in its passage; for an
    altered claim, the claim and the source side by side with their differing words marked."""
    heading = f'<div class="rag-query">{kind_badge(match.kind)} \u201c{html_text(match.query)}\u201d</div>'
    if match.kind == "altered" and match.citation is not None:
        return heading + altered_html(match) + passage_html(match.citation, "The source in its passage", match.score)
    if match.citation is not None:
        return heading + passage_html(match.citation, match.kind, match.score)  # the score is on the passage's line
    if match.nearest is not None:
        return heading + passage_html(match.nearest, "Nearest sentence \u2014 NOT a match")
    return heading + placeholder_html("No source sentence comes close.")


def matches_markdown(text: str, matches: Sequence[Match]) -> str:
    """The looked-up text with a Markdown footnote after each sentence saying where it comes from."""
    body, notes, position = [], [], 0
    for number, match in enumerate(matches, start=1):
        body.append(text[position : match.query_end])
        body.append(f"[^{number}]")
        position = match.query_end
        cited = match.citation
        if cited is None and match.nearest is not None:
            near = match.nearest
            notes.append(
                f"[^{number}]: Unsupported (score {match.score:.2f}): the nearest source sentence, "
                f"\u201c{markdown_export_text(near.text)}\u201d \u2014 *{markdown_export_text(near.title)}*, "
                f"{markdown_export_text(citation_place(near))}, does not support it."
            )
            continue
        if cited is None:
            notes.append(f"[^{number}]: Unsupported: no source sentence comes close (best score {match.score:.2f}).")
            continue
        source = f", {markdown_export_text(cited.source)}" if cited.source else ""
        said = (
            f"Altered, {match.verdict}: {_differences_markdown(match)}; source"
            if match.kind == "altered"
            else match.kind.capitalize()
        )
        notes.append(
            f"[^{number}]: {said} (score {match.score:.2f}): "
            f"\u201c{markdown_export_text(cited.text)}\u201d \u2014 *{markdown_export_text(cited.title)}*{source}, "
            f"{markdown_export_text(citation_place(cited))}."
        )
    body.append(text[position:])
    return "".join(body).strip() + "\n\n" + "\n".join(notes) + "\n"


def _differences_markdown(match: Match) -> str:
    """The differences of an altered match in words: "the source says $40 billion, not $90 billion"."""
    parts = []
    for d in match.differences:
        if d.kind == "context":
            parts.append(f"quoted out of context, the source says *{markdown_export_text(d.source_text)}* \u2026")
        elif d.claim_text and d.source_text:
            parts.append(
                f"the source says {markdown_export_text(d.source_text)}, not {markdown_export_text(d.claim_text)}"
            )
        elif d.claim_text:
            parts.append(f"the source does not say \u201c{markdown_export_text(d.claim_text)}\u201d ({d.kind})")
        else:
            parts.append(f"the source says \u201c{markdown_export_text(d.source_text)}\u201d ({d.kind})")
    return "; ".join(parts)


def matches_json(matches: Sequence[Match]) -> str:
    return json.dumps([asdict(m) for m in matches], indent=2, ensure_ascii=False)


def lookup_view(index: Index, text: str, where: dict[str, Any] | None = None) -> LookupView:
    """Look ``text`` up (in the documents ``where`` chooses) and build the table, the row details and both exports."""
    matches = index.lookup(text, where=where)
    return LookupView(
        rows=lookup_rows(matches),
        details=[match_detail_html(m) for m in matches],
        markdown=matches_markdown(text, matches),
        json=matches_json(matches),
        matches=list(matches),
    )


def lookup_cards_html(details: Sequence[str]) -> str:
    """Every looked-up sentence as a numbered card (its kind, source sentence and passage), stacked:
    what a phone shows instead of the table, whose columns a narrow screen cannot hold."""
    return "".join(
        f'<div class="rag-lookup-card"><div class="rag-meta">Sentence {n}</div>{detail}</div>'
        for n, detail in enumerate(details, start=1)
    )
