"""The editors' review app (`guidewatch serve`), through Flask's test client over a real
workspace: a local site, a crawl that finds a change, the store on disk.

What is checked: sign-in links work once and expire; nothing is shown without a session;
an editor sees and acts on their own guides only; every POST needs the session's CSRF token
and a same-site origin; decisions, "not relevant" marks and accepting reach the audit trail
(`guidewatch history`, the audit page and its CSV); hostile page text is escaped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from guidewatch.app.workspace import Workspace, open_workspace
from guidewatch.config import load_config
from guidewatch.store import web as rows
from guidewatch.web.app import create_app
from guidewatch.web.auth import login_link
from httpserver import LocalHTTPServer
from test_alerts import ALICE, BOB, CAROL, Site, he_page, ok

LEAD = "lead@example.org"
BASE = "http://127.0.0.1:8080"

#: A guide whose three sections rest on the same source sentence: one change, three impacts.
HE_GUIDE = """# Hospital exemption: a guide for patients

## Notifying the MHRA
A hospital that supplies an advanced therapy under the hospital exemption may notify the MHRA
before the first supply ([MHRA: hospital exemption]({url})).

## Before your first treatment
Your hospital may notify the MHRA before it first supplies your advanced therapy under the hospital exemption.

## Questions to ask your care team
Ask whether the hospital has notified the MHRA about the hospital exemption before the first supply.

## Travelling abroad
Plan trips carefully and take your travel insurance documents with you.
"""

HOSTILE = ("must notify &lt;script&gt;alert('x')&lt;/script&gt; the MHRA "
           "&lt;img src=x onerror=alert(2)&gt; <a href=\"javascript:alert(3)\" onclick=\"alert(4)\">at once</a> before")


def make_site(root: Path, server: LocalHTTPServer, store_url: str, serve: str = "", alerts: str = "") -> Site:
    site = Site(root, server, store_url)
    (root / "guides" / "he.md").write_text(HE_GUIDE.format(url=site.he_url), encoding="utf-8")
    site.configure(alerts + f'\n[serve]\noperators = ["{LEAD}"]\n{serve}')
    return site


@pytest.fixture
def site(tmp_path: Path, http_server: LocalHTTPServer, store_url: str) -> Site:
    s = make_site(tmp_path / "ws", http_server, store_url)
    s.baseline_then_change()
    return s


@pytest.fixture
def ws(site: Site) -> Iterator[Workspace]:
    w = open_workspace(load_config(site.root / "guidewatch.toml"))
    yield w
    w.close()


@pytest.fixture
def app(ws: Workspace) -> Any:
    a = create_app(ws, base_url=BASE, mailer=lambda to, subject, text: None)
    a.testing = True
    return a


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "every form carries the CSRF token"
    return found.group(1)


def signed_in(app: Any, ws: Workspace, email: str) -> Any:
    """A test client with a session, signed in through a real link."""
    client = app.test_client()
    link = login_link(ws, email, BASE)
    assert link is not None
    path = link.removeprefix(BASE)
    page = client.get(path)
    assert page.status_code == 200 and f"Sign in as {email}" in page.text
    done = client.post(path, data={"csrf": csrf(page.text)})
    assert done.status_code == 302 and done.headers["Location"].endswith("/")
    return client


def change_id(ws: Workspace, guide: str) -> int:
    return next(a.change.id for a in ws.store.alerts.find() if a.guide == guide)


def test_a_link_signs_in_once_and_an_expired_one_never(app: Any, ws: Workspace) -> None:
    client = app.test_client()
    link = login_link(ws, ALICE, BASE)
    assert link is not None and login_link(ws, "stranger@example.org", BASE) is None
    path = link.removeprefix(BASE)
    form = client.get(path)
    token = csrf(form.text)
    assert client.post(path, data={"csrf": token}).status_code == 302
    assert "Hospital exemption" in client.get("/").text

    replay = app.test_client()  # the same link again, from another browser
    again = replay.get(path)
    assert again.status_code == 410 and "expired or was used" in again.text
    assert replay.post(path, data={"csrf": csrf(again.text)}).status_code == 410
    assert replay.get("/").status_code == 302, "no session came of it"

    expired = rows.issue_login_token(ws.store, BOB, timedelta(seconds=-1))
    late = app.test_client()
    shown = late.get(f"/sign-in/{expired}")
    assert shown.status_code == 410
    assert late.post(f"/sign-in/{expired}", data={"csrf": csrf(shown.text)}).status_code == 410
    assert late.get("/").status_code == 302


def test_anonymous_requests_get_no_alert_content(app: Any, ws: Workspace, site: Site) -> None:
    client = app.test_client()
    he = change_id(ws, "hospital-exemption")
    source = ws.store.sources.get(site.he_url)
    assert source is not None
    for path in ("/", "/guides/hospital-exemption", f"/changes/{he}", "/sources", f"/sources/{source.id}",
                 "/audit", "/audit.csv"):
        r = client.get(path)
        assert r.status_code in (302, 401), path
        assert "60 days" not in r.text and "MHRA" not in r.text, path
        if r.status_code == 302:
            assert r.headers["Location"].endswith("/sign-in"), path
    r = client.post(f"/changes/{he}/decide", data={"section": "hospital-exemption#notifying-the-mhra",
                                                  "action": "updated"})
    assert r.status_code == 403 and rows.impact_actions(ws.store) == []
    assert client.get("/static/app.css").status_code == 200  # the stylesheet holds no alert content


def test_an_editor_sees_and_acts_on_their_own_guides_only(app: Any, ws: Workspace) -> None:
    bob = signed_in(app, ws, BOB)  # edits genomic testing only
    queue = bob.get("/").text
    assert "Genomic testing" in queue and "up to 12" in queue
    assert "Hospital exemption" not in queue and "60 days" not in queue
    he = change_id(ws, "hospital-exemption")
    assert bob.get(f"/changes/{he}").status_code == 404
    assert bob.get("/guides/hospital-exemption").status_code == 404
    token = csrf(queue)
    r = bob.post(f"/changes/{he}/decide", data={"csrf": token, "section": "hospital-exemption#notifying-the-mhra",
                                                "action": "updated"}, follow_redirects=True)
    assert r.status_code == 404 and rows.impact_actions(ws.store) == []
    assert "not a guide you edit" in bob.get("/").text, "told why, on a page of their own"
    r = bob.post(f"/changes/{he}/accept", data={"csrf": token}, follow_redirects=True)
    assert r.status_code == 404 and "nothing of yours is open" in bob.get("/").text
    assert all(a.status == "open" for a in ws.store.alerts.find(status=None))
    assert "Hospital exemption" not in bob.get("/audit").text
    lead = signed_in(app, ws, LEAD)  # the operator sees every guide
    both = lead.get("/").text
    assert "Hospital exemption" in both and "Genomic testing" in both


def test_a_cross_site_post_changes_nothing(app: Any, ws: Workspace) -> None:
    alice = signed_in(app, ws, ALICE)
    he = change_id(ws, "hospital-exemption")
    page = alice.get(f"/changes/{he}")
    token = csrf(page.text)
    form = {"section": "hospital-exemption#notifying-the-mhra", "action": "no_change"}
    assert alice.post(f"/changes/{he}/decide", data=form).status_code == 403  # no token
    assert alice.post(f"/changes/{he}/decide", data={**form, "csrf": "forged"}).status_code == 403
    evil = alice.post(f"/changes/{he}/decide", data={**form, "csrf": token},
                      headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    assert alice.post(f"/changes/{he}/accept", data={}, headers={"Origin": "https://evil.example"}).status_code == 403
    assert rows.impact_actions(ws.store) == [] and ws.store.changes.dismissals() == []
    ok_post = alice.post(f"/changes/{he}/decide", data={**form, "csrf": token}, headers={"Origin": "http://localhost"})
    assert ok_post.status_code == 302 and len(rows.impact_actions(ws.store)) == 1


def test_decisions_not_relevant_accept_and_the_audit_trail(app: Any, ws: Workspace, site: Site) -> None:
    alice = signed_in(app, ws, ALICE)
    he = change_id(ws, "hospital-exemption")
    page = alice.get(f"/changes/{he}").text
    token = csrf(page)
    sections = re.findall(r'name="section" value="hospital-exemption#([^"]+)"', page)
    assert sorted(sections) == ["before-your-first-treatment", "notifying-the-mhra",
                                "questions-to-ask-your-care-team"], "each impact once, with its own form"
    assert "Accept this version" in page and 'id="accept"' not in page, "not before every section is decided"
    assert "(+2 more)" not in page and "and 2 other edits in the same passage" in page

    def decide(section: str, action: str, note: str = "") -> str:
        r = alice.post(f"/changes/{he}/decide", data={"csrf": token, "section": f"hospital-exemption#{section}",
                                                      "action": action, "note": note}, follow_redirects=True)
        assert r.status_code == 200
        return r.text

    decide("questions-to-ask-your-care-team", "not_relevant", "a question, not a claim")
    marks = ws.store.changes.dismissals(site.he_url)
    assert [(m.guide, m.section, m.by) for m in marks] == [("hospital-exemption", "questions-to-ask-your-care-team",
                                                            ALICE)], "the linker's own mark"
    early = alice.post(f"/changes/{he}/accept", data={"csrf": token}, follow_redirects=True).text
    assert "2 section(s) still need a decision" in early and ws.store.alerts.find(guide="hospital-exemption")
    decide("notifying-the-mhra", "updated", "now says must, 60 days")
    done = decide("before-your-first-treatment", "no_change")
    assert 'id="accept"' in done
    accepted = alice.post(f"/changes/{he}/accept", data={"csrf": token, "note": "checked all three"},
                          follow_redirects=True).text
    assert "Accepted version" in accepted and "1 alert(s) closed" in accepted
    assert ws.store.alerts.find(guide="hospital-exemption") == []
    assert ws.store.alerts.find(guide="genomic-testing"), "bob's guide is untouched"

    history = ok(site.gw("history", site.he_url)).stdout
    assert f"{ALICE}: {site.he_url} version" in history and "note: checked all three" in history
    assert f"{ALICE}: guide updated for hospital-exemption#notifying-the-mhra on c{he}" in history
    assert "note: now says must, 60 days" in history
    assert f"{ALICE}: no change needed for hospital-exemption#before-your-first-treatment" in history
    assert f"marked hospital-exemption#questions-to-ask-your-care-team not relevant to {site.he_url}" in history

    audit = alice.get("/audit").text
    for what in ("accepted", "guide updated", "no change needed", "not relevant", "checked all three"):
        assert what in audit
    assert "nothing recorded" not in alice.get("/audit?editor=alice").text.lower()
    assert "Nothing recorded for these filters" in alice.get("/audit?editor=bob").text
    assert "Nothing recorded for these filters" in alice.get("/audit?until=2000-01-01").text
    csv = alice.get("/audit.csv?guide=hospital-exemption")
    assert csv.mimetype == "text/csv"
    lines = csv.text.strip().splitlines()
    assert lines[0] == "when_utc,who,action,guides,section,source,version,note"
    assert len(lines) == 6, "the baseline, three decisions and the accept"
    assert any(",accepted,hospital-exemption,," in ln for ln in lines)
    assert any("guidewatch (baseline),baseline,hospital-exemption" in ln for ln in lines)


def test_source_page_lists_versions_diffs_any_two_and_cites(app: Any, ws: Workspace, site: Site) -> None:
    carol = signed_in(app, ws, CAROL)
    src = ws.store.sources.get(site.he_url)
    assert src is not None
    page = carol.get(f"/sources/{src.id}").text
    versions = re.findall(r'name="old" value="(\d+)"', page)
    assert len(versions) == 2
    assert "<del>may</del>" in page and "<ins>must</ins>" in page
    assert "Hospital exemption: a guide for patients" in page
    same = carol.get(f"/sources/{src.id}?old={versions[0]}&new={versions[0]}").text
    assert "The text is the same." in same
    assert src.url in carol.get("/sources").text


def test_a_hostile_source_page_is_shown_inert(tmp_path: Path, http_server: LocalHTTPServer, store_url: str) -> None:
    site = make_site(tmp_path / "ws", http_server, store_url)
    site.baseline_then_change(he=he_page(notify=HOSTILE))
    w = open_workspace(load_config(site.root / "guidewatch.toml"))
    try:
        app = create_app(w, base_url=BASE, mailer=lambda *a: None)
        alice = signed_in(app, w, ALICE)
        he = change_id(w, "hospital-exemption")
        src = w.store.sources.get(site.he_url)
        assert src is not None
        for path in (f"/changes/{he}", "/", f"/sources/{src.id}"):
            r = alice.get(path)
            assert "&lt;script&gt;" in r.text, path
            lowered = r.text.lower()
            assert "<script" not in lowered and "<img" not in lowered and "javascript:" not in lowered.replace(
                "javascript:alert", ""), path
            assert "onerror=alert" not in lowered.replace("onerror=alert(2)&gt;", ""), path
            assert "script-src" not in r.headers["Content-Security-Policy"] and "default-src 'none'" in \
                r.headers["Content-Security-Policy"]
    finally:
        w.close()


def test_sign_in_requests_are_rate_limited_and_do_not_tell_who_is_an_editor(app: Any, ws: Workspace) -> None:
    sent: list[tuple[str, str]] = []
    app.extensions["guidewatch.mailer"] = lambda to, subject, text: sent.append((to, text))
    client = app.test_client()
    token = csrf(client.get("/sign-in").text)
    known = client.post("/sign-in", data={"csrf": token, "email": ALICE})
    unknown = client.post("/sign-in", data={"csrf": token, "email": "stranger@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(ALICE, "X") == unknown.text.replace("stranger@example.org", "X")
    assert [to for to, _ in sent] == [ALICE] and f"{BASE}/sign-in/" in sent[0][1]
    for _ in range(2):
        client.post("/sign-in", data={"csrf": token, "email": ALICE})
    assert client.post("/sign-in", data={"csrf": token, "email": ALICE}).status_code == 429, "per address"
    codes = [client.post("/sign-in", data={"csrf": token, "email": f"x{i}@example.org"}).status_code
             for i in range(10)]
    assert 429 in codes, "per client"
    assert len(sent) == 3


def test_serve_print_login_and_secure_cookies_behind_a_proxy(tmp_path: Path, http_server: LocalHTTPServer,
                                                             store_url: str) -> None:
    site = make_site(tmp_path / "ws", http_server, store_url,
                     serve='public_url = "https://review.example.org"\nbehind_proxy = true\n')
    r = ok(site.gw("serve", "--print-login", "Lead@Example.org"))
    assert re.fullmatch(r"https://review\.example\.org/sign-in/[A-Za-z0-9_-]{40,}\n", r.stdout)
    bad = site.gw("serve", "--print-login", "stranger@example.org")
    assert bad.returncode == 2 and "not an editor of any guide" in bad.stderr
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = site.gw("serve", "--port", str(taken.getsockname()[1]))
    assert busy.returncode == 2 and "guidewatch: error: cannot listen on 127.0.0.1:" in busy.stderr
    assert len([ln for ln in busy.stderr.splitlines() if "error" in ln or "Port" in ln]) == 1
    w = open_workspace(load_config(site.root / "guidewatch.toml"))
    try:
        app = create_app(w, base_url=BASE, mailer=lambda *a: None)
        client = app.test_client()
        page = client.get("/sign-in", headers={"X-Forwarded-Proto": "https"})
        cookie = page.headers["Set-Cookie"]
        assert cookie.startswith("__Host-guidewatch=") and "Secure" in cookie and "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
    finally:
        w.close()


def test_a_change_page_shows_the_pages_own_dates_and_change_note_in_words(app: Any, ws: Workspace,
                                                                          site: Site) -> None:
    from datetime import UTC, datetime

    from guidewatch.model import Block, Change, FetchOutcome, Impact, Page

    page = Page(site.he_url, "default", "Hospital exemption for ATMPs",
                [Block(("S",), "heading", "S", 2), Block(("S",), "p", "Hospitals must notify the MHRA.")],
                metadata={"change_note": "Notification rules changed", "change_note_at": "2026-11-20",
                          "last_reviewed": "2026-11-19"})
    src = ws.store.sources.record_fetch(FetchOutcome(url=site.he_url, status="ok", http_status=200,
                                             fetched_at=datetime.now(UTC)), page).source
    note = Change("c1", "change_note", "substantive", "GOV.UK change note: Notification rules changed", (),
                  "Guidance first published.", "Notification rules changed", scope="page",
                  context="change note of 20 November 2026")
    impact = Impact("hospital-exemption", "notifying-the-mhra", "Notifying the MHRA", 0.9, ("MHRA",))
    [alert] = ws.store.changes.record(src.id, src.reviewed_snapshot_id, src.current_snapshot_id, [(note, [impact])])
    shown = signed_in(app, ws, ALICE).get(f"/changes/{ws.store.alerts.find(ids=[alert])[0].change.id}").text
    assert "<dt>Change note</dt><dd>Notification rules changed</dd>" in shown
    assert "<dt>Page last reviewed</dt><dd>2026-11-19</dd>" in shown
    assert ("The publisher added a change note (change note of 20 November 2026): “Notification rules changed”; "
            "the previous note was: “Guidance first published.”") in shown
    assert "<del>" not in shown, "a change note is told in words, not struck through"


def test_guidewatch_serve_answers_and_keeps_sign_in_tokens_out_of_its_log(tmp_path: Path,
                                                                           http_server: LocalHTTPServer,
                                                                           store_url: str) -> None:
    import os
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    from test_alerts import free_port

    site = make_site(tmp_path / "ws", http_server, store_url)
    link = ok(site.gw("serve", "--print-login", ALICE)).stdout.strip()
    port = free_port()
    exe = Path(sys.executable).parent / "guidewatch"
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port)], cwd=site.root, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "GUIDEWATCH_STORE": store_url})
    try:
        url = link.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        for _ in range(100):
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    assert "Sign in as alice@example.org" in r.read().decode()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        else:
            pytest.fail("guidewatch serve did not answer")
        with pytest.raises(urllib.error.HTTPError) as anonymous:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/audit.csv", timeout=5)
        assert anonymous.value.code == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    token = link.rsplit("/", 1)[1]
    assert "GET /sign-in/*** HTTP/1.1" in err and token not in err


def test_the_emailed_digest_links_each_change_to_the_review_app(tmp_path: Path, http_server: LocalHTTPServer,
                                                                store_url: str) -> None:
    from test_alerts import Mailbox, bodies, email_alerts, smtp_server

    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        site = make_site(tmp_path / "ws", http_server, store_url, alerts=email_alerts(port),
                         serve='public_url = "https://review.example.org/"\n')
        site.baseline_then_change()
        ok(site.gw("digest", "--send", "--format", "json"))
        from guidewatch.store import Store

        store = Store(store_url)
        try:
            he = next(a.change.id for a in store.alerts.find() if a.guide == "hospital-exemption")
        finally:
            store.close()
        text, html = bodies(mailbox.to(ALICE)[0])
        assert f"Review it: https://review.example.org/changes/{he}" in text
        assert html.count(f'href="https://review.example.org/changes/{he}"') == 1, "the change once"
        # strip(): Python's e-mail folder puts a 70-77 character subject whole on a continuation
        # line, which leaves a leading space after unfolding (alerts/channels.py builds the message)
        assert mailbox.to(ALICE)[0]["Subject"].strip() == ("[guidewatch] 1 change to review in Hospital exemption: "
                                                           "a guide for patients")
    files = list((site.root / "alerts").glob("*.json"))
    data = json.loads(files[0].read_text())
    links = {c["app_url"] for g in data["guides"] for s in g["sources"] for c in s["changes"]}
    assert f"https://review.example.org/changes/{he}" in links
