"""CSS selector lists (chrome to drop, notices to read) matched against a page in one pass."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import soupsieve
from bs4.element import Tag

_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)

# Simple compound selectors (tag, #id, .class, [attr], [attr op value]) are matched by index in one
# pass, which is many times faster than soupsieve on big pages; anything else goes to soupsieve.
_COMPOUND = re.compile(
    r"""(?P<tag>[a-zA-Z][\w-]*)?(?P<rest>(?:[.#][\w-]+|\[\s*[\w-]+\s*(?:[~^$*|]?=\s*(?:"[^"]*"|'[^']*'|[\w-]+)\s*)?\])*)"""
)
_PART = re.compile(r"""([.#])([\w-]+)|\[\s*([\w-]+)\s*(?:([~^$*|]?=)\s*("[^"]*"|'[^']*'|[\w-]+)\s*)?\]""")


@dataclass(frozen=True)
class _Compound:
    tag: str | None
    id: str | None
    classes: frozenset[str]
    attrs: tuple[tuple[str, str | None, str], ...]  # (name, operator or None for presence, value)

    def matches(self, el: Tag, el_id: object, el_classes: list[str]) -> bool:
        if self.tag is not None and el.name != self.tag:
            return False
        if self.id is not None and el_id != self.id:
            return False
        if self.classes and not self.classes.issubset(el_classes):
            return False
        return all(_attr_matches(el.attrs.get(name), op, value) for name, op, value in self.attrs)


def _attr_matches(actual: object, op: str | None, value: str) -> bool:
    if actual is None:
        return False
    if op is None:
        return True
    text = " ".join(actual) if isinstance(actual, list) else str(actual)
    if op == "=":
        return text == value
    if op == "~=":
        return value in text.split()
    if op == "|=":
        return text == value or text.startswith(value + "-")
    if not value:
        return False
    return {"^=": text.startswith, "$=": text.endswith, "*=": text.__contains__}[op](value)


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
        self.soupsieve = soupsieve.compile(", ".join(complex_)) if complex_ else None

    def match(self, el: Tag) -> bool:
        el_id = el.attrs.get("id")
        found = el.attrs.get("class")
        classes: list[str] = found if isinstance(found, list) else str(found or "").split()
        candidates = list(self.by_tag.get(el.name, ()))
        if self.by_attr:
            for name in el.attrs:
                candidates += self.by_attr.get(name, ())
        if isinstance(el_id, str):
            candidates += self.by_id.get(el_id, ())
        for cls in classes:
            candidates += self.by_class.get(cls, ())
        return any(c.matches(el, el_id, classes) for c in candidates)

    def select(self, root: Tag, *, hidden: bool = False) -> list[Tag]:
        """Outermost matching elements under root (and, with `hidden`, hidden ones too)."""
        found: list[Tag] = []
        stack = [c for c in reversed(root.contents) if isinstance(c, Tag)]
        while stack:
            el = stack.pop()
            if self.match(el) or (hidden and _is_hidden(el)):
                found.append(el)
                continue
            stack.extend(c for c in reversed(el.contents) if isinstance(c, Tag))
        if self.soupsieve is not None:
            found += self.soupsieve.select(root)
        return found


@lru_cache(maxsize=128)
def _selectors(selectors: tuple[str, ...]) -> _Selectors:
    return _Selectors(selectors)


def _select_all(root: Tag, selectors: Sequence[str]) -> list[Tag]:
    return _selectors(tuple(selectors)).select(root)


def _prune(root: Tag, selectors: Sequence[str]) -> None:
    """Remove chrome (the profile's and the source's selectors) and hidden elements under root."""
    for el in _selectors(tuple(selectors)).select(root, hidden=True):
        el.extract()


def _is_hidden(el: Tag) -> bool:
    attrs = el.attrs
    if "hidden" in attrs or str(attrs.get("aria-hidden", "")).lower() == "true":
        return True
    style = attrs.get("style")
    return isinstance(style, str) and _HIDDEN_STYLE.search(style) is not None
