"""The Flask application factory for the review app (why Flask: see the package docstring)."""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from typing import Any

from flask import Flask, Response, g, request

from guidewatch.app.workspace import Workspace

log = logging.getLogger("guidewatch.web")

#: How long a signed-in session lasts without signing in again.
SESSION_HOURS = 12

#: No inline script or style, nothing from elsewhere, no framing: injected markup stays inert.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")


def secret_key(env_name: str) -> str:
    """The session-signing key from the environment; a random one (sessions end on restart) without it."""
    key = os.environ.get(env_name)
    if key:
        return key
    log.warning("%s is not set: using a random session key (everyone signs in again after a restart)", env_name)
    return secrets.token_urlsafe(48)


def create_app(ws: Workspace, *, base_url: str, mailer: Any = None) -> Flask:
    """The app over an open workspace. `base_url`: where sign-in links point when `[serve]
    public_url` is not set (never the request's Host header, which a client chooses).
    `mailer(to, subject, text)`: sends a sign-in e-mail (default: the configured SMTP)."""
    from guidewatch.web import auth, views

    cfg = ws.config.serve
    app = Flask(__name__)
    secure = cfg.behind_proxy
    app.config.update(
        SECRET_KEY=secret_key(cfg.secret_env),
        SESSION_COOKIE_NAME="__Host-guidewatch" if secure else "guidewatch",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    if secure:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.extensions["guidewatch"] = ws
    app.extensions["guidewatch.base_url"] = (cfg.public_url or base_url).rstrip("/")
    app.extensions["guidewatch.mailer"] = mailer or auth.smtp_mailer(ws.config)
    app.extensions["guidewatch.limiter"] = auth.RateLimiter()
    from guidewatch.alerts.text import clean, human_time, one_line, reason_text, safe_url, split_evidence

    app.jinja_env.filters.update(safe_url=safe_url, human_time=human_time, one_line=one_line, clean=clean,
                                 evidence=split_evidence, reason=reason_text)
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.before_request(auth.load_reviewer)
    app.after_request(_headers)
    return app


def _headers(response: Response) -> Response:
    """Security headers on every response; pages with alert content are never cached."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    # a sign-in link must not leak to other sites in a Referer; "no-referrer" would make browsers
    # send "Origin: null" on our own forms, which the CSRF check refuses
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if g.get("reviewer") is not None or request.path.startswith("/sign-in"):
        response.headers["Cache-Control"] = "no-store"
    return response
