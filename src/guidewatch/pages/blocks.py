"""The HTML walk: main content as a flat list of text blocks, each with its heading path."""

from __future__ import annotations

import re
import warnings

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.element import (
    Comment,
    Declaration,
    Doctype,
    NavigableString,
    PageElement,
    ProcessingInstruction,
    Script,
    Stylesheet,
    Tag,
    TemplateString,
)

from guidewatch.model import Block
from guidewatch.pages.fold import fold_text
from guidewatch.pages.ignore import IgnoreRules
from guidewatch.sources.profiles import Profile

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_INLINE = frozenset(
    {
        "a",
        "abbr",
        "acronym",
        "b",
        "bdi",
        "bdo",
        "big",
        "cite",
        "code",
        "data",
        "del",
        "dfn",
        "em",
        "font",
        "i",
        "ins",
        "kbd",
        "label",
        "mark",
        "nobr",
        "q",
        "rb",
        "rp",
        "rt",
        "rtc",
        "ruby",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "time",
        "tt",
        "u",
        "var",
        "wbr",
    }
)
_SKIP = frozenset(
    {  # never text: code, media, form controls, document head
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "math",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "canvas",
        "video",
        "audio",
        "picture",
        "source",
        "track",
        "map",
        "area",
        "button",
        "input",
        "select",
        "option",
        "optgroup",
        "textarea",
        "datalist",
        "output",
        "progress",
        "meter",
        "dialog",
        "head",
        "title",
        "meta",
        "link",
        "base",
        "img",
    }
)
_NOT_TEXT = (Comment, Declaration, Doctype, ProcessingInstruction, Script, Stylesheet, TemplateString)

_Raw = tuple[str, str, int]  # (kind, unfolded text, heading level)


def _soup(markup: str) -> BeautifulSoup:
    """Parse with lxml; bs4's advice warnings (looks like a URL, looks like XML) are noise for a crawler."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(markup, "lxml")


def _is_text(node: PageElement) -> bool:
    return isinstance(node, NavigableString) and not isinstance(node, _NOT_TEXT)


def _walk(root: Tag) -> list[_Raw]:
    """Block-level text under root in document order, without recursion (deep markup is fine)."""
    out: list[_Raw] = []
    buf: list[str] = []
    kinds = ["p"]

    def flush() -> None:
        if buf:
            text = "".join(buf)
            buf.clear()
            if text.strip():
                out.append((kinds[-1], text, 0))

    stack: list[tuple[PageElement, bool]] = [(c, False) for c in reversed(root.contents)]
    while stack:
        node, closing = stack.pop()
        if closing:
            flush()
            kinds.pop()
            continue
        if not isinstance(node, Tag):
            if _is_text(node):
                buf.append(str(node))
            continue
        name = node.name
        if name in _SKIP:
            continue
        if name == "br":
            buf.append(" ")
        elif name in _INLINE:
            stack.extend((c, False) for c in reversed(node.contents))
        elif name in _HEADINGS:
            flush()
            out.append(("heading", _inline_text(node), _HEADINGS[name]))
        elif name == "tr":
            flush()
            out.append(("tr", _row_text(node), 0))
        else:
            flush()
            kinds.append("li" if name == "li" or kinds[-1] == "li" else "p")  # <li><p>…</p></li> is an item
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node.contents))
    flush()
    return out


def _inline_text(root: Tag) -> str:
    """All text under root on one line; block boundaries and <br> become spaces."""
    parts: list[str] = []
    stack: list[PageElement | None] = list(reversed(root.contents))
    while stack:
        node = stack.pop()
        if node is None:
            parts.append(" ")
        elif isinstance(node, Tag):
            if node.name in _SKIP:
                continue
            if node.name not in _INLINE:
                parts.append(" ")
                stack.append(None)
            stack.extend(reversed(node.contents))
        elif _is_text(node):
            parts.append(str(node))
    return "".join(parts)


def _row_text(tr: Tag) -> str:
    """A table row as its cells joined by " | " (empty cells kept, so column shifts show)."""
    cells = tr.find_all(["td", "th"], recursive=False)
    if not cells:
        return _inline_text(tr)
    texts = [fold_text(_inline_text(c)) for c in cells]
    return " | ".join(texts) if any(texts) else ""


_MARKER = re.compile(r"^(?:#+|-|\|) +")


def _finish(raw: list[_Raw], profile: Profile, rules: IgnoreRules) -> list[Block]:
    """Fold text, strip the page's own dates and ignored text, drop empties, attach heading paths.

    Paths are built exactly as `model.parse_blocks` rebuilds them from the serialised text, so
    a page read back from a snapshot equals the page that was normalised.
    """
    strip = (*(r.pattern for r in profile.dates), *rules.regexes)
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []
    for kind, text, level in raw:
        text = fold_text(text)
        for pattern in strip:
            if text:
                text = pattern.sub("", text)
        text = fold_text(text) if strip else text
        if kind == "p":
            while (m := _MARKER.match(text)) is not None:  # would read back as a heading/item/row
                text = text[m.end() :]
        if not text:
            continue
        if kind == "heading":
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text))
            blocks.append(Block(tuple(h for _, h in stack), "heading", text, level))
        else:
            blocks.append(Block(tuple(h for _, h in stack), kind, text))  # type: ignore[arg-type]
    return blocks
