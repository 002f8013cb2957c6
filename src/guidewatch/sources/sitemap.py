"""A publisher's own list of guides: its sitemap.xml (or a listing page's links), read safely.

Pure: bytes in, URLs out. The crawl child fetches; this only parses. lxml is told to resolve
no entities, load no DTD and touch no network (a sitemap is untrusted input: a billion-laughs
or an external entity must not expand), and the body was already size-bounded by the fetch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import lxml.etree
import lxml.html

_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


class SitemapError(ValueError):
    """A sitemap or listing that cannot be read; str() is the reason, in one line."""


@dataclass(frozen=True)
class Sitemap:
    """What one sitemap file lists: pages (`<urlset>`) or further sitemaps (`<sitemapindex>`)."""

    pages: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()


def _parser() -> lxml.etree.XMLParser:
    return lxml.etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                                huge_tree=False, remove_comments=True, remove_pis=True)


def parse_sitemap(body: bytes) -> Sitemap:
    """The `<loc>`s of a sitemap or sitemap index; anything else is a SitemapError, so a broken
    file can never read as "no guides any more"."""
    if not body.strip():
        raise SitemapError("the sitemap is empty")
    try:
        root = lxml.etree.fromstring(body, parser=_parser())
    except lxml.etree.XMLSyntaxError as exc:
        raise SitemapError(f"not well-formed XML: {exc.msg}") from None
    if root.getroottree().docinfo.doctype:
        raise SitemapError("a sitemap with a DOCTYPE is refused (entities are never expanded)")
    tag = root.tag if isinstance(root.tag, str) else ""
    local = tag.rsplit("}", 1)[-1]
    if local not in ("urlset", "sitemapindex"):
        raise SitemapError(f"expected <urlset> or <sitemapindex>, found <{local or '?'}>")
    locs = [" ".join((el.text or "").split()) for el in root.iter(f"{_NS}loc", "loc")]
    locs = [loc for loc in locs if loc]
    return Sitemap(pages=tuple(locs)) if local == "urlset" else Sitemap(sitemaps=tuple(locs))


def parse_listing(body: bytes, page_url: str) -> tuple[str, ...]:
    """Every `<a href>` of a listing page, made absolute against the page's URL."""
    try:
        doc = lxml.html.document_fromstring(body, parser=lxml.html.HTMLParser(no_network=True))
    except (ValueError, lxml.etree.LxmlError) as exc:
        raise SitemapError(f"cannot read the listing page: {exc}") from None
    return tuple(urljoin(page_url, str(a.get("href")).strip()) for a in doc.iter("a") if a.get("href"))


def guides_under(urls: tuple[str, ...], site_url: str, under: str) -> tuple[str, ...]:
    """The pages on the sitemap's own host whose path is below `under` (not `under` itself),
    without fragments, each once, in the order listed."""
    site = urlsplit(site_url)
    prefix = under if under.endswith("/") else under + "/"
    found: dict[str, None] = {}
    for url in urls:
        try:
            parts = urlsplit(url)
        except ValueError:
            continue
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != site.netloc.lower():
            continue
        if parts.path.startswith(prefix) and parts.path.rstrip("/") != prefix.rstrip("/"):
            found.setdefault(urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, "")))
    return tuple(found)


def slug_for(url: str, under: str) -> str:
    """The guide's slug from its path below `under`: `/guides/asthma/inhalers.html` under
    `/guides/` is `asthma-inhalers`; lower case letters, digits and hyphens, as `[[guides]]`."""
    path = unquote(urlsplit(url).path)
    rest = path[len(under):] if path.startswith(under) else path
    rest = re.sub(r"\.(html?|php|aspx?)$", "", rest.strip("/"), flags=re.I)
    slug = re.sub(r"[^a-z0-9]+", "-", rest.lower()).strip("-")
    return slug or "guide"
