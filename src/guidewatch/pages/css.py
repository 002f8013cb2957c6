"""CSS selector lists (chrome to drop, notices to read) matched against an lxml tree.

Simple compound selectors (tag, #id, .class, [attr], [attr op value]) - nearly every profile
selector - are matched by an index in one pass over the elements; anything else is translated
to XPath by cssselect (sources.selectors). Both are compiled once per process and cached. They match as soupsieve
matched BeautifulSoup's tree before (issue 20): class lists split on any white space, a
combinator may look above the element searched from, `:empty` ignores blank text.

`prune_soup` on a BeautifulSoup tree is kept for guide HTML (app.guide_sources), where speed does not
matter and BeautifulSoup stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from lxml import etree

from guidewatch.pages.blocks import REMOVED
from guidewatch.sources.selectors import compile_selector

if TYPE_CHECKING:
    from bs4.element import Tag

Element = etree._Element

_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)

_COMPOUND = re.compile(
    r"""(?P<tag>[a-zA-Z][\w-]*)?(?P<rest>(?:[.#][\w-]+|\[\s*[\w-]+\s*(?:[~^$*|]?=\s*(?:"[^"]*"|'[^']*'|[\w-]+)\s*)?\])*)"""
)
_PART = re.compile(r"""([.#])([\w-]+)|\[\s*([\w-]+)\s*(?:([~^$*|]?=)\s*("[^"]*"|'[^']*'|[\w-]+)\s*)?\]""")
# Attributes BeautifulSoup split into lists (matched as their words joined by one space).
_LISTS: dict[str, frozenset[str]] = {
    "*": frozenset({"class", "accesskey", "dropzone"}),
    "a": frozenset({"rel", "rev"}),
    "link": frozenset({"rel", "rev"}),
    "td": frozenset({"headers"}),
    "th": frozenset({"headers"}),
    "form": frozenset({"accept-charset"}),
    "object": frozenset({"archive"}),
    "area": frozenset({"rel"}),
    "icon": frozenset({"sizes"}),
    "iframe": frozenset({"sandbox"}),
    "output": frozenset({"for"}),
}
_NO_LISTS: frozenset[str] = frozenset()
_CASE_INSENSITIVE = frozenset(  # soupsieve's list (HTML spec, case-sensitivity of selectors)
    (
        "accept", "accept-charset", "align", "alink", "axis", "bgcolor", "charset", "checked", "clear",
        "codetype", "color", "compact", "declare", "defer", "dir", "direction", "disabled", "enctype",
        "face", "frame", "hreflang", "http-equiv", "lang", "language", "link", "media", "method",
        "multiple", "nohref", "noresize", "noshade", "nowrap", "readonly", "rel", "rev", "rules", "scope",
        "scrolling", "selected", "shape", "target", "text", "type", "valign", "valuetype", "vlink",
    )
)  # fmt: skip


@dataclass(frozen=True)
class _Compound:
    tag: str | None
    id: str | None
    classes: frozenset[str]
    attrs: tuple[tuple[str, str | None, str], ...]  # (name, operator or None for presence, value)

    def matches(self, el: Element, el_id: object, el_classes: Sequence[str], *, ci: bool = False) -> bool:
        """`ci`: the values of HTML's case-insensitive attributes (`type`, `lang`...) matched as
        soupsieve matched them (the chrome index has always matched them exactly)."""
        if self.tag is not None and el.tag != self.tag:
            return False
        if self.id is not None and el_id != self.id:
            return False
        if self.classes and not self.classes.issubset(el_classes):
            return False
        for name, op, value in self.attrs:
            actual = _attr(el, name)
            if ci and actual is not None and name in _CASE_INSENSITIVE:
                actual, value = actual.lower(), value.lower()
            if not _attr_matches(actual, op, value):
                return False
        return True


def _attr(el: Element, name: str) -> str | None:
    value = el.get(name)
    if value is not None and (name in _LISTS["*"] or name in _LISTS.get(el.tag, _NO_LISTS)):  # type: ignore[arg-type]
        return " ".join(value.split())
    return value


def _attr_matches(actual: str | None, op: str | None, value: str) -> bool:
    if actual is None:
        return False
    if op is None:
        return True
    if op == "=":
        return actual == value
    if op == "~=":
        return value in actual.split()
    if op == "|=":
        return actual == value or actual.startswith(value + "-")
    if not value:
        return False
    return {"^=": actual.startswith, "$=": actual.endswith, "*=": actual.__contains__}[op](value)


@lru_cache(maxsize=512)
def _compound(selector: str) -> _Compound | None:
    """The parsed selector when it is a simple compound, else None."""
    m = _COMPOUND.fullmatch(selector.strip())
    if m is None or not selector.strip():
        return None
    ident: str | None = None
    classes: set[str] = set()
    attrs: list[tuple[str, str | None, str]] = []
    for part in _PART.finditer(m.group("rest")):
        if part.group(1) == "#":
            if ident is not None and ident != part.group(2):
                return None
            ident = part.group(2)
        elif part.group(1) == ".":
            classes.add(part.group(2))
        else:
            value = part.group(5) or ""
            if value[:1] in "\"'":
                value = value[1:-1]
            attrs.append((part.group(3).lower(), part.group(4), value))
    tag = m.group("tag")
    return _Compound(tag.lower() if tag else None, ident, frozenset(classes), tuple(attrs))


def _under(scope: Element, found: Iterable[Element]) -> list[Element]:
    """The elements of a whole-document match a search from scope finds, in document order."""
    found = list(found)
    if not found:
        return []
    below = set(scope.iterdescendants(etree.Element)) - _in_templates(scope)
    return [el for el in found if el in below]


def _in_templates(scope: Element) -> set[Element]:
    """The elements inside a <template> below scope: as soupsieve, a search does not enter one
    (a template's contents are not part of the document around it)."""
    out: set[Element] = set()
    for template in scope.iterdescendants("template"):
        if template not in out:
            out.update(template.iterdescendants(etree.Element))
    return out


class _Selectors:
    """A selector list matched against every element under a root in a single pass."""

    def __init__(self, selectors: tuple[str, ...]) -> None:
        self.by_id: dict[str, list[_Compound]] = {}
        self.by_class: dict[str, list[_Compound]] = {}
        self.by_tag: dict[str, list[_Compound]] = {}
        self.by_attr: dict[str, list[_Compound]] = {}
        complex_: list[str] = []
        for selector in selectors:
            c = _compound(selector)
            if c is None:
                complex_.append(selector)
            elif c.id is not None:
                self.by_id.setdefault(c.id, []).append(c)
            elif c.classes:
                self.by_class.setdefault(min(c.classes), []).append(c)
            elif c.tag is not None:
                self.by_tag.setdefault(c.tag, []).append(c)
            else:
                self.by_attr.setdefault(c.attrs[0][0], []).append(c)
        self.xpath = compile_selector(", ".join(complex_)) if complex_ else None
        self.classes = frozenset(self.by_class)
        self.attr_names = tuple(self.by_attr)
        compounds = [c for group in (self.by_id, self.by_class, self.by_tag, self.by_attr) for cs in group.values()
                     for c in cs]
        # When every simple selector names its tag, other elements need no test.
        self.tags = frozenset(c.tag for c in compounds if c.tag) if all(c.tag for c in compounds) else None

    def match(self, el: Element) -> bool:
        get = el.get
        if not (  # the common case, decided without building the candidate list
            el.tag in self.by_tag
            or (self.by_id and get("id") in self.by_id)
            or (self.classes and not self.classes.isdisjoint((get("class") or "").split()))
            or (self.attr_names and any(get(name) is not None for name in self.attr_names))
        ):
            return False
        el_id = get("id")
        found = get("class")
        classes = found.split() if found else ()
        candidates = list(self.by_tag.get(el.tag, ()))  # type: ignore[arg-type]
        if self.by_attr:
            for name in el.attrib:
                candidates += self.by_attr.get(name, ())  # type: ignore[arg-type]
        if el_id is not None:
            candidates += self.by_id.get(el_id, ())
        for cls in classes:
            candidates += self.by_class.get(cls, ())
        return any(c.matches(el, el_id, classes) for c in candidates)

    def select(self, root: Element, *, hidden: bool = False) -> list[Element]:
        """Outermost index matches under root (and, with `hidden`, hidden ones too), then every
        match of the other selectors, each in document order."""
        found = self._outermost(root, hidden)
        if self.xpath is not None:
            found += _under(root, self.xpath(root.getroottree().getroot()))
        return found

    def _outermost(self, root: Element, hidden: bool) -> list[Element]:
        """Matches below root in document order, none inside another."""
        found: list[Element] = []
        tags = None if hidden else self.tags  # when set: no other element can match
        end: Element | None = None  # while set: the first element after the last match's subtree
        for el in root.iterdescendants(etree.Element):
            if end is not None:
                if el is not end:
                    continue
                end = None
            if tags is not None and el.tag not in tags:
                continue
            if self.match(el) or (hidden and _is_hidden(el)):
                found.append(el)
                end = _after(el, root)
                if end is None:
                    break
        return found


def _after(el: Element, root: Element) -> Element | None:
    """The first element after el's subtree (in document order) that is still below root."""
    node: Element | None = el
    while node is not None and node is not root:
        following = next(node.itersiblings(etree.Element), None)
        if following is not None:
            return following
        node = node.getparent()
    return None


@lru_cache(maxsize=128)
def _selectors(selectors: tuple[str, ...]) -> _Selectors:
    return _Selectors(selectors)


def select_all(root: Element, selectors: Sequence[str]) -> list[Element]:
    """Matches below root: the simple selectors' outermost ones, then the others' (see `select`)."""
    return _selectors(tuple(selectors)).select(root)


def select_one(scope: Element, selector: str) -> Element | None:
    """The first element under scope (document order) the selector matches, as soupsieve's select_one."""
    c = _compound(selector)
    if c is None:
        found = _under(scope, compile_selector(selector)(scope.getroottree().getroot()))
        return found[0] if found else None
    hidden: set[Element] | None = None
    for el in scope.iterdescendants(c.tag or etree.Element):
        found_class = el.get("class")
        if c.matches(el, el.get("id"), found_class.split() if found_class else (), ci=True):
            hidden = _in_templates(scope) if hidden is None else hidden
            if el not in hidden:
                return el
    return None


def remove(el: Element) -> None:
    """Take el out of the tree, leaving a comment in its place to carry its tail: the text on
    either side stays two strings, as BeautifulSoup's extract() left them."""
    parent = el.getparent()
    if parent is None:
        return
    mark = etree.Comment("")
    try:
        mark.tail = el.tail
    except ValueError:  # a control character the parser kept but lxml will not write: empty it in place
        el.clear(keep_tail=True)
        el.tag = REMOVED
        return
    parent.replace(el, mark)


def prune(root: Element, selectors: Sequence[str]) -> None:
    """Remove chrome (the profile's and the source's selectors) and hidden elements under root."""
    for el in _selectors(tuple(selectors)).select(root, hidden=True):
        remove(el)


def _is_hidden(el: Element | Tag) -> bool:
    get = el.get
    if get("hidden") is not None or (get("aria-hidden") or "").lower() == "true":
        return True
    style = get("style")
    return style is not None and _HIDDEN_STYLE.search(style) is not None


# --- BeautifulSoup trees (guide HTML) -------------------------------------------------------


def prune_soup(root: Tag, selectors: Sequence[str]) -> None:
    """Remove the selectors' elements and hidden elements under a BeautifulSoup root."""
    import soupsieve  # only guide HTML comes here

    found = list(soupsieve.select(", ".join(selectors), root)) if selectors else []
    found += [el for el in root.find_all(True) if _is_hidden(el)]  # a Tag's get() reads as lxml's
    for el in found:
        el.extract()

