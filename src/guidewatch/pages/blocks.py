"""The HTML walk: main content as a flat list of text blocks, each with its heading path.

Pages are parsed into a bare lxml tree (`parse`), fed to libxml2's HTML parser exactly as
BeautifulSoup's lxml builder fed it, so the tree - and every snapshot text and hash recorded
while BeautifulSoup built it - is the same (tests/test_normalise_golden.py). What BeautifulSoup
added on top is kept here: text inside <script>, <style> and <template> is code, not text, and
`get_text` reads only plain strings (not <rt>/<rp> ruby text), with all-blank strings collapsed.
"""

from __future__ import annotations

import re

from lxml import etree

from guidewatch.model import Block
from guidewatch.pages.fold import fold_text
from guidewatch.pages.ignore import IgnoreRules
from guidewatch.sources.profiles import Profile

Element = etree._Element

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_INLINE = frozenset(
    {
        "a", "abbr", "acronym", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em", "font",
        "i", "ins", "kbd", "label", "mark", "nobr", "q", "rb", "rp", "rt", "rtc", "ruby", "s", "samp", "small",
        "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var", "wbr",
    }
)  # fmt: skip
_SKIP = frozenset(
    {  # never text: code, media, form controls, document head
        "script", "style", "noscript", "template", "svg", "math", "iframe", "frame", "frameset", "object",
        "embed", "canvas", "video", "audio", "picture", "source", "track", "map", "area", "button", "input",
        "select", "option", "optgroup", "textarea", "datalist", "output", "progress", "meter", "dialog", "head",
        "title", "meta", "link", "base", "img", "gw-removed",
    }
)  # fmt: skip
REMOVED = "gw-removed"  # an element emptied in place (pages.css.remove)
# Elements whose strings are not plain text (BeautifulSoup's string containers): the innermost
# one around a string decides. The walk shows ruby text but not code; get_text shows neither.
_CODE = frozenset({"script", "style", "template"})
_RUBY = frozenset({"rt", "rp"})
_CONTAINERS = _CODE | _RUBY
_PRESERVE = frozenset({"pre", "textarea"})  # blank strings inside are kept as they are
_ASCII_SPACE = " \n\t\x0c\r"

_Raw = tuple[str, str, int]  # (kind, unfolded text, heading level)
_CLOSE = object()  # stack marker: the end of a block element
_SPACE = object()  # stack marker: a block boundary inside inline text


DOCUMENT = "gw-document"  # the element standing for the document, as BeautifulSoup's soup object did


def parse(markup: str) -> Element:
    """The document: an element holding every top-level node the parser reported.

    The markup is fed whole, as one string, to libxml2's HTML parser with BeautifulSoup's options
    (recover, no huge trees), so recovery from broken markup is libxml2's, exactly as before. Junk
    after a closed </html> can start a second root element; BeautifulSoup kept both, so does this.
    """
    if markup[:1] == "\ufeff":
        markup = markup[1:]
    parser = etree.HTMLParser(recover=True, huge_tree=False)
    try:
        parser.feed(markup)
        root = parser.close()
    except (etree.ParserError, etree.XMLSyntaxError, UnicodeError, LookupError):
        return etree.Element(DOCUMENT)
    if not isinstance(root, etree._Element):
        return etree.Element(DOCUMENT)
    if _AT_DEPTH_LIMIT(root.getroottree()):
        # libxml2 builds no element (nor its text) deeper than 256 levels, but it reports every
        # one to a parser target, as it did to BeautifulSoup: build such a tree from the events.
        return _from_events(markup)
    doc = etree.Element(DOCUMENT)
    doc.extend([*reversed(list(root.itersiblings(preceding=True))), root, *root.itersiblings()])
    return doc


# An element 256 levels down: libxml2's tree may have lost deeper ones.
_AT_DEPTH_LIMIT = etree.XPath("boolean(/" + "*/" * 255 + "*)")


class _Events:
    """A parser target building the document from the parser's events (lxml's TreeBuilder).

    lxml writes no control character and no odd tag or attribute name, which libxml2's own tree
    keeps: here control characters are dropped (folding drops them from the text anyway), the
    vertical tab and form feed become spaces, odd names become `gw-unknown` and odd attributes go.
    """

    def __init__(self) -> None:
        self.tree = etree.TreeBuilder()
        self.tree.start(DOCUMENT, {})
        self.names: list[str] = []

    def start(self, tag: str, attrib: dict[str, str], nsmap: object = None) -> None:
        name = tag if _XML_NAME.fullmatch(tag) else "gw-unknown"
        self.names.append(name)
        self.tree.start(name, {k: _xml(v) for k, v in attrib.items() if _XML_NAME.fullmatch(k)})

    def end(self, tag: str) -> None:
        self.tree.end(self.names.pop())

    def data(self, data: str) -> None:
        self.tree.data(_xml(data))

    def comment(self, text: str) -> None:
        self.tree.comment(_xml(text))

    def pi(self, target: str, data: str | None = None) -> None:
        if _XML_NAME.fullmatch(target):
            self.tree.pi(target, _xml(data or ""))

    def close(self) -> Element:
        self.tree.end(DOCUMENT)
        return self.tree.close()


_XML_NAME = re.compile(r"[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?", re.ASCII)
_NOT_XML = re.compile("[\x00-\x08\x0e-\x1f\ufffe\uffff]")
_XML_SPACE = str.maketrans("\x0b\x0c", "  ")


def _xml(text: str) -> str:
    return _NOT_XML.sub("", text.translate(_XML_SPACE))


def _from_events(markup: str) -> Element:
    parser = etree.HTMLParser(recover=True, huge_tree=False, target=_Events())
    parser.feed(markup)
    doc: Element = parser.close()
    return doc


def body_or_document(doc: Element) -> Element:
    """The first <body> (libxml2 adds one to a fragment), else the document."""
    return next(doc.iter("body"), doc)


def _innermost(el: Element) -> str | None:
    """The string container (script, style, template, rt, rp) nearest around el's own strings."""
    for node in (el, *el.iterancestors()):
        if node.tag in _CONTAINERS:
            return node.tag  # type: ignore[return-value]
    return None


def _shown(el: Element) -> bool:
    """Whether the walk reads strings directly inside el (ruby text yes, code no)."""
    return _innermost(el) not in _CODE


def _walk(root: Element) -> list[_Raw]:
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

    ok = _shown(root)
    if ok and root.text:
        buf.append(root.text)
    stack: list[tuple[object, bool]] = [(c, ok) for c in reversed(root)]
    while stack:
        node, ok = stack.pop()
        if node is _CLOSE:
            flush()
            kinds.pop()
            continue
        if isinstance(node, str):
            buf.append(node)
            continue
        el: Element = node  # type: ignore[assignment]
        if ok and el.tail:
            stack.append((el.tail, ok))
        name = el.tag
        if not isinstance(name, str) or name in _SKIP:  # comments and processing instructions too
            continue
        inner = ok or name in _RUBY
        if name == "br":
            buf.append(" ")
        elif name in _INLINE:
            _push(stack, el, inner)
        elif name in _HEADINGS:
            flush()
            out.append(("heading", _inline_text(el, inner), _HEADINGS[name]))
        elif name == "tr":
            flush()
            out.append(("tr", _row_text(el, inner), 0))
        else:
            flush()
            kinds.append("li" if name == "li" or kinds[-1] == "li" else "p")  # <li><p>…</p></li> is an item
            stack.append((_CLOSE, ok))
            _push(stack, el, inner)
    flush()
    return out


def _push(stack: list[tuple[object, bool]], el: Element, ok: bool) -> None:
    """el's children, then its own text on top (so it is read first)."""
    stack.extend([(c, ok) for c in reversed(el)])
    if ok and el.text:
        stack.append((el.text, ok))


def _inline_text(root: Element, ok: bool | None = None) -> str:
    """All text under root on one line; block boundaries and <br> become spaces."""
    if ok is None:
        ok = _shown(root)
    parts: list[str] = [root.text] if ok and root.text else []
    stack: list[tuple[object, bool]] = [(c, ok) for c in reversed(root)]
    while stack:
        node, ok = stack.pop()
        if node is _SPACE:
            parts.append(" ")
            continue
        if isinstance(node, str):
            parts.append(node)
            continue
        el: Element = node  # type: ignore[assignment]
        if ok and el.tail:
            stack.append((el.tail, ok))
        name = el.tag
        if not isinstance(name, str) or name in _SKIP:
            continue
        if name not in _INLINE:
            parts.append(" ")
            stack.append((_SPACE, ok))
        _push(stack, el, ok or name in _RUBY)
    return "".join(parts)


def _row_text(tr: Element, ok: bool) -> str:
    """A table row as its cells joined by " | " (empty cells kept, so column shifts show)."""
    cells = [c for c in tr if c.tag in ("td", "th")]
    if not cells:
        return _inline_text(tr, ok)
    texts = [fold_text(_inline_text(c, ok)) for c in cells]
    return " | ".join(texts) if any(texts) else ""


def strings(root: Element, *, collapse: bool = False) -> list[str]:
    """The plain strings under root in document order, as BeautifulSoup's `get_text` reads them:
    none inside a string container (or all of a container root's own strings, none nested deeper).

    With `collapse`, a string of nothing but ASCII white space outside <pre>/<textarea> becomes
    one newline (if it has one) or one space, as BeautifulSoup stored it.
    """
    if root.tag not in _CONTAINERS and _innermost(root) is not None:
        return []  # inside a template, script or ruby text: no plain string at all
    out: list[str] = []
    nested = 0  # string containers open below root
    pre = [_preserved(root) if collapse else True]
    for event, el in etree.iterwalk(root, events=("start", "end", "comment", "pi")):
        if event == "start":
            if el is not root:
                nested += el.tag in _CONTAINERS
                pre.append(pre[-1] or el.tag in _PRESERVE)
            text = el.text
        elif event == "end":
            if el is root:
                break
            nested -= el.tag in _CONTAINERS
            pre.pop()
            text = el.tail
        else:  # a comment or processing instruction: only its tail is text
            text = el.tail
        if text and not nested:
            if not pre[-1] and not text.strip(_ASCII_SPACE):
                text = "\n" if "\n" in text else " "
            out.append(text)
    return out


def _preserved(el: Element) -> bool:
    return any(node.tag in _PRESERVE for node in (el, *el.iterancestors()))


def get_text(root: Element, separator: str = "") -> str:
    return separator.join(strings(root))


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
        text = folded = fold_text(text)
        for pattern in strip:
            if text:
                text = pattern.sub("", text)
        if text != folded:  # folding is idempotent: only a changed text needs it again
            text = fold_text(text)
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
