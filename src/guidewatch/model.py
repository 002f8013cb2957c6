"""Plain typed values passed from stage to stage.

Every stage of the flow (parse -> fetch -> normalise -> diff -> link -> alerts) takes and
returns these dataclasses. The store converts its ORM rows into them, so no ORM object
ever leaks out of `store.py`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

# --- guides -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One section of a guide, named by the GitHub-style slug of its heading."""

    guide: str  # guide slug
    id: str  # section slug ("introduction" for text before the first heading)
    heading: str
    level: int  # 1 = top-level section, 2 = sub-section (FAQ entries), 0 = introduction
    path: tuple[str, ...]  # headings from the top section down to this one
    own_text: str  # this section's text without its sub-sections
    text: str  # own text plus the text of all sub-sections
    order: int
    parent: str | None = None


@dataclass(frozen=True)
class Citation:
    """A link in a guide. External links are monitored; internal ones are just recorded."""

    guide: str
    section: str
    url: str  # absolute URL (internal links resolved against the guide's base URL)
    text: str  # link text
    internal: bool = False


@dataclass(frozen=True)
class Mention:
    """A named body (MHRA, NICE, ...) referred to without a link."""

    guide: str
    section: str
    body: str


@dataclass
class Guide:
    slug: str
    title: str
    source: str  # path or URL it was read from
    format: Literal["md", "html", "txt"]
    sections: list[Section]
    citations: list[Citation] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    editors: tuple[str, ...] = ()

    def section(self, section_id: str) -> Section:
        for s in self.sections:
            if s.id == section_id:
                return s
        raise KeyError(section_id)

    @property
    def external_citations(self) -> list[Citation]:
        return [c for c in self.citations if not c.internal]


# --- fetching and normalised pages --------------------------------------------------------

BlockKind = Literal["heading", "p", "li", "tr", "text"]


@dataclass(frozen=True)
class Block:
    """One unit of main-content text: a heading, paragraph, list item or table row."""

    path: tuple[str, ...]  # heading path the block sits under (a heading includes itself)
    kind: BlockKind
    text: str
    level: int = 0  # heading level for kind == "heading"


@dataclass
class Page:
    """A normalised page: the text that is diffed, and metadata that never is."""

    url: str
    profile: str
    title: str
    blocks: list[Block]
    metadata: dict[str, str] = field(default_factory=dict)
    # metadata keys used across stages: public_updated_at, first_published_at, change_note,
    # change_note_at, last_reviewed, next_review_due, withdrawn_at, withdrawn_explanation,
    # soft_404 ("1"), content_type; a PDF's pdf_created, pdf_modified, or unreadable (why it cannot be
    # read: no blocks, a failed check) and unreadable_transient ("1")

    def text(self) -> str:
        """Canonical serialisation: the same content always gives the same text."""
        return serialise_blocks(self.blocks)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text().encode("utf-8")).hexdigest()


def serialise_blocks(blocks: list[Block]) -> str:
    lines: list[str] = []
    for b in blocks:
        if b.kind == "heading":
            lines.append("#" * max(1, b.level) + " " + b.text)
        elif b.kind == "li":
            lines.append("- " + b.text)
        elif b.kind == "tr":
            lines.append("| " + b.text)
        else:
            lines.append(b.text)
    return "\n".join(lines) + ("\n" if lines else "")


def parse_blocks(text: str) -> list[Block]:
    """Inverse of `serialise_blocks`, so stored snapshot text can be diffed again."""
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            hashes = len(line) - len(line.lstrip("#"))
            if line[hashes : hashes + 1] == " ":
                heading = line[hashes + 1 :]
                while stack and stack[-1][0] >= hashes:
                    stack.pop()
                stack.append((hashes, heading))
                blocks.append(Block(tuple(h for _, h in stack), "heading", heading, hashes))
                continue
        path = tuple(h for _, h in stack)
        if line.startswith("- "):
            blocks.append(Block(path, "li", line[2:]))
        elif line.startswith("| "):
            blocks.append(Block(path, "tr", line[2:]))
        else:
            blocks.append(Block(path, "p", line))
    return blocks


@dataclass(frozen=True, slots=True)  # a crawl of 10,000 sources holds 10,000 in each process
class FetchRequest:
    url: str
    profile: str
    etag: str | None = None
    last_modified: str | None = None
    api_url: str | None = None  # structured endpoint (GOV.UK Content API, NHS website content API)
    allowed_hosts: tuple[str, ...] = ()  # redirects elsewhere are not followed (empty: the URL's own host)
    # The API key travels as the NAME of an environment variable the crawl child reads, never as the key itself.
    api_key_env: str | None = None
    api_key_header: str | None = None


FetchStatus = Literal["ok", "not_modified", "gone", "soft_404", "failed", "blocked"]


@dataclass
class FetchOutcome:
    """What the spider saw for one source; raw, before normalisation."""

    url: str  # the cited URL
    status: FetchStatus
    http_status: int | None = None
    final_url: str | None = None  # after redirects
    redirects: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # etag, last-modified, content-type, ...
    body: bytes = b""
    via_api: bool = False  # body is API JSON (GOV.UK Content API, NHS website content API)
    error: str | None = None  # why a fetch failed (timeout, reset, 503 after retries, ...)
    transient: bool = False  # failure that a later try may clear (timeouts, 5xx, 429)
    elapsed_ms: int = 0
    fetched_at: datetime | None = None

    @property
    def moved(self) -> bool:
        return bool(self.final_url) and self.final_url != self.url


# --- changes and impacts ------------------------------------------------------------------

ChangeKind = Literal[
    "modified", "added", "removed", "moved", "gone", "withdrawn", "unreachable", "change_note", "review_due"
]
Severity = Literal["substantive", "minor", "cosmetic"]
#: Severities in order, least first. Here, not in `changes.severity`, so that the store (which
#: compares them through `changes.passages`) need not compile that module's patterns at start-up.
RANK: dict[str, int] = {"cosmetic": 0, "minor": 1, "substantive": 2}


@dataclass(frozen=True)
class DiffOp:
    """One run of a word-level diff: op -1 deleted, 0 kept, 1 inserted."""

    op: int
    text: str


@dataclass
class Change:
    id: str
    kind: ChangeKind
    severity: Severity
    reason: str  # one phrase: "'must' became 'may'"
    source_section: tuple[str, ...]  # heading path on the source page ([] for page-level events)
    old: str
    new: str
    ops: list[DiffOp] = field(default_factory=list)  # for highlighting
    scope: Literal["block", "page"] = "block"
    context: str = ""  # surrounding text, for reading


Tier = Literal["reread", "related"]


@dataclass(frozen=True)
class Impact:
    guide: str
    section: str
    heading: str
    score: float  # 0..1
    evidence: tuple[str, ...]  # shared phrases, then the best-matching guide sentence
    tier: Tier = "reread"  # "reread": the editor must look; "related": worth a glance
    claim: str = ""  # the changed source sentence the evidence bears on


@dataclass(frozen=True)
class Dismissal:
    """An editor's mark: this guide section is not relevant to changes of this source passage.

    A passage is where the change sits on the source (its URL and heading path), so the mark
    holds for later changes there. Who and when are kept for the audit trail. `sentence` is the
    guide sentence of the evidence the editor judged: a later change meeting another sentence of
    the section is new evidence (empty: the mark holds for the whole section).
    """

    guide: str
    section: str
    source_url: str
    source_section: tuple[str, ...]
    by: str
    at: datetime
    note: str = ""
    sentence: str = ""


@dataclass(frozen=True)
class SnapshotRecord:
    """One recorded version of a source: what the store keeps and the snapshot files show."""

    id: int
    source_id: int
    url: str
    fetched_at: datetime
    content_hash: str
    title: str
    profile: str
    text: str
    meta: dict[str, str]

    def page(self) -> Page:
        return Page(url=self.url, profile=self.profile, title=self.title, blocks=parse_blocks(self.text),
                    metadata=dict(self.meta))
