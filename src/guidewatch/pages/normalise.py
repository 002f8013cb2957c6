"""Normalise a fetched page into the text that is diffed and the metadata that never is.

The main content becomes a flat list of text blocks (headings, paragraphs, list items, table
rows), each carrying its heading path, so the diff can work section by section. Everything a
site changes without changing the guidance - chrome, cookie banners, typography, white
space, the page's own "last reviewed" date - is removed or folded here, so the same content
always gives the same text and the same hash. Dates and notices go into `Page.metadata`.

The same function reads GOV.UK Content API JSON (`via_api=True`); it yields the same blocks as
the rendered page: the lead paragraph is the item's description, the body is `details.body`.
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import soupsieve
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.dammit import EncodingDetector
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

from guidewatch.model import Block, Page
from guidewatch.sources.profiles import Profile

__all__ = ["IgnoreRules", "compile_ignore", "fold_text", "normalise", "parse_date"]

# --- text folding -------------------------------------------------------------------------

_CHAR_MAP: dict[int, str | None] = {
    **dict.fromkeys(map(ord, "\u2018\u2019\u201a\u201b\u2032\u02bc"), "'"),
    **dict.fromkeys(map(ord, "\u201c\u201d\u201e\u201f\u2033"), '"'),
    **dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-"),
    **dict.fromkeys(
        map(
            ord,
            "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
            "\u202f\u205f\u3000",
        ),
        " ",
    ),
    **dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None),  # zero-width, soft hyphen
    ord("\u2026"): "...",
}
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


def fold_text(text: str) -> str:
    """Quotes, dashes, odd spaces and zero-width characters folded; NFC; single spaces."""
    text = _CONTROL.sub("", text.translate(_CHAR_MAP))
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


# --- dates --------------------------------------------------------------------------------

_MONTHS = {
    name: i + 1
    for i, full in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        )
    )
    for name in (full, full[:3])
} | {"sept": 9}
_DMY = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]+)\.?,?\s+(\d{4})")
_MDY = re.compile(r"([A-Za-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
try:
    _LONDON: Any = ZoneInfo("Europe/London")
except ZoneInfoNotFoundError:  # no tz database: keep the offset the timestamp was written with
    _LONDON = None


def parse_date(value: object) -> str | None:
    """A shown date ("18 February 2016") or ISO timestamp as yyyy-mm-dd, in UK time like GOV.UK shows it."""
    if not isinstance(value, str):
        return None
    text = fold_text(value)
    when = _instant(text)
    if when is not None:
        local = when.astimezone(_LONDON) if _LONDON is not None and when.tzinfo else when
        return local.date().isoformat()
    for pattern, order in ((_DMY, (0, 1, 2)), (_MDY, (1, 0, 2))):
        m = pattern.fullmatch(text)
        if m:
            day, month, year = (m.group(i + 1) for i in order)
            try:
                return date(int(year), _MONTHS[month.lower()], int(day)).isoformat()
            except (KeyError, ValueError):
                return None
    return None


def _instant(text: str) -> datetime | None:
    """An ISO date or timestamp; None for anything else (display dates included)."""
    if not _ISO.match(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        try:
            return datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
        except ValueError:
            return None


def _sort_key(stamp: str) -> datetime:
    """Comparable instant for a change-history entry; unreadable stamps sort oldest."""
    when = _instant(fold_text(stamp))
    if when is None:
        shown = parse_date(stamp)
        when = datetime.fromisoformat(shown) if shown else datetime.min
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _newest_change(entries: Iterable[tuple[str, str]]) -> dict[str, str]:
    """change_note / change_note_at from (timestamp, note) pairs in any order (first wins ties)."""
    items = [(stamp, fold_text(note)) for stamp, note in entries if fold_text(note)]
    if not items:
        return {}
    stamp, note = max(items, key=lambda it: _sort_key(it[0]))  # max keeps the first of equals
    out = {"change_note": note}
    shown = parse_date(stamp)
    if shown:
        out["change_note_at"] = shown
    return out


# --- ignore rules -------------------------------------------------------------------------


@dataclass(frozen=True)
class IgnoreRules:
    """Per-source rules: CSS selectors removed before extraction, regexes removed from block text."""

    css: tuple[str, ...] = ()
    regexes: tuple[re.Pattern[str], ...] = ()


@lru_cache(maxsize=256)
def compile_ignore(ignore: tuple[str, ...]) -> IgnoreRules:
    """Validate and compile `ignore` entries; a bad one raises ValueError naming the rule."""
    css: list[str] = []
    regexes: list[re.Pattern[str]] = []
    for rule in ignore:
        if not isinstance(rule, str):
            raise ValueError(f"ignore rule {rule!r}: expected a string")
        if rule.startswith("css:"):
            selector = rule[4:].strip()
            if not selector:
                raise ValueError(f"ignore rule {rule!r}: empty CSS selector")
            try:
                soupsieve.compile(selector)
            except Exception as exc:  # soupsieve raises several types for bad selectors
                raise ValueError(f"ignore rule {rule!r}: invalid CSS selector: {_one_line(exc)}") from None
            css.append(selector)
        elif rule:
            try:
                regexes.append(re.compile(rule))
            except re.error as exc:
                raise ValueError(f"ignore rule {rule!r}: bad regular expression: {exc}") from None
    return IgnoreRules(tuple(css), tuple(regexes))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


# --- entry point --------------------------------------------------------------------------

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_UNSURE_TYPES = frozenset({"", "text/plain", "application/octet-stream", "binary/octet-stream"})
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG", "image/png"),
    (b"GIF8", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"\xd0\xcf\x11\xe0", "application/msword"),
    (b"RIFF", "application/octet-stream"),
    (b"OggS", "application/ogg"),
)


def normalise(
    body: bytes,
    *,
    url: str,
    profile: Profile,
    content_type: str | None = None,
    via_api: bool = False,
    ignore: Sequence[str] = (),
) -> Page:
    """Main content as heading-tree text blocks plus metadata; never raises on odd markup.

    `ignore`: "css:<selector>" entries are removed before extraction; other entries are regexes
    removed from the (folded) block text, and blocks left empty are dropped.
    """
    rules = compile_ignore(tuple(ignore))
    media, charset = _parse_content_type(content_type)
    if via_api:
        data = _load_json(body, charset)
        if isinstance(data, dict):
            return _from_api(data, url, profile, rules, media or "application/json")
    kind = _classify(body, media)
    if kind != "html":
        return Page(url=url, profile=profile.name, title="", blocks=[], metadata={"content_type": kind})
    return _from_html(decode_html(body, charset), url, profile, rules, media or "text/html")


def _parse_content_type(value: str | None) -> tuple[str, str | None]:
    """("text/html", "utf-8") from a Content-Type header value."""
    if not value:
        return "", None
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'") or None
    return media.strip().lower(), charset


def _classify(body: bytes, media: str) -> str:
    """Return "html" when the body should be read as HTML, else the media type to record."""
    head = body[:1024]
    for magic, sniffed in _MAGIC:  # a PDF is a PDF whatever the server calls it
        if head.startswith(magic):
            return sniffed if media in _HTML_TYPES or media in _UNSURE_TYPES else media
    if media in _HTML_TYPES:
        return "html"
    if media not in _UNSURE_TYPES:
        return media
    looks_html = re.search(rb"<\s*(!doctype\s+html|html|head|body|main|div|p)\b", head.lower()) is not None
    if looks_html or (not media and b"\x00" not in head):
        return "html"
    return media or "application/octet-stream"


# --- decoding -----------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_LEGACY_LATIN = frozenset({"latin-1", "iso8859-1", "ascii"})  # WHATWG reads these as windows-1252


def decode_html(body: bytes, charset: str | None = None) -> str:
    """Bytes to text: the BOM, else the first charset the bytes bear out (UTF-8, the declared ones,
    windows-1252), else the one they fit best; only the bytes invalid in it are replaced.

    UTF-8 comes first because servers mislabel it (as Latin-1, or as UTF-16) more than anything else.
    A UTF-8 page with a stray byte (a Latin-1 "\u00a9" pasted into the footer) is still UTF-8: read
    as windows-1252 every accented letter would become mojibake ("\u00b5g" -> "\u00c2\u00b5g") and
    the whole page would differ from its snapshot. The stray byte alone becomes U+FFFD.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")
    declared = [c for c in (_codec(charset), _codec(_declared_in_markup(body))) if c]
    for encoding in declared:  # UTF-16/32 bytes can be valid UTF-8, so trust a wide declaration first
        # ...unless the body has no NUL byte: markup in UTF-16/32 always has some, so it is mislabelled
        if _wide(encoding) and b"\x00" in body[:4096]:
            try:
                return body.decode(encoding)
            except UnicodeDecodeError:
                pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    candidates = list(dict.fromkeys(c for c in ("utf-8", *declared, "cp1252") if not _wide(c)))
    misfits: list[tuple[int, int, str]] = []
    for order, encoding in enumerate(candidates):
        bad, good = _fit(body, encoding)
        if bad <= good:  # far more than chance: the bytes are in this charset, bar a few strays
            return body.decode(encoding, errors="replace")
        misfits.append((bad, order, encoding))
    return body.decode(min(misfits)[2], errors="replace")


_ESCAPED = re.compile("[\udc80-\udcff]")


def _fit(body: bytes, encoding: str) -> tuple[int, int]:
    """(invalid bytes, valid non-ASCII characters) when `body` is read as `encoding`.

    Text in one charset read as another has invalid bytes everywhere and few valid characters
    (windows-1252 letters are almost never valid UTF-8 sequences), so `bad <= good` tells them apart.
    """
    text = body.decode(encoding, errors="surrogateescape")  # each invalid byte -> U+DC80..U+DCFF
    bad = len(_ESCAPED.findall(text))
    return bad, len(text) - len(text.encode("ascii", errors="ignore")) - bad


def _wide(encoding: str) -> bool:
    return encoding.startswith(("utf-16", "utf-32"))


def _declared_in_markup(body: bytes) -> str | None:
    try:
        found = EncodingDetector.find_declared_encoding(body[:4096], is_html=True)
    except Exception:  # detection is best effort; never fatal
        return None
    return found if isinstance(found, str) else None


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip()).name
    except (LookupError, ValueError):
        return None
    return "cp1252" if codec in _LEGACY_LATIN else codec


def _load_json(body: bytes, charset: str | None) -> object:
    try:
        return json.loads(decode_html(body, charset))
    except ValueError:  # includes JSONDecodeError
        return None


# --- HTML ---------------------------------------------------------------------------------

_FALLBACK_MAIN = ("main", "[role=main]", "body")
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
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)

_Raw = tuple[str, str, int]  # (kind, unfolded text, heading level)


def _soup(markup: str) -> BeautifulSoup:
    """Parse with lxml; bs4's advice warnings (looks like a URL, looks like XML) are noise for a crawler."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(markup, "lxml")


def _from_html(text: str, url: str, profile: Profile, rules: IgnoreRules, media: str) -> Page:
    soup = _soup(text)
    title_el, title = _title(soup, profile)
    metadata = {"content_type": media}
    metadata.update(_dates(soup, profile))
    metadata.update(_change_history(soup, profile))
    metadata.update(_withdrawn(soup, profile))
    if _is_soft_404(soup, title, profile):
        metadata["soft_404"] = "1"
    _fill_public_updated(metadata)
    main = _select_main(soup, profile)
    if title_el is not None and title_el is not main and any(p is main for p in title_el.parents):
        title_el.extract()  # the title is Page.title, not the first block
    _prune(main, (*profile.drop, *rules.css))
    blocks = _finish(_walk(main), profile, rules)
    notice = _unavailable_text(soup, title, blocks, profile)
    if notice:
        metadata["unavailable"] = notice
    return Page(url=url, profile=profile.name, title=title, blocks=blocks, metadata=metadata)


def _title(soup: BeautifulSoup, profile: Profile) -> tuple[Tag | None, str]:
    """The title element (to take out of the text) and the title text."""
    for selector in profile.title:
        el = soup.select_one(selector)
        if el is not None:
            text = fold_text(_inline_text(el))
            if text:
                return el, text
    head = soup.find("title")
    text = fold_text(head.get_text()) if isinstance(head, Tag) else ""
    if profile.title_suffix is not None:
        text = profile.title_suffix.sub("", text).strip()
    return None, text


def _dates(soup: BeautifulSoup, profile: Profile) -> dict[str, str]:
    """The page's own dates, found by their labels in the page text (class names vary)."""
    if not profile.dates:
        return {}
    text = soup.get_text("\n")
    found: dict[str, str] = {}
    for rule in profile.dates:
        if rule.key in found:
            continue
        for m in rule.pattern.finditer(text):
            shown = parse_date(m.group("date"))
            if shown:
                found[rule.key] = shown
                break
    return found


def _change_history(soup: BeautifulSoup, profile: Profile) -> dict[str, str]:
    rule = profile.change_history
    if rule is None:
        return {}
    entries: list[tuple[str, str]] = []
    for item in _select_all(soup, (rule.item,)):
        when = item.select_one(rule.time)
        note = item.select_one(rule.note)
        stamp = (when.get("datetime") or when.get_text()) if when is not None else ""
        text = note.get_text(" ") if note is not None else ""
        entries.append((stamp if isinstance(stamp, str) else "", text))
    return _newest_change(entries)


def _withdrawn(soup: BeautifulSoup, profile: Profile) -> dict[str, str]:
    rule = profile.withdrawn
    if rule is None:
        return {}
    for notice in _select_all(soup, rule.selectors):
        m = rule.pattern.search(fold_text(notice.get_text(" ")))
        if not m:
            continue
        out: dict[str, str] = {}
        when = notice.find("time", attrs={"datetime": True})
        stamp = when.get("datetime") if isinstance(when, Tag) else None
        shown = parse_date(stamp)
        if not shown and "date" in rule.pattern.groupindex:
            shown = parse_date(m.group("date"))
        if shown:
            out["withdrawn_at"] = shown
        explanation = _explanation(_walk(notice), rule.pattern)
        if explanation:
            out["withdrawn_explanation"] = explanation
        return out
    return {}


def _explanation(raw: list[_Raw], title: re.Pattern[str] | None = None) -> str:
    """A notice's text without its title, as one line."""
    parts = [fold_text(t) for kind, t, _ in raw if kind != "heading"]
    text = " ".join(p for p in parts if p)
    return fold_text(title.sub("", text)) if title is not None else text


def _is_soft_404(soup: BeautifulSoup, title: str, profile: Profile) -> bool:
    if not profile.soft_404:
        return False
    head = soup.find("title")
    candidates = [title, fold_text(head.get_text()) if isinstance(head, Tag) else ""]
    candidates += [fold_text(h.get_text(" ")) for h in soup.find_all("h1", limit=3)]
    return any(p.search(c) for p in profile.soft_404 for c in candidates if c)


#: A page with no more main text than this may be nothing but an outage notice or consent wall.
SHORT_PAGE_CHARS = 800


def _unavailable_text(soup: BeautifulSoup, title: str, blocks: list[Block], profile: Profile) -> str | None:
    """The title, h1 or (short page) text saying the page is an outage notice or consent wall.

    Such a 200 stands in for the content; diffing it would report the guidance as deleted.
    """
    if not profile.unavailable:
        return None
    head = soup.find("title")
    candidates = [title, fold_text(head.get_text()) if isinstance(head, Tag) else ""]
    candidates += [fold_text(h.get_text(" ")) for h in soup.find_all("h1", limit=3)]
    text = " ".join(b.text for b in blocks)
    if len(text) <= SHORT_PAGE_CHARS:
        candidates.append(text)
    hit = next((c for c in candidates if c and any(p.search(c) for p in profile.unavailable)), None)
    return hit[:200] if hit else None


def _fill_public_updated(metadata: dict[str, str]) -> None:
    """GOV.UK shows "Last updated" only after a major update; before that it equals publication."""
    if "public_updated_at" not in metadata and "first_published_at" in metadata:
        metadata["public_updated_at"] = metadata["first_published_at"]


def _select_main(soup: BeautifulSoup, profile: Profile) -> Tag:
    for selector in (*profile.main, *_FALLBACK_MAIN):
        el = soup.select_one(selector)
        if el is not None:
            return el
    return soup


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


# --- GOV.UK Content API --------------------------------------------------------------------


def _from_api(data: dict[str, Any], url: str, profile: Profile, rules: IgnoreRules, media: str) -> Page:
    """A Content API item read like its rendered page: description, then the body's blocks."""
    found = data.get("details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    raw: list[_Raw] = []
    description = data.get("description")
    if isinstance(description, str) and description.strip():
        raw.append(("p", description, 0))
    raw += _fragment_blocks(_api_body(details.get("body")), profile, rules)
    metadata = {"content_type": media}
    _put(metadata, "public_updated_at", parse_date(data.get("public_updated_at")))
    first = details.get("first_public_at") or data.get("first_published_at")  # the order GOV.UK shows
    _put(metadata, "first_published_at", parse_date(first))
    history = details.get("change_history")
    if isinstance(history, list):
        entries = [
            (str(h.get("public_timestamp") or ""), str(h.get("note") or ""))
            for h in history
            if isinstance(h, dict)
        ]
        metadata.update(_newest_change(entries))
    notice = data.get("withdrawn_notice")
    if isinstance(notice, dict) and notice:
        _put(metadata, "withdrawn_at", parse_date(notice.get("withdrawn_at")))
        explanation = notice.get("explanation")
        if isinstance(explanation, str):
            text = _explanation(_fragment_blocks(explanation, profile, rules))
            _put(metadata, "withdrawn_explanation", text)
    _fill_public_updated(metadata)
    title = data.get("title")
    return Page(
        url=url,
        profile=profile.name,
        title=fold_text(title) if isinstance(title, str) else "",
        blocks=_finish(raw, profile, rules),
        metadata=metadata,
    )


def _api_body(body: object) -> str:
    """details.body is an HTML string, or a list of {content_type, content} alternatives."""
    if isinstance(body, str):
        return body
    if isinstance(body, list):
        for part in body:
            if isinstance(part, dict) and part.get("content_type") == "text/html":
                return str(part.get("content") or "")
    return ""


def _fragment_blocks(html: str, profile: Profile, rules: IgnoreRules) -> list[_Raw]:
    if not html.strip():
        return []
    soup = _soup(html)
    root = soup.body or soup
    _prune(root, (*profile.drop, *rules.css))
    return _walk(root)


def _put(metadata: dict[str, str], key: str, value: str | None) -> None:
    if value:
        metadata[key] = value
