"""Signing in by e-mailed link, sessions, CSRF and the sign-in rate limits.

A sign-in link is a random single-use token (only its hash is stored) that expires after
`[serve] link_ttl`. Opening the link shows a button; the token is spent only when it is
pressed, so a mail scanner that fetches links cannot use it up. The session is a signed
cookie holding the address and a CSRF token; every POST must carry that token, and a POST
whose Origin is another site is refused before anything else.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from guidewatch.app.review import Reviewer, reviewer
from guidewatch.app.workspace import Workspace
from guidewatch.config import Config
from guidewatch.store import web as rows

bp = Blueprint("auth", __name__)

#: Sign-in requests one client address may make per window, and links one e-mail address gets.
PER_CLIENT, PER_ADDRESS, WINDOW = 10, 3, timedelta(minutes=15)
#: Paths open without a session: the sign-in pages, the stylesheet and the (missing) icon: no
#: alert content. A browser fetches the icon beside the sign-in page; redirecting it to that page
#: would render a second form at the same time and race the first one's CSRF token.
OPEN_PATHS = ("/sign-in", "/static/", "/favicon.ico")


class RateLimiter:
    """Requests per client address in a sliding window (in memory: one app process)."""

    def __init__(self, limit: int = PER_CLIENT, window: timedelta = WINDOW) -> None:
        self.limit, self.window = limit, window.total_seconds()
        self.hits: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self.lock:
            hits = self.hits.setdefault(client, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True


def smtp_mailer(config: Config) -> Callable[[str, str, str], None] | None:
    """Sends sign-in e-mails through `[alerts.email]`; None when e-mail is not configured."""
    e = config.alerts.email
    if e is None:
        return None
    from guidewatch.alerts.channels import SmtpSettings, send_email

    settings = SmtpSettings(host=e.host, port=e.port, sender=e.sender, username=e.username, password=e.password,
                            security=e.security, timeout=e.timeout)  # type: ignore[arg-type]

    def send(to: str, subject: str, text: str) -> None:
        key = "gw-signin-" + secrets.token_hex(8)
        html = "<p>" + text.replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br>") + "</p>"
        send_email(settings, to, subject, text, html, message_id=key, key=key)

    return send


def workspace() -> Workspace:
    return current_app.extensions["guidewatch"]  # type: ignore[no-any-return]


def login_link(ws: Workspace, email: str, base_url: str) -> str | None:
    """A fresh sign-in link for an editor or operator; None for any other address."""
    if reviewer(ws.config, ws.guides, email) is None:
        return None
    token = rows.issue_login_token(ws.store, email, ws.config.serve.link_ttl)
    return f"{base_url.rstrip('/')}/sign-in/{token}"


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _same_origin() -> bool:
    """A browser's Origin (or Referer) on a POST names this app, or is absent (old clients)."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return True
    here = urlsplit(request.host_url)
    there = urlsplit(origin)
    return (there.scheme, there.netloc) == (here.scheme, here.netloc)


def load_reviewer() -> Response | None:
    """Before every request: who is signed in, CSRF on every POST, no content without a session."""
    g.reviewer = None
    email = session.get("email")
    if email:
        g.reviewer = reviewer(workspace().config, workspace().guides, str(email))
    if request.method == "POST":
        sent = request.form.get("csrf", "")
        if not _same_origin() or not sent or not hmac.compare_digest(sent, str(session.get("csrf", ""))):
            abort(403)
    if g.reviewer is None and not request.path.startswith(OPEN_PATHS):
        if request.path.endswith((".csv", ".json")):
            abort(401)
        return redirect(url_for("auth.sign_in"))
    return None


def current() -> Reviewer:
    who: Reviewer | None = g.get("reviewer")
    if who is None:
        abort(401)
    return who


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "reviewer": g.get("reviewer")}


@bp.get("/sign-in")
def sign_in() -> str:
    return render_template("sign_in.html", sent=False)


@bp.post("/sign-in")
def request_link() -> tuple[str, int] | str:
    """E-mail a link to a known address. The answer is the same for unknown ones, so the
    page does not tell who is an editor."""
    ws = workspace()
    email = request.form.get("email", "").strip().lower()
    client = request.remote_addr or "-"
    if not current_app.extensions["guidewatch.limiter"].allow(client):
        return render_template("sign_in.html", sent=False, error="Too many sign-in requests: wait a few "
                               "minutes and try again."), 429
    if "@" not in email or len(email) > 320:
        return render_template("sign_in.html", sent=False, error="Enter your e-mail address."), 400
    if rows.tokens_issued_since(ws.store, email, rows.utcnow() - WINDOW) >= PER_ADDRESS:
        return render_template("sign_in.html", sent=False, error="A link was sent to that address a few "
                               "times already: use the newest one, or wait a few minutes."), 429
    link = login_link(ws, email, current_app.extensions["guidewatch.base_url"])
    mailer = current_app.extensions["guidewatch.mailer"]
    if link and mailer is not None:
        minutes = int(ws.config.serve.link_ttl.total_seconds() // 60)
        mailer(email, "[guidewatch] Your sign-in link",
               f"Sign in to the guidewatch review app:\n\n{link}\n\nThe link works once, for {minutes} minutes. "
               "If you did not ask for it, ignore this e-mail.")
    elif link:
        current_app.logger.warning("no [alerts.email] configured: use `guidewatch serve --print-login EMAIL`")
    return render_template("sign_in.html", sent=True, email=email)


@bp.get("/sign-in/<token>")
def confirm(token: str) -> tuple[str, int] | str:
    email = rows.login_token_email(workspace().store, token)
    if email is None:
        return render_template("sign_in.html", sent=False, error="This sign-in link has expired or was used "
                               "already. Ask for a new one below."), 410
    return render_template("confirm.html", token=token, email=email)


@bp.post("/sign-in/<token>")
def redeem(token: str) -> Response | tuple[str, int]:
    ws = workspace()
    email = rows.redeem_login_token(ws.store, token)
    if email is None or reviewer(ws.config, ws.guides, email) is None:
        return render_template("sign_in.html", sent=False, error="This sign-in link has expired or was used "
                               "already. Ask for a new one below."), 410
    session.clear()
    session.permanent = True
    session["email"] = email
    session["csrf"] = secrets.token_urlsafe(32)
    return redirect(url_for("review.queue"))


@bp.post("/sign-out")
def sign_out() -> Response:
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("auth.sign_in"))


def addresses(ws: Workspace) -> Sequence[str]:
    """Everyone who may sign in: operators, then every guide's editors."""
    seen = dict.fromkeys(ws.config.serve.operators)
    for guide in ws.guides:
        seen.update(dict.fromkeys(e.strip().lower() for e in guide.editors if e.strip()))
    return list(seen)
