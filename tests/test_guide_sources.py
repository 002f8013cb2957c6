"""`[[guide_sources]]`: a publisher's sitemap (or listing page) on its own site names the guides.

Through real parts: a local site of 30 guide pages and their cited sources, served over real
HTTP on 127.0.0.1, fetched by the real crawl child from the installed `guidewatch` command.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from guidewatch.sources.sitemap import SitemapError, guides_under, parse_sitemap, slug_for
from guidewatch.store import Store
from httpserver import LocalHTTPServer, Reply
from test_alerts import gw, ok

XML = "application/xml"


def cited(server: LocalHTTPServer, n: int) -> str:
    """A cited source on another host than the publisher's (a link to the guide's own host is internal)."""
    return f"http://localhost:{server.port}/sources/{n:02d}"


def guide_page(n: int, server: LocalHTTPServer) -> str:
    """A guide page: chrome with links of its own around the main content that cites one source."""
    return f"""<!doctype html><html><head><title>Guide {n}</title></head><body>
<header><a href="http://localhost:{server.port}/account">Sign in</a></header>
<main><h1>Guide {n}</h1><h2>What to expect</h2>
<p>Read <a href="{cited(server, n)}">the official guidance {n}</a> before treatment.</p>
<p>See also <a href="/guides/guide-01">another guide</a>.</p></main>
<footer><a href="http://localhost:{server.port}/privacy">Privacy</a></footer></body></html>"""


def urlset(server: LocalHTTPServer, paths: list[str]) -> str:
    locs = "".join(f"<url><loc>{server.url(p)}</loc></url>" for p in paths)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'


def serve_sitemap(server: LocalHTTPServer, numbers: list[int]) -> None:
    """An index of two sitemaps, the guides split between them, plus pages outside /guides/."""
    half = len(numbers) // 2
    paths = [f"/guides/guide-{n:02d}" for n in numbers]
    server.route("/sitemap-a.xml", Reply(body=urlset(server, ["/about", "/guides/", *paths[:half]]), content_type=XML))
    server.route("/sitemap-b.xml", Reply(body=urlset(server, paths[half:]), content_type=XML))
    server.route("/sitemap.xml", Reply(content_type=XML, body=(
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{server.url('/sitemap-a.xml')}</loc></sitemap>"
        f"<sitemap><loc>{server.url('/sitemap-b.xml')}</loc></sitemap></sitemapindex>")))


@pytest.fixture
def site(tmp_path: Path, http_server: LocalHTTPServer) -> Path:
    for n in range(1, 32):
        http_server.route(f"/guides/guide-{n:02d}", Reply(body=guide_page(n, http_server)))
        http_server.route(f"/sources/{n:02d}", Reply(body=f"<main><h1>Source {n}</h1><p>Rule {n}.</p></main>"))
    serve_sitemap(http_server, list(range(1, 31)))
    root = tmp_path / "ws"
    root.mkdir()
    (root / "guidewatch.toml").write_text(f"""\
[[guide_sources]]
sitemap = "{http_server.url('/sitemap.xml')}"
under = "/guides/"
profile = "default"
editors = ["editor@example.org"]

[fetch]
allow_private = true
obey_robots = false
download_delay = 0.0
autothrottle = false
retries = 0
timeout = 10
""", encoding="utf-8")
    return root


def test_every_guide_in_the_sitemap_is_watched_and_changes_are_reported(
        site: Path, http_server: LocalHTTPServer, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"GUIDEWATCH_STORE": store_url}
    first = ok(gw(site, "crawl", "--all", env=env)).stdout
    added = [line for line in first.splitlines() if line.startswith("guide added: ")]
    assert len(added) == 30, first
    assert f"guide added: guide-07 ({http_server.url('/guides/guide-07')})" in added
    store = Store(store_url)
    try:
        guides = {g.slug: g for g in store.guides.all()}
        assert sorted(guides) == [f"guide-{n:02d}" for n in range(1, 31)]
        g7 = guides["guide-07"]
        assert g7.title == "Guide 7" and g7.editors == ("editor@example.org",)
        # the citation from the main content; the header's and footer's links are chrome, not citations
        assert [c.url for c in g7.external_citations] == [cited(http_server, 7)]
        assert [s.heading for s in g7.sections][-1] == "What to expect"
        watched = {s.url for s in store.sources.all() if s.active}
        assert watched == {cited(http_server, n) for n in range(1, 31)}
    finally:
        store.close()
    assert http_server.hits("/sources/07") == 1  # the cited sources were crawled

    serve_sitemap(http_server, [*range(3, 31), 31])  # two guides leave the site, one arrives
    second = ok(gw(site, "crawl", "--all", env=env)).stdout
    changes = [line for line in second.splitlines() if line.startswith("guide ")]
    assert changes == [f"guide added: guide-31 ({http_server.url('/guides/guide-31')})",
                       "guide gone: guide-01", "guide gone: guide-02"], second
    store = Store(store_url)
    try:
        assert len(store.guides.all()) == 29
        active = {s.url: s.active for s in store.sources.all(active_only=False)}
        assert active[cited(http_server, 1)] is False  # no guide cites it any more: retired
        assert active[cited(http_server, 31)] is True
    finally:
        store.close()
    third = ok(gw(site, "crawl", "--all", env=env)).stdout
    assert not [line for line in third.splitlines() if line.startswith("guide ")], third
    # kept in the audit: `guidewatch history` and the review app's audit trail
    history = ok(gw(site, "history", env=env)).stdout
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d guidewatch: guide gone: guide-02$", history, re.M), history
    assert f"guidewatch: guide added: guide-31 ({http_server.url('/guides/guide-31')})" in history
    assert history.count("guide added:") == 31 and history.count("guide gone:") == 2
    from guidewatch.app.review import Reviewer, audit
    from guidewatch.app.workspace import open_workspace
    from guidewatch.config import load_config

    monkeypatch.setenv("GUIDEWATCH_STORE", store_url)
    ws = open_workspace(load_config(site / "guidewatch.toml"), sync=False)
    try:
        entries = audit(ws, Reviewer("editor@example.org", True, frozenset()))
    finally:
        ws.close()
    assert {(e.action, e.guides) for e in entries if e.guides == ("guide-01",)} == {
        ("guide added", ("guide-01",)), ("guide gone", ("guide-01",))}


def test_a_malformed_or_missing_sitemap_fails_with_its_reason_and_no_guide_goes(
        site: Path, http_server: LocalHTTPServer, store_url: str) -> None:
    env = {"GUIDEWATCH_STORE": store_url}
    ok(gw(site, "crawl", "--all", env=env))
    http_server.route("/sitemap-b.xml", Reply(body="<urlset><url><loc>http://x/guides/a</loc></url>",
                                              content_type=XML))
    bad = gw(site, "crawl", "--all", env=env)
    assert bad.returncode == 2, bad
    assert "Traceback" not in bad.stderr
    assert f"guidewatch.toml:2: guide_sources[0].sitemap: {http_server.url('/sitemap.xml')}: cannot read the guide " \
           "list: not well-formed XML" in bad.stderr, bad.stderr
    assert "guide gone" not in bad.stdout
    http_server.route("/sitemap.xml", Reply(status=404, body="gone"))
    missing = gw(site, "crawl", "--all", env=env)
    assert missing.returncode == 2 and "cannot fetch the guide list: HTTP 404" in missing.stderr, missing.stderr
    store = Store(store_url)
    try:
        assert len(store.guides.all()) == 30
        assert len(store.sources.all()) == 30  # every cited source is still watched
    finally:
        store.close()


def test_a_listing_page_names_the_guides_too(tmp_path: Path, http_server: LocalHTTPServer, store_url: str) -> None:
    for n in (1, 2):
        http_server.route(f"/guides/guide-{n:02d}", Reply(body=guide_page(n, http_server)))
    http_server.route("/guides/", Reply(body='<ul><li><a href="guide-01">One</a></li>'
                                             '<li><a href="/guides/guide-02#top">Two</a></li>'
                                             '<li><a href="/news/x">News</a></li></ul>'))
    (tmp_path / "guidewatch.toml").write_text(f"""\
[[guide_sources]]
listing = "{http_server.url('/guides/')}"
under = "/guides/"

[fetch]
allow_private = true
obey_robots = false
""", encoding="utf-8")
    out = ok(gw(tmp_path, "guides", env={"GUIDEWATCH_STORE": store_url})).stdout
    assert "guide-01" in out and "guide-02" in out and "news" not in out, out


@pytest.mark.parametrize(("entry", "line", "problem"), [
    ('listing = "https://p.example/guides/"\nsitemap = "https://p.example/sitemap.xml"', 4,
     "guide_sources[0].sitemap: give one of sitemap or listing (a URL)"),
    ('under = "/guides/"', 2, "guide_sources[0].sitemap: give one of sitemap or listing (a URL)"),
    ('sitemap = "https://p.example/sitemap.xml"\nunder = "guides"', 4,
     "guide_sources[0].under: must be a path starting with /, got 'guides'"),
    ('sitemap = "ftp://p.example/sitemap.xml"', 3, "guide_sources[0].sitemap: expected an http(s) URL"),
    ('sitemap = "https://p.example/sitemap.xml"\nprofile = "nosuch"', 3,
     "guide_sources[0].sitemap: unknown profile 'nosuch'"),
])
def test_a_bad_entry_is_one_line_with_its_place(tmp_path: Path, store_url: str, entry: str, line: int,
                                                problem: str) -> None:
    (tmp_path / "guidewatch.toml").write_text(f'store = "x.db"\n[[guide_sources]]\n{entry}\n', encoding="utf-8")
    r = gw(tmp_path, "guides", env={"GUIDEWATCH_STORE": store_url})
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"guidewatch.toml:{line}: {problem}" in lines[0], r.stderr


def test_the_sitemap_parser_expands_no_entity_and_fetches_nothing() -> None:
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
              b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&lol2;</loc></url></urlset>')
    external = (b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&x;</loc></url></urlset>')
    for body in (laughs, external):
        with pytest.raises(SitemapError, match="DOCTYPE"):
            parse_sitemap(body)
    with pytest.raises(SitemapError, match=r"expected <urlset> or <sitemapindex>, found <html>"):
        parse_sitemap(b"<html><body>Maintenance</body></html>")
    with pytest.raises(SitemapError, match="empty"):
        parse_sitemap(b"  ")


def test_only_pages_below_the_path_on_the_sitemaps_own_host_are_guides() -> None:
    urls = ("https://p.example/guides/", "https://p.example/guides/asthma/inhalers.html#top", "https://p.example/about",
            "https://other.example/guides/x", "https://p.example/guidesx/y", "https://p.example/guides/asthma/inhalers.html")
    found = guides_under(urls, "https://p.example/sitemap.xml", "/guides/")
    assert found == ("https://p.example/guides/asthma/inhalers.html",)
    assert slug_for(found[0], "/guides/") == "asthma-inhalers"
    assert slug_for("https://p.example/guides/Käse%20Guide/", "/guides/") == "k-se-guide"


def test_the_profile_says_where_a_guide_pages_content_is(tmp_path: Path, http_server: LocalHTTPServer,
                                                         monkeypatch: pytest.MonkeyPatch, store_url: str) -> None:
    """A profile's `main` picks the guide body out of a page whose <main> also holds a related-links
    panel; its `drop` removes a promo inside the body: neither panel's links are citations."""
    http_server.route("/care/knee", Reply(body=f"""<html><body><main>
<aside class="related"><a href="http://localhost:{http_server.port}/related">Related</a></aside>
<div class="guide-body"><h1>Knee surgery</h1><h2>Before</h2>
<p>Read <a href="{cited(http_server, 1)}">the rule</a>.</p>
<div class="promo"><a href="http://localhost:{http_server.port}/promo">Donate</a></div></div></main></body></html>"""))
    http_server.route("/sitemap.xml", Reply(body=urlset(http_server, ["/care/knee"]), content_type=XML))
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "publisher.toml").write_text(
        'name = "publisher"\nmain = [".guide-body"]\ndrop = [".promo"]\n', encoding="utf-8")
    (tmp_path / "guidewatch.toml").write_text(f"""\
profiles_dir = "profiles"

[[guide_sources]]
sitemap = "{http_server.url('/sitemap.xml')}"
under = "/care/"
profile = "publisher"

[fetch]
allow_private = true
obey_robots = false
""", encoding="utf-8")
    from guidewatch.app.workspace import load_guides
    from guidewatch.config import load_config

    monkeypatch.setenv("GUIDEWATCH_STORE", store_url)
    [guide] = load_guides(load_config(tmp_path / "guidewatch.toml"))
    assert (guide.slug, guide.title, guide.source) == ("knee", "Knee surgery", http_server.url("/care/knee"))
    assert [(c.section, c.url) for c in guide.external_citations] == [("before", cited(http_server, 1))]
