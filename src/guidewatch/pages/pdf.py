"""A cited PDF read into the same `Page` as a web page: heading-tree blocks plus metadata.

Text comes from pdfminer.six rather than pypdf. Measured on the PDFs the tests generate
(fpdf2): both get every word right; pypdf is about ten times faster (3 pages: 13 ms against
80 ms; 75 pages: 1.5 s against 15 s on a loaded 2-core machine), but its text is lines only,
while pdfminer.six's layout analysis gives each line's font size and position and groups
lines into paragraphs (text boxes), columns kept apart. Those are what a heading tree needs
when a PDF has no outline, and what keeps a paragraph one block whatever its line breaks, so
a re-export is not a change. A crawl parses pages in its own process (`pages.parse`);
its default hierarchical box grouping stays on (`boxes_flow=None` saves a third of the time
but reads two-column pages across the columns).

Headings: the PDF's outline (bookmarks) where it has one, else lines in a font larger than
the body text (larger sizes are higher levels), else one heading over the
paragraphs (its first line). Page furniture (page numbers, running headers and footers) is dropped, and a
paragraph broken by a page end is joined again, so re-pagination is not a change.

The document's own dates (CreationDate/ModDate, "Published"/"Updated"/"Last updated" lines)
become metadata, never diffed text: a cosmetic re-export changes ModDate and the producer,
not the guidance. A PDF that cannot be read (truncated, encrypted, not a PDF after all, no
text at all) is a Page with no blocks and `metadata["unreadable"]` saying why, which
`app.decision.screen_page` turns into a failed check, never a content change.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from guidewatch.model import Page
from guidewatch.pages.blocks import _finish, _Raw
from guidewatch.pages.fold import fold_text
from guidewatch.pages.ignore import IgnoreRules
from guidewatch.pages.metadata import _fill_public_updated, parse_date
from guidewatch.sources.profiles import DATE_REGEX, Profile

if TYPE_CHECKING:  # pdfminer (and the cryptography it loads, ~11 MB) is imported when a PDF arrives
    from pdfminer.pdfdocument import PDFDocument

PDF = "application/pdf"
#: A line this much larger than the body text is a heading (when the PDF has no outline).
HEADING_RATIO = 1.15
#: Longer "headings" are large-print paragraphs, not headings.
HEADING_MAX_CHARS = 200
#: Lines closer than this (in line heights) are one paragraph. pdfminer's 0.5 splits text set
#: at 1.5 line spacing into one paragraph a line; a paragraph gap is a line height or more.
LINE_MARGIN = 0.7
#: Running headers and footers are no longer than this.
FURNITURE_MAX_CHARS = 80

# pdfminer logs every odd object at WARNING; a crawl reports what matters as the page's verdict
logging.getLogger("pdfminer").setLevel(logging.ERROR)

_DATES = (  # the document's own dates in its text: metadata, and taken out of the diffed text
    ("first_published_at", re.compile(r"(?i)(?:first\s+)?published(?:\s+on)?\s*:?\s*" + DATE_REGEX)),
    ("public_updated_at", re.compile(r"(?i)(?:last\s+)?updated(?:\s+on)?\s*:?\s*" + DATE_REGEX)),
)
_DATE_SEPARATOR = re.compile(r"^[\s.,;|\u2013\u2014-]+")
_BULLET = re.compile(r"^[\u2022\u25aa\u25e6\u25cf\u2023\u2043\u2013\u2014*\-\u2219\u00b7]\s+")
_PAGE_NUMBER = re.compile(r"(?i)^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$")
_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?")


class Unreadable(Exception):
    """The body is not a PDF that can be read; the message says why, in one line."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient


@dataclass(frozen=True)
class _Line:
    """One line of text as laid out: its page, text box (paragraph), font size and text;
    `edge`: the top or bottom line of its page, where running headers and footers sit."""

    page: int
    box: int
    size: float
    text: str
    edge: bool = False


def from_pdf(body: bytes, url: str, profile: Profile, rules: IgnoreRules) -> Page:
    """The PDF as heading-tree blocks plus its dates; an unreadable one as a Page saying why."""
    try:
        title, info, outline, lines = _read(body)
    except Unreadable as exc:
        return from_pdf_failure(url, profile, exc)
    metadata = {"content_type": PDF, **info}
    raw = _take_dates(_raw_blocks(lines, outline), metadata)
    _fill_public_updated(metadata)
    blocks = _finish(raw, profile, rules)
    if not blocks:
        return from_pdf_failure(url, profile, Unreadable("PDF has no text but page furniture: nothing to compare"))
    if not title:
        title = next((b.text for b in blocks if b.kind == "heading"), "")
    return Page(url=url, profile=profile.name, title=title, blocks=blocks, metadata=metadata)


def from_pdf_failure(url: str, profile: Profile, exc: Unreadable) -> Page:
    """No blocks, and why: `screen_page` makes it a failed check."""
    meta = {"content_type": PDF, "unreadable": str(exc)}
    if exc.transient:
        meta["unreadable_transient"] = "1"
    return Page(url=url, profile=profile.name, title="", blocks=[], metadata=meta)


def _read(body: bytes) -> tuple[str, dict[str, str], dict[str, int], list[_Line]]:
    """Title, dated document properties, outline (folded title -> level) and laid-out lines."""
    if b"%%EOF" not in body[-2048:]:  # a cut download still parses in part: never diff half a PDF
        raise Unreadable("truncated PDF: no %%EOF at the end", transient=True)
    from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFParser

    try:
        doc = PDFDocument(PDFParser(io.BytesIO(body)))
        info = doc.info[0] if doc.info else {}
        outline = _outline(doc)
        lines = list(_lines(doc))
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise Unreadable(f"encrypted PDF: cannot be read without a password ({type(exc).__name__})") from None
    except Exception as exc:  # pdfminer raises PSException, and anything else on odd objects: never a change
        detail = str(exc)[:120] or type(exc).__name__
        raise Unreadable(f"not a readable PDF: {detail}") from None
    if not lines:
        raise Unreadable("PDF has no text (a scanned image?): nothing to compare")
    return _prop(info, "Title"), _dates(info), outline, lines


def _prop(info: dict[str, object], key: str) -> str:
    value = info.get(key)
    if isinstance(value, bytes):
        from pdfminer.utils import decode_text

        return fold_text(decode_text(value))
    return fold_text(value) if isinstance(value, str) else ""


def _dates(info: dict[str, object]) -> dict[str, str]:
    """CreationDate/ModDate as pdf_created / pdf_modified (yyyy-mm-dd)."""
    out: dict[str, str] = {}
    for key, name in (("CreationDate", "pdf_created"), ("ModDate", "pdf_modified")):
        m = _PDF_DATE.match(_prop(info, key))
        if m:
            out[name] = f"{m.group(1)}-{m.group(2) or '01'}-{m.group(3) or '01'}"
    return out


def _outline(doc: PDFDocument) -> dict[str, int]:
    """The bookmarks' titles (folded) and levels; none when the PDF has no outline."""
    found: dict[str, int] = {}
    try:
        for level, title, *_ in doc.get_outlines():
            text = fold_text(title) if isinstance(title, str) else ""
            if text and text not in found:
                found[text] = max(1, int(level))
    except Exception:  # no /Outlines (PDFNoOutlines) or a broken one: headings from font sizes
        return {}
    return found


def _lines(doc: PDFDocument) -> Iterator[_Line]:
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams, LTChar, LTPage, LTTextBox, LTTextLine
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage

    manager = PDFResourceManager()
    device = PDFPageAggregator(manager, laparams=LAParams(line_margin=LINE_MARGIN))
    interpreter = PDFPageInterpreter(manager, device)
    box = 0
    for number, page in enumerate(PDFPage.create_pages(doc)):
        interpreter.process_page(page)
        layout: LTPage = device.get_result()
        found: list[tuple[float, _Line]] = []
        for element in layout:
            if not isinstance(element, LTTextBox):
                continue
            box += 1
            for line in element:
                if isinstance(line, LTTextLine):
                    sizes = [c.size for c in line if isinstance(c, LTChar) and c.get_text().strip()]
                    text = fold_text(line.get_text())
                    if text and sizes:
                        size = round(Counter(sizes).most_common(1)[0][0], 1)
                        found.append((line.y0, _Line(number, box, size, text)))
        if found:
            top, bottom = max(y for y, _ in found), min(y for y, _ in found)
            for y, line in found:
                yield replace(line, edge=abs(y - top) < 1 or abs(y - bottom) < 1)


def _raw_blocks(lines: list[_Line], outline: dict[str, int]) -> list[_Raw]:
    """Lines to heading and paragraph blocks: runs of lines in one text box of one kind."""
    lines = _without_furniture(lines)
    texts = {line.text for line in lines}
    if sum(title in texts for title in outline) * 2 < len(outline):  # bookmarks that are not headings
        outline = {}
    levels = _heading_levels(lines) if not outline else {}
    raw: list[_Raw] = []
    run: list[_Line] = []

    def flush() -> None:
        if run:
            raw.append(_block(run, outline, levels))
            run.clear()

    for line in lines:
        if run and (line.box != run[-1].box or _level(line, outline, levels) != _level(run[-1], outline, levels)):
            flush()
        run.append(line)
    flush()
    raw = _join_across_pages(raw)
    if raw and not any(kind == "heading" for kind, _, _ in raw):  # one heading over the paragraphs
        # the first line, not the Title property: a re-export may change that, never the text
        raw = [("heading", raw[0][1], 1), *raw[1:]]
    return raw


def _level(line: _Line, outline: dict[str, int], levels: dict[float, int]) -> int:
    return outline.get(line.text, 0) if outline else levels.get(line.size, 0)


def _block(run: list[_Line], outline: dict[str, int], levels: dict[float, int]) -> _Raw:
    text = _join(run)
    level = _level(run[0], outline, levels)
    if level:
        return ("heading", text, level)
    m = _BULLET.match(text)
    return ("li", text[m.end():], 0) if m else ("p", text, 0)


def _join(run: list[_Line]) -> str:
    """Lines of one paragraph as one string; a word hyphenated at a line end is whole again."""
    text = run[0].text
    for line in run[1:]:
        if text.endswith("-") and text[-2:-1].isalpha() and line.text[:1].islower():
            text = text[:-1] + line.text
        else:
            text = f"{text} {line.text}"
    return text


def _heading_levels(lines: list[_Line]) -> dict[float, int]:
    """Font sizes larger than the body text's (the size most characters are in), largest = level 1."""
    weight: Counter[float] = Counter()
    for line in lines:
        weight[line.size] += len(line.text)
    if not weight:
        return {}
    body = weight.most_common(1)[0][0]
    short = {line.size for line in lines if len(line.text) <= HEADING_MAX_CHARS}
    larger = sorted((s for s in weight if s >= body * HEADING_RATIO and s in short), reverse=True)
    return {size: i + 1 for i, size in enumerate(larger[:6])}


def _furniture_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower())


def _without_furniture(lines: list[_Line]) -> list[_Line]:
    """Page numbers and running headers/footers (the same top or bottom line, numbers aside,
    on most pages) taken out."""
    pages = len({line.page for line in lines})
    on_pages: dict[str, set[int]] = {}
    for line in lines:
        if _is_furniture_like(line):
            on_pages.setdefault(_furniture_key(line.text), set()).add(line.page)
    repeated = {key for key, seen in on_pages.items() if pages >= 2 and len(seen) > pages / 2}
    return [line for line in lines if not _PAGE_NUMBER.match(line.text)
            and not (_is_furniture_like(line) and _furniture_key(line.text) in repeated)]


def _is_furniture_like(line: _Line) -> bool:
    """A short top or bottom line: a running header or footer ("Guidance on ATMPs - page 3")
    is short; body text that happens to start each page ("Trial note 5: ...") is longer."""
    return line.edge and len(line.text) <= FURNITURE_MAX_CHARS


def _join_across_pages(raw: list[_Raw]) -> list[_Raw]:
    """A paragraph that runs on over a page end (or a text box) is one block: it ends
    mid-sentence and the next starts in lower case. The text decides, not positions, which
    change with every re-pagination."""
    out: list[_Raw] = []
    for kind, text, level in raw:
        if out and kind == "p" and out[-1][0] in ("p", "li") and text[:1].islower() \
                and not out[-1][1].rstrip().endswith((".", ":", ";", "!", "?")):
            prev_kind, prev_text, prev_level = out.pop()
            out.append((prev_kind, f"{prev_text} {text}", prev_level))
        else:
            out.append((kind, text, level))
    return out


def _take_dates(raw: list[_Raw], metadata: dict[str, str]) -> list[_Raw]:
    """"Published"/"Updated" dates that open a block go into metadata (the first of each) and
    out of the text; the same words inside a sentence ("the list was updated on ...") stay."""
    out: list[_Raw] = []
    for kind, text, level in raw:
        text = fold_text(text)
        while found := _leading_date(text):
            key, m = found
            shown = parse_date(m.group("date"))
            if shown and key not in metadata:
                metadata[key] = shown
            text = _DATE_SEPARATOR.sub("", text[m.end():])
        if text:
            out.append((kind, text, level))
    return out


def _leading_date(text: str) -> tuple[str, re.Match[str]] | None:
    for key, pattern in _DATES:
        m = pattern.match(text)
        if m:
            return key, m
    return None
