"""What a reader found in a file (text, title, source, url, date), front matter and the fields' clean-up."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

_MAX_FIELD_CHARS = 300
_MAX_FRONT_MATTER_LINES = 60


@dataclass(frozen=True, slots=True)
class Extracted:
    """What a format reader found in one file, before it becomes a Document."""

    text: str
    title: str = ""
    source: str = ""
    url: str = ""
    date: str = ""
    pages: tuple[int, ...] = ()
    encoding: str = ""  # the text encoding a text format was read in; "" for PDF and DOCX
    author: str = ""


_FRONT_MATTER_FIELD = re.compile(r"([A-Za-z_][\w-]*)\s*:\s*(.*)")
_DOMAIN = r"(?:www\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
_SOURCE_LABEL = r"(?:sources?|references?|reference\(s\))\s*:"
_SOURCE_DOMAIN = re.compile(_DOMAIN, re.I)
_SOURCE_LABEL_LINE = re.compile(_SOURCE_LABEL, re.I)
_SOURCE_ONE_LINE = re.compile(rf"{_SOURCE_LABEL}\s*({_DOMAIN})", re.I)


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """The ``key: value`` fields of a leading ``---`` block, and the text after it.

    Text without a well-formed block (closing line, only ``key: value`` lines) comes back whole.
    """
    if not text.startswith("---\n"):
        return {}, text
    lines = text.split("\n", _MAX_FRONT_MATTER_LINES + 1)
    for index in range(1, min(len(lines), _MAX_FRONT_MATTER_LINES + 1)):
        if lines[index].rstrip() in ("---", "..."):
            fields = _parse_front_matter(lines[1:index])
            if fields is None:
                break
            return fields, "\n".join(lines[index + 1 :]).lstrip("\n")
    return {}, text


def _parse_front_matter(lines: list[str]) -> dict[str, str] | None:
    fields: dict[str, str] = {}
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#") or line[0] in " \t-":
            continue  # blank, comment, or a nested YAML value we have no use for
        match = _FRONT_MATTER_FIELD.fullmatch(line.strip())
        if match is None:
            return None
        fields.setdefault(match[1].lower(), _unquote(match[2].strip()))
    return fields


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def trailing_source(text: str) -> str:
    """A bare domain on the last line, after a "Reference(s):" or "Source:" label, else ""."""
    lines = [line.strip() for line in text[-2000:].split("\n") if line.strip()]
    if not lines:
        return ""
    one_line = _SOURCE_ONE_LINE.fullmatch(lines[-1])
    if one_line:
        return one_line[1]
    if len(lines) >= 2 and _SOURCE_DOMAIN.fullmatch(lines[-1]) and _SOURCE_LABEL_LINE.fullmatch(lines[-2]):
        return lines[-1]
    return ""


def with_fields(text: str, fields: dict[str, str], title: str = "") -> Extracted:
    """An extraction whose metadata comes from front matter, falling back to ``title`` and the text."""
    return Extracted(
        text=text,
        title=clean_field(fields.get("title", "")) or title,
        source=clean_field(fields.get("source", "")) or trailing_source(text),
        url=clean_field(fields.get("url", "")),
        date=clean_field(fields.get("date", "")),
    )


def clean_field(value: str) -> str:
    return " ".join(value.split())[:_MAX_FIELD_CHARS]


def safe_url(url: str) -> str:
    """``url`` when it is an http(s) address; anything else (javascript:, file:) is dropped."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


def title_from_name(path: Path) -> str:
    """A title made from the file name: "seed-article.txt" -> "Seed article"."""
    words = " ".join(re.split(r"[-_\s]+", path.stem)).strip()
    return words[:1].upper() + words[1:] if words else path.name


def as_one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"
