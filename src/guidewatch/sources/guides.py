"""Guide ingestion: Markdown, HTML and plain text into sections, citations and mentions.

Each format is first reduced to the same stream of events (heading / text line with its
links); one builder then turns that stream into sections, so the three formats cannot
drift apart in how they name or nest sections.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import mdurl
from markdown_it import MarkdownIt
from markdown_it.token import Token

from guidewatch.exitcodes import USAGE
from guidewatch.files import read_capped
from guidewatch.model import Citation, Guide, Mention, Section
from guidewatch.sources.hrefs import Bad, bare_urls, check_href
from guidewatch.sources.sites import BODIES  # named bodies become mentions

log = logging.getLogger("guidewatch.sources.guides")

MAX_GUIDE_BYTES = 5 * 1024 * 1024

class GuideError(ValueError):
    """A guide file that cannot be read; the message names the file and the problem."""

    exit_code = USAGE


class GuideFileError(GuideError):
    """The guide file itself cannot be used (missing, a device, too large, binary): the
    config line that names it is added by whoever read the config."""


def slugify(heading: str) -> str:
    """GitHub-style anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = unicodedata.normalize("NFKC", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@dataclass
class _Link:
    text: str
    href: str
    line: int | None  # 1-based line in the guide file, for warnings


@dataclass
class _Line:
    text: str
    links: list[_Link] = field(default_factory=list)


@dataclass
class _Heading:
    level: int
    text: str
    links: list[_Link] = field(default_factory=list)


_Event = _Line | _Heading

# --- Markdown -----------------------------------------------------------------------------
# CommonMark via markdown-it-py (linear time on any input), plus GFM tables. Each source line
# of a block becomes one text line, as editors see it; a list item keeps its marker.


_URL_SAFE = ";/?:@&=+$,-_.!~*'()#"  # mdurl's defaults


_URL_HEAD = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://[^/?#]*)?")


def _normalize_link(url: str) -> str:
    """Percent-encode what a URL's path may not contain, as markdown-it does, but leave the
    host as written: its default mangles IPv6 literals (`http://[::1` became `http://:1%5B:`),
    and the host is checked as written (hrefs.check_href)."""
    head = _URL_HEAD.match(url)
    start = head.end() if head else 0
    return url[:start] + mdurl.encode(url[start:], _URL_SAFE)


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark").enable("table")
    md.normalizeLink = _normalize_link  # type: ignore[method-assign]
    return md


_MD = _markdown()
# `---`, then `key:` lines up to `---` or `...`: a guide opening with a rule and prose is not it.
_FRONT_MATTER = re.compile(r"---[ \t\r]*\n[A-Za-z_][\w -]*:.*\n(?:.*\n)*?(?:---|\.\.\.)[ \t\r]*(?:\n|$)")


def _md_events(text: str) -> list[_Event]:
    events: list[_Event] = []
    heading = marker = ""
    row: _Line | None = None
    for tok in _MD.parse(_blank_front_matter(text)):
        first = (tok.map[0] + 1) if tok.map else None
        if tok.type == "heading_open":
            heading = tok.tag
        elif tok.type == "list_item_open":
            marker = f"{tok.info}{tok.markup} "
        elif tok.type == "tr_open":
            row = _Line("")
        elif tok.type == "tr_close" and row is not None:
            events.append(row)
            row = None
        elif tok.type == "html_block":
            events += _html_fragment_lines(tok.content, first)
        elif tok.type == "inline":
            lines = _md_inline(tok.children or [], first)
            if heading:
                events.append(_Heading(int(heading[1]), " ".join(ln.text for ln in lines),
                                       [x for ln in lines for x in ln.links]))
            elif row is not None:
                row.text = " | ".join(t for t in (row.text, *(ln.text for ln in lines)) if t)
                row.links += [x for ln in lines for x in ln.links]
            else:
                lines[0].text = (marker + lines[0].text).strip()
                events += [ln for ln in lines if ln.text or ln.links]
            heading = marker = ""
    return events


def _blank_front_matter(text: str) -> str:
    """YAML front matter is metadata, not guide text: blank it, keeping the line count."""
    m = _FRONT_MATTER.match(text) if text.startswith("---") else None
    return "\n" * m.group(0).count("\n") + text[m.end() :] if m else text


def _md_inline(children: list[Token], line: int | None) -> list[_Line]:
    """One `_Line` per source line: the text as read (links by their text, code by its content,
    images by their alt text) and its links, with bare URLs found in text outside links."""
    lines = [_Line("")]
    parts: list[str] = []
    link: _Link | None = None
    for child in children:
        kind = child.type
        if kind in ("softbreak", "hardbreak"):
            lines[-1].text, parts = "".join(parts).strip(), []
            lines.append(_Line(""))
            line = line + 1 if line else None
        elif kind in ("text", "code_inline", "image"):
            parts.append(child.content)
            if link is not None:
                link.text += child.content
            elif kind == "text":
                lines[-1].links += [_Link(u, u, line) for u in bare_urls(child.content)]
        elif kind == "link_open" or (kind == "html_inline" and _HTML_A_OPEN.match(child.content)):
            href = str(child.attrs["href"]) if kind == "link_open" else _html_href(child.content)
            link = _Link("", href, line)
            if kind == "link_open" or href:  # <a name=…> is an anchor, not a link
                lines[-1].links.append(link)
        elif kind == "link_close" or (kind == "html_inline" and _HTML_A_CLOSE.match(child.content)):
            link = None
    lines[-1].text = "".join(parts).strip()
    for ln in lines:
        for x in ln.links:
            x.text = x.text.strip()
    return lines


_HTML_A_OPEN = re.compile(r"<a\s", re.I)
_HTML_A_CLOSE = re.compile(r"</a\s*>", re.I)


def _html_href(tag: str) -> str:
    from bs4 import BeautifulSoup  # only here and for HTML guides: a crawl of Markdown guides never loads it

    a = BeautifulSoup(tag, "html.parser").a
    return str(a.get("href") or "") if a else ""


def _html_fragment_lines(html: str, first: int | None) -> list[_Event]:
    """Raw HTML inside a Markdown guide: its text, and its `<a href>` links with their lines.
    lxml, not html.parser: it closes an `<a>` that a new one opens, so a run of unclosed tags
    cannot nest thousands deep (each link's text was then its whole subtree: quadratic)."""
    import lxml.etree  # only for raw HTML: a crawl of Markdown guides then never loads lxml
    import lxml.html

    try:
        doc = lxml.html.document_fromstring(html.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (ValueError, lxml.etree.LxmlError):
        return []
    for el in list(doc.iter("script", "style", "noscript", "template")):
        el.drop_tree()
    text = " ".join(doc.text_content().split())
    links = [_Link(" ".join(a.text_content().split()), str(a.get("href")),
                   first + (a.sourceline or 1) - 1 if first else None) for a in doc.iter("a") if a.get("href")]
    return [_Line(text, links)] if text or links else []


# --- HTML ---------------------------------------------------------------------------------

_HTML_BLOCKS = {"p", "li", "td", "th", "dd", "dt", "blockquote", "pre", "figcaption", "caption"}


def _html_events(text: str) -> list[_Event]:
    from bs4 import BeautifulSoup, NavigableString, Tag

    soup = BeautifulSoup(text, "lxml")
    anchors = soup.find_all("a")
    line_of = dict(zip(map(id, anchors), _anchor_lines(text, len(anchors)), strict=False))
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
                links = [_Link(" ".join(a.get_text(" ").split()), str(a.get("href", "")), line_of.get(id(a)))
                         for a in child.find_all("a")]
                if plain or links:
                    events.append(_Line(plain, [x for x in links if x.href]))
            else:
                walk(child)

    walk(root)
    return events


def _anchor_lines(text: str, count: int) -> list[int | None]:
    """Source lines of the document's `<a>` elements, in order. BeautifulSoup's lxml builder
    keeps none, so lxml itself (the same parser, so the same elements) reads them."""
    import lxml.etree
    import lxml.html

    try:
        doc = lxml.html.document_fromstring(text.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (ValueError, lxml.etree.LxmlError):
        return []
    lines = [a.sourceline for a in doc.iter("a")]
    return list(lines) if len(lines) == count else []


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
    numbered = [(n, ln) for n, ln in enumerate(lines, 1) if ln.strip()]
    nonblank = [ln for _, ln in numbered]
    events: list[_Event] = []
    in_faq = False
    for i, (number, line) in enumerate(numbered):
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
        events.append(_Line(plain, [_Link(u, u, number) for u in bare_urls(plain)]))
    return events


# --- building sections --------------------------------------------------------------------


def _build(
    slug: str, source: str, fmt: str, events: list[_Event], base_url: str | None, editors: tuple[str, ...]
) -> tuple[Guide, list[str]]:
    """The guide, and one `file:line: what is wrong` per link that cannot be watched."""
    title, events = _split_title(events)
    raw = _raw_sections(events)
    if not title:
        title = raw[0]["heading"] if raw and raw[0]["id"] != "introduction" else slug

    sections: list[Section] = []
    citations: list[Citation] = []
    mentions: list[Mention] = []
    problems: list[str] = []
    for order, r in enumerate(raw):
        sections.append(_section(slug, raw, order))
        citations += _citations(slug, r["id"], r["links"], base_url, source or slug, problems)
        own = sections[-1].own_text
        for body, pattern in BODIES.items():
            if pattern.search(own) or pattern.search(r["heading"]):
                mentions.append(Mention(slug, r["id"], body))
    guide = Guide(slug, title, source, fmt, sections, citations, mentions, editors)  # type: ignore[arg-type]
    return guide, problems


def _split_title(events: list[_Event]) -> tuple[str, list[_Event]]:
    """A lone top-level heading that opens the document is the guide's title, not a section."""
    levels = [e.level for e in events if isinstance(e, _Heading)]
    if events and isinstance(events[0], _Heading) and levels.count(min(levels)) == 1 and len(levels) > 1:
        return events[0].text, events[1:]
    return "", events


def _raw_sections(events: list[_Event]) -> list[dict]:
    """One entry per heading (unique id, level counted from 1, parent, heading path) with the
    lines and links under it; text before the first heading is an "Introduction" entry."""
    levels = [e.level for e in events if isinstance(e, _Heading)]
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
                {"heading": ev.text, "id": sid, "level": level, "lines": [], "links": list(ev.links), "path": path,
                 "parent": parent}
            )
        else:
            raw[-1]["lines"].append(ev.text)
            raw[-1]["links"].extend(ev.links)

    if not raw[0]["lines"] and not raw[0]["links"]:
        raw.pop(0)
    return raw


def _section(slug: str, raw: list[dict], order: int) -> Section:
    """Entry `order` as a Section."""
    r = raw[order]
    own = "\n".join(r["lines"])
    # A section's text includes its sub-sections': all later entries deeper than it, until a sibling.
    parts = [own]
    for j in range(order + 1, len(raw)):  # indices, not raw[order + 1 :]: a copy per section is quadratic
        later = raw[j]
        if later["level"] <= r["level"] or r["level"] == 0:
            break
        parts.append(later["heading"] + "\n" + "\n".join(later["lines"]))
    return Section(
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


def _citations(guide: str, section: str, links: list[_Link], base_url: str | None, where: str,
               problems: list[str]) -> list[Citation]:
    """A section's citations, once per URL; a bad link is described in `problems` instead."""
    seen_urls: set[str] = set()
    citations: list[Citation] = []
    for link in links:
        target = check_href(link.href, base_url)
        if isinstance(target, Bad):
            at = f"{where}:{link.line}" if link.line else where
            problems.append(f"{at}: link {' '.join(link.href.split())}: {target.reason}; it is not watched")
        elif target and target.url not in seen_urls:
            seen_urls.add(target.url)
            citations.append(Citation(guide, section, target.url, link.text, target.internal))
    return citations


def guide_format(path: str) -> str:
    suffix = Path(urlparse(path).path).suffix.lower()
    if suffix in (".md", ".markdown"):
        return "md"
    if suffix in (".html", ".htm"):
        return "html"
    if suffix in (".txt", ".text", ""):
        return "txt"
    raise GuideFileError(f"{path}: unsupported guide format {suffix!r} (use .md, .html or .txt)")


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
    guide, problems = _build(slug, source, fmt, events, base_url, editors)
    _warn_once(problems)
    return guide


_warned: set[str] = set()


def _warn_once(problems: list[str]) -> None:
    """Log each bad link once per process: the daemon re-reads its guides at every job, and a
    command that loads a guide twice should not say the same thing twice."""
    for problem in problems:
        if problem not in _warned:
            _warned.add(problem)
            log.warning("%s", problem)


def load_guide(
    path: Path, *, slug: str | None = None, base_url: str | None = None, editors: tuple[str, ...] = ()
) -> Guide:
    """Read a guide file, with one-line errors that name the file."""
    fmt = guide_format(str(path))
    try:
        data = read_capped(path, MAX_GUIDE_BYTES)
    except OSError as exc:
        raise GuideFileError(f"{path}: cannot read guide: {exc.strerror or exc}") from None
    if len(data) > MAX_GUIDE_BYTES:
        raise GuideFileError(f"{path}: guide is larger than the {MAX_GUIDE_BYTES} byte limit")
    if b"\x00" in data:
        raise GuideFileError(f"{path}: guide looks binary (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise GuideError(f"{path}:{line}: guide is not valid UTF-8") from exc
    return parse_guide(text, slug=slug or path.stem, fmt=fmt, source=str(path), base_url=base_url, editors=editors)
