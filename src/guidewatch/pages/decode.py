"""From a response to text: what the body is (HTML or not) and which charset it is really in.

Servers mislabel both, so the bytes are sniffed and the declared charset is only believed
when the bytes bear it out.
"""

from __future__ import annotations

import codecs
import json
import re

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
    wide = b"\x00" in body[:4096]  # markup in UTF-16/32 always has NUL bytes; without any, it is mislabelled
    declared = _declared(body, charset) if wide else []
    for encoding in declared:  # UTF-16/32 bytes can be valid UTF-8, so trust a wide declaration first
        if _wide(encoding):
            try:
                return body.decode(encoding)
            except UnicodeDecodeError:
                pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = declared or _declared(body, charset)
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


def _declared(body: bytes, charset: str | None) -> list[str]:
    """The charsets the header and the markup declare (looked for only when UTF-8 is not enough)."""
    return [c for c in (_codec(charset), _codec(_declared_in_markup(body))) if c]


def _declared_in_markup(body: bytes) -> str | None:
    from bs4.dammit import EncodingDetector  # imported only for a page that is not UTF-8

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
