"""Guide ingestion: Markdown, HTML and plain text into sections, citations and mentions.

Each format is first reduced to the same stream of events (heading / text line with its
links); one builder then turns that stream into sections, so the three formats cannot
drift apart in how they name or nest sections.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlparse

from bs4 import BeautifulSoup, NavigableString, Tag

from .model import Citation, Guide, Mention, Section

MAX_GUIDE_BYTES = 5 * 1024 * 1024

# Named bodies recorded as mentions when a section names them without linking them.
BODIES: dict[str, re.Pattern[str]] = {
    "MHRA": re.compile(r"\bMHRA\b|Medicines and Healthcare products Regulatory Agency"),
    "NICE": re.compile(r"\bNICE\b|National Institute for Health and Care Excellence"),
    "HTA": re.compile(r"\bHTA\b|Human Tissue Authority"),
    "HRA": re.compile(r"\bHRA\b|Health Research Authority"),
    "CQC": re.compile(r"\bCQC\b|Care Quality Commission"),
    "NHS England": re.compile(r"\bNHS England\b"),
}


class GuideError(ValueError):
    """A guide file that cannot be read; the message names the file and the problem."""


def slugify(heading: str) -> str:
    """GitHub-style anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = unicodedata.normalize("NFKC", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@dataclass
class _Line:
    text: str
    links: list[tuple[str, str]] = field(default_factory=list)  # (link text, href)


@dataclass
class _Heading:
    level: int
    text: str


_Event = _Line | _Heading

# --- Markdown -----------------------------------------------------------------------------

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_BARE_URL = re.compile(r"(?<![(<\"'])\bhttps?://[^\s)<>\]]+")
_MD_DECOR = re.compile(r"(\*\*|__|`)")


def _md_events(text: str) -> list[_Event]:
    events: list[_Event] = []
    in_code = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code or not line.strip():
            continue
        m = _MD_HEADING.match(line)
        if m:
            events.append(_Heading(len(m.group(1)), _md_inline(m.group(2))[0]))
            continue
        if re.fullmatch(r"\s*([-*_])\s*(\1\s*){2,}", line):
            continue  # horizontal rule
        plain, links = _md_inline(line)
        events.append(_Line(plain, links))
    return events


def _md_inline(line: str) -> tuple[str, list[tuple[str, str]]]:
    links = [(m.group(1), m.group(2)) for m in _MD_LINK.finditer(line)]
    plain = _MD_LINK.sub(lambda m: m.group(1), line)
    links += [(u.rstrip(".,;:"), u.rstrip(".,;:")) for u in _BARE_URL.findall(plain)]
    plain = _MD_DECOR.sub("", plain).strip()
    return plain, links


# --- HTML ---------------------------------------------------------------------------------

_HTML_BLOCKS = {"p", "li", "td", "th", "dd", "dt", "blockquote", "pre", "figcaption", "caption"}


def _html_events(text: str) -> list[_Event]:
    soup = BeautifulSoup(text, "lxml")
    for tag in soup(["script", "style", "noscript", "template", "nav", "footer"]):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    events: list[_Event] = []

    def walk(node: Tag) -> None:
        for child in node.children:
            if not isinstance(child, Tag):
                if isinstance(child, NavigableString) and child.strip() and node is root:
                    events.append(_Line(" ".join(child.split())))
                continue
            name = child.name or ""
            if re.fullmatch(r"h[1-6]", name):
                events.append(_Heading(int(name[1]), " ".join(child.get_text(" ").split())))
            elif name in _HTML_BLOCKS and not child.find(list(_HTML_BLOCKS) + ["ul", "ol"]):
                plain = " ".join(child.get_text(" ").split())
                links = [(" ".join(a.get_text(" ").split()), str(a.get("href", ""))) for a in child.find_all("a")]
                if plain or links:
                    events.append(_Line(plain, [(t, h) for t, h in links if h]))
            else:
                walk(child)

    walk(root)
    return events


# --- plain text ---------------------------------------------------------------------------

_FAQ_HEADING = re.compile(r"\b(FAQs?|frequently asked questions)\b", re.I)


def _is_bare_heading(line: str, following: str | None) -> bool:
    """A bare line is a heading when it is short, unpunctuated at the end and followed by text."""
    s = line.strip()
    if not s or following is None or not following.strip():
        return False
    if s.startswith(("-", "*", "•", "|")) or s[-1] in ".:;,!\"”)" or not s[0].isupper():
        return False
    if len(s) > 100 or len(s.split()) > 16:
        return False
    return not re.fullmatch(r"[-=_*]{3,}", s)


def _txt_events(text: str) -> list[_Event]:
    lines = [ln.rstrip() for ln in text.splitlines()]
    nonblank = [ln for ln in lines if ln.strip()]
    events: list[_Event] = []
    in_faq = False
    for i, line in enumerate(nonblank):
        if re.fullmatch(r"\s*[-=_*]{3,}\s*", line):
            continue
        following = nonblank[i + 1] if i + 1 < len(nonblank) else None
        if _is_bare_heading(line, following):
            # Bare-line headings carry no level: headings after an FAQ heading are its entries.
            level = 3 if in_faq else 2
            if _FAQ_HEADING.search(line):
                in_faq, level = True, 2
            events.append(_Heading(level, line.strip()))
            continue
        plain = line.strip()
        links = [(u.rstrip(".,;:"), u.rstrip(".,;:")) for u in _BARE_URL.findall(plain)]
        events.append(_Line(plain, links))
    return events


# --- building sections --------------------------------------------------------------------


def _build(
    slug: str, source: str, fmt: str, events: list[_Event], base_url: str | None, editors: tuple[str, ...]
) -> Guide:
    title = ""
    # A lone top-level heading that opens the document is the guide's title, not a section.
    levels = [e.level for e in events if isinstance(e, _Heading)]
    if events and isinstance(events[0], _Heading) and levels.count(min(levels)) == 1 and len(levels) > 1:
        title = events[0].text
        events = events[1:]
        levels = levels[1:]
    top = min(levels) if levels else 1

    raw: list[dict] = [
        {"heading": "Introduction", "id": "introduction", "level": 0, "lines": [], "links": [], "path": ()}
    ]
    used: dict[str, int] = {"introduction": 0}
    stack: list[tuple[int, str, str]] = []  # (level, heading, id)
    for ev in events:
        if isinstance(ev, _Heading):
            level = ev.level - top + 1
            base = slugify(ev.text) or "section"
            sid = base if base not in used else f"{base}-{used[base]}"
            used[base] = used.get(base, 0) + 1
            used.setdefault(sid, 1)
            while stack and stack[-1][0] >= level:
                stack.pop()
            parent = stack[-1][2] if stack else None
            stack.append((level, ev.text, sid))
            path = tuple(h for _, h, _ in stack)
            raw.append(
                {"heading": ev.text, "id": sid, "level": level, "lines": [], "links": [], "path": path,
                 "parent": parent}
            )
        else:
            raw[-1]["lines"].append(ev.text)
            raw[-1]["links"].extend(ev.links)

    if not raw[0]["lines"] and not raw[0]["links"]:
        raw.pop(0)
    if not title:
        title = raw[0]["heading"] if raw and raw[0]["id"] != "introduction" else slug

    sections: list[Section] = []
    citations: list[Citation] = []
    mentions: list[Mention] = []
    for order, r in enumerate(raw):
        own = "\n".join(r["lines"])
        # A section's text includes its sub-sections': all later entries deeper than it, until a sibling.
        parts = [own]
        for later in raw[order + 1 :]:
            if later["level"] <= r["level"] or r["level"] == 0:
                break
            parts.append(later["heading"] + "\n" + "\n".join(later["lines"]))
        sections.append(
            Section(
                guide=slug,
                id=r["id"],
                heading=r["heading"],
                level=r["level"],
                path=r["path"] or (r["heading"],),
                own_text=own,
                text="\n".join(p for p in parts if p),
                order=order,
                parent=r.get("parent"),
            )
        )
        seen_urls: set[str] = set()
        for text, href in r["links"]:
            citation = _citation(slug, r["id"], text, href, base_url)
            if citation and citation.url not in seen_urls:
                seen_urls.add(citation.url)
                citations.append(citation)
        for body, pattern in BODIES.items():
            if pattern.search(own) or pattern.search(r["heading"]):
                mentions.append(Mention(slug, r["id"], body))
    return Guide(slug, title, source, fmt, sections, citations, mentions, editors)  # type: ignore[arg-type]


def _citation(guide: str, section: str, text: str, href: str, base_url: str | None) -> Citation | None:
    href = href.strip()
    if not href or href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
        return None
    parsed = urlparse(href)
    if parsed.scheme in ("http", "https"):
        internal = bool(base_url) and parsed.netloc == urlparse(base_url or "").netloc
        return Citation(guide, section, href, text, internal)
    if parsed.scheme:
        return None
    url = urljoin(base_url, href) if base_url else href
    return Citation(guide, section, url, text, internal=True)


def guide_format(path: str) -> str:
    suffix = Path(urlparse(path).path).suffix.lower()
    if suffix in (".md", ".markdown"):
        return "md"
    if suffix in (".html", ".htm"):
        return "html"
    if suffix in (".txt", ".text", ""):
        return "txt"
    raise GuideError(f"{path}: unsupported guide format {suffix!r} (use .md, .html or .txt)")


def parse_guide(
    text: str,
    *,
    slug: str,
    fmt: str,
    source: str = "",
    base_url: str | None = None,
    editors: tuple[str, ...] = (),
) -> Guide:
    try:
        events = {"md": _md_events, "html": _html_events, "txt": _txt_events}[fmt](text)
    except RecursionError:  # the HTML walk recurses per element: thousands of nested tags
        raise GuideError(f"{source or slug}: guide markup is nested too deeply to read") from None
    return _build(slug, source, fmt, events, base_url, editors)


def load_guide(
    path: Path, *, slug: str | None = None, base_url: str | None = None, editors: tuple[str, ...] = ()
) -> Guide:
    """Read a guide file, with one-line errors that name the file."""
    fmt = guide_format(str(path))
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise GuideError(f"{path}: cannot read guide: {exc.strerror or exc}") from exc
    if size > MAX_GUIDE_BYTES:
        raise GuideError(f"{path}: guide is {size} bytes, larger than the {MAX_GUIDE_BYTES} byte limit")
    data = path.read_bytes()
    if b"\x00" in data:
        raise GuideError(f"{path}: guide looks binary (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise GuideError(f"{path}:{line}: guide is not valid UTF-8") from exc
    return parse_guide(text, slug=slug or path.stem, fmt=fmt, source=str(path), base_url=base_url, editors=editors)
