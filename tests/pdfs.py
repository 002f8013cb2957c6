"""PDFs the tests write themselves (fpdf2), and a cosmetic re-export of one (pypdf's writer).

`guidance_pdf` lays out a short MHRA-style guidance document: a title, "Published" and
"Last updated" lines, sections with paragraphs and bullets, a page number in every footer
and enough filler to run over several pages. Options switch the outline (bookmarks) off,
make every heading the body size (nothing to tell headings by) or encrypt the file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

HE_V1 = "Unlicensed ATMPs may be used under hospital exemption for an individual patient under strict conditions."
HE_V2 = "Unlicensed ATMPs must not be used under hospital exemption without notifying the MHRA first."


class _Doc(FPDF):
    def footer(self) -> None:  # page furniture: a running footer and the page number
        self.set_y(-15)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 10, f"MHRA guidance - Page {self.page_no()}", align="C")


def guidance_pdf(he: str = HE_V1, *, outline: bool = True, heading_sizes: bool = True, filler: int = 30,
                 updated: str = "3 May 2025", created: datetime | None = None,
                 user_password: str | None = None, owner_password: str | None = None,
                 extra: Sequence[str] = ()) -> bytes:
    """A guidance PDF; `he` is the hospital-exemption paragraph (the text a test edits)."""
    pdf = _Doc()
    pdf.set_creation_date(created or datetime(2024, 3, 12, 9, 30, tzinfo=UTC))
    pdf.set_title("Advanced therapy medicinal products")
    pdf.set_producer("fpdf2 test writer")
    if owner_password is not None:
        pdf.set_encryption(owner_password=owner_password, user_password=user_password)
    pdf.add_page()

    def heading(text: str, size: int, level: int) -> None:
        pdf.set_font("Helvetica", "B" if heading_sizes else "", size if heading_sizes else 11)
        if outline:
            pdf.start_section(text, level)
        pdf.multi_cell(0, size * 0.55, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)

    def para(text: str) -> None:
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)

    heading("Advanced therapy medicinal products", 20, 0)
    para("Published 12 March 2024")
    para(f"Last updated {updated}")
    heading("Hospital exemption", 15, 1)
    para(he + " The exemption covers a custom-made product prepared on a non-routine basis in a hospital.")
    para("- the product is prescribed by a doctor for one patient")
    para("- the hospital holds a manufacturing licence")
    heading("Clinical trials", 15, 1)
    for i in range(filler):
        para(f"Trial note {i}: a clinical trial of an ATMP needs approval before the first patient is dosed.")
    for text in extra:
        para(text)
    heading("Reporting side effects", 15, 1)
    para("Report suspected side effects of any medicine to the Yellow Card scheme.")
    return bytes(pdf.output())


def re_export(body: bytes, *, producer: str = "Acrobat PDFMaker 24", modified: str = "D:20251101120000Z",
              title: str | None = None, outline: bool = True) -> bytes:
    """The same document written again by another program: new producer and ModDate (and
    `title`), objects renumbered (the pages now come after the catalogue's own objects),
    content streams recompressed; `outline=False` drops the bookmarks as some exporters do."""
    original = PdfReader(io.BytesIO(body))
    writer = PdfWriter()
    meta = {k: v for k, v in (original.metadata or {}).items() if k in ("/Title", "/CreationDate")}
    meta |= {"/Producer": producer, "/ModDate": modified}
    if title is not None:
        meta["/Title"] = title
    writer.add_metadata(meta)
    writer.append(original, import_outline=outline)
    for page in writer.pages:
        page.compress_content_streams(level=1)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def image_only_pdf() -> bytes:
    """A "scanned" page: drawn shapes, no text at all."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_fill_color(200, 200, 200)
    for i in range(10):
        pdf.rect(20, 20 + i * 20, 170, 12, style="F")
    return bytes(pdf.output())
