"""Delivery against real local servers: aiosmtpd for SMTP, http.server for webhooks."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import ssl
import stat
import subprocess
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from guidewatch.alerts.channels import (
    DeliveryError,
    SmtpSettings,
    WebhookSettings,
    make_message_id,
    post_digest_webhook,
    post_webhook,
    send_digest_email,
    send_email,
    slack_payload,
    write_files,
)
from guidewatch.alerts.digest import Digest, digest_filename, render, subject, to_json_dict
from test_digest import make_digest

PASSWORD = "s3cret-Pa55word"
TOKEN = "tok-7f9a1c2e-secret"
SENDER = "guidewatch@alerts.example.org"
TO = "editor@example.org"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port() -> int:
    return free_port()  # nothing listens there once the probe socket is closed


# --- SMTP server ------------------------------------------------------------------------------


class Recorder:
    """aiosmtpd handler that keeps what it received."""

    def __init__(self, data_reply: str = "250 OK") -> None:
        self.envelopes: list[Any] = []
        self.data_reply = data_reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        if self.data_reply.startswith("2"):
            self.envelopes.append(envelope)
        return self.data_reply

    def message(self, n: int = 0) -> EmailMessage:
        return message_from_bytes(self.envelopes[n].content, policy=policy.default)  # type: ignore[return-value]


class Authenticator:
    """Accepts one user; the refusal echoes the password to prove we scrub server replies."""

    def __init__(self) -> None:
        self.logins: list[bytes] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append(data.login)
        if data.login == b"guidewatch" and data.password == PASSWORD.encode():
            return AuthResult(success=True)
        echoed = data.password.decode(errors="replace")
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad credentials {echoed}")


@contextmanager
def smtp_server(handler: Any, **kwargs: Any) -> Iterator[Controller]:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command line."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl binary to make a self-signed certificate for the TLS tests")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def server_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*map(str, tls_files))
    return ctx


def settings(port: int, **kw: Any) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, sender=f"guidewatch <{SENDER}>", timeout=10, **kw)


def send(s: SmtpSettings, **kw: Any) -> None:
    args: dict[str, Any] = {"to": TO, "subject": "3 changes", "text": "plain body",
                            "html": "<p>html body</p>", "message_id": "<gw-abc123@alerts.example.org>"}
    args.update(kw)
    send_email(s, args.pop("to"), args.pop("subject"), args.pop("text"), args.pop("html"), **args)


def assert_no_secret(exc: BaseException, caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    # every log record except the test server's own ("mail.log"), which echoes what it was sent
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))
    rendered = "".join(traceback.format_exception(exc)) + repr(exc) + ours
    for secret in secrets:
        assert secret not in rendered


# --- SMTP tests ---------------------------------------------------------------------------------


def test_delivered_message_is_multipart_with_headers() -> None:
    rec = Recorder()
    with smtp_server(rec) as server:
        send(settings(server.port), message_id="<gw-abc123@alerts.example.org>", key="gw-abc123")
    assert len(rec.envelopes) == 1
    env = rec.envelopes[0]
    assert env.mail_from == SENDER and env.rcpt_tos == [TO]
    msg = rec.message()
    assert msg.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p.get_content() for p in msg.iter_parts()}
    assert parts["text/plain"].strip() == "plain body"
    assert parts["text/html"].strip() == "<p>html body</p>"
    assert msg["To"] == TO and msg["Subject"] == "3 changes"
    assert msg["Message-ID"] == "<gw-abc123@alerts.example.org>"
    assert msg["X-Guidewatch-Digest"] == "gw-abc123"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"]


def test_bare_key_as_message_id_becomes_valid_message_id() -> None:
    rec = Recorder()
    with smtp_server(rec) as server:
        send(settings(server.port), message_id="email:gw-abc123")
    msg = rec.message()
    assert msg["Message-ID"] == "<email-gw-abc123@alerts.example.org>"
    assert msg["X-Guidewatch-Digest"] == "email:gw-abc123"
    assert make_message_id("gw-1", "x <a@b.example>") == "<gw-1@b.example>"


def test_real_digest_by_email() -> None:
    rec = Recorder()
    digest = make_digest()
    with smtp_server(rec) as server:
        send_digest_email(settings(server.port), digest)
    msg = rec.message()
    assert msg["Subject"] == subject(digest)
    assert msg["X-Guidewatch-Digest"] == digest.key
    assert msg["Message-ID"] == f"<{digest.key}@alerts.example.org>"
    html = msg.get_body(preferencelist=("html",))
    text = msg.get_body(preferencelist=("plain",))
    assert html is not None and "<del" in html.get_content()
    assert text is not None and "[-must-]{+may+}" in text.get_content()


def test_refusing_server_raises_transient_delivery_error() -> None:
    with smtp_server(Recorder("451 try later")) as server, pytest.raises(DeliveryError) as info:
        send(settings(server.port))
    assert "451" in str(info.value) and "try later" in str(info.value)
    assert f"smtp://127.0.0.1:{server.port}" in str(info.value)
    assert info.value.transient and not info.value.permanent


def test_permanent_refusal_is_not_transient() -> None:
    with smtp_server(Recorder("554 no thanks")) as server, pytest.raises(DeliveryError) as info:
        send(settings(server.port))
    assert "554" in str(info.value) and not info.value.transient
    assert info.value.permanent  # retrying the same message cannot help: the outbox gives up at once


def test_connection_refused_is_readable() -> None:
    with pytest.raises(DeliveryError, match="cannot connect") as info:
        send(settings(closed_port()))
    assert info.value.transient


def test_starttls_with_login(tls_files: tuple[Path, Path]) -> None:
    rec, auth = Recorder(), Authenticator()
    with smtp_server(rec, tls_context=server_tls(tls_files), require_starttls=True,
                     authenticator=auth, auth_require_tls=True) as server:
        send(settings(server.port, security="starttls", ca_file=str(tls_files[0]),
                      username="guidewatch", password=PASSWORD))
    assert auth.logins and len(rec.envelopes) == 1


def test_wrong_password_never_leaks(tls_files: tuple[Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-" + PASSWORD
    with smtp_server(Recorder(), tls_context=server_tls(tls_files), require_starttls=True,
                     authenticator=Authenticator()) as server:
        s = settings(server.port, security="starttls", ca_file=str(tls_files[0]),
                     username="guidewatch", password=wrong)
        with pytest.raises(DeliveryError, match="login refused: 535") as info:
            send(s)
    assert_no_secret(info.value, caplog, wrong)
    assert wrong not in repr(s) and wrong not in str(s)
    assert not info.value.permanent  # fixed in the environment, the next run succeeds


def test_untrusted_certificate_is_explained(tls_files: tuple[Path, Path]) -> None:
    tls = server_tls(tls_files)
    with smtp_server(Recorder(), tls_context=tls, require_starttls=True) as server, \
            pytest.raises(DeliveryError, match="certificate not trusted"):
        send(settings(server.port, security="starttls"))  # system CAs do not know our cert


def test_implicit_tls(tls_files: tuple[Path, Path]) -> None:
    rec = Recorder()
    with smtp_server(rec, ssl_context=server_tls(tls_files)) as server:
        send(settings(server.port, security="ssl", ca_file=str(tls_files[0])))
    assert len(rec.envelopes) == 1


def test_ssl_against_plain_server_is_explained() -> None:
    with smtp_server(Recorder()) as server, pytest.raises(DeliveryError, match="TLS handshake failed"):
        send(settings(server.port, security="ssl"))


def test_starttls_not_offered_is_explained() -> None:
    with smtp_server(Recorder()) as server, pytest.raises(DeliveryError, match="STARTTLS|security"):
        send(settings(server.port, security="starttls"))


def test_password_not_sent_in_clear_to_remote_host(caplog: pytest.LogCaptureFixture) -> None:
    s = SmtpSettings("smtp.example.org", 25, SENDER, username="u", password=PASSWORD)
    with pytest.raises(DeliveryError, match="unencrypted") as info:
        send(s)  # refused before any connection is made
    assert_no_secret(info.value, caplog, PASSWORD)


def test_header_injection_refused() -> None:
    with pytest.raises(DeliveryError, match="line break"):
        send(settings(closed_port()), subject="hi\r\nBcc: victim@example.org")
    with pytest.raises(DeliveryError, match="not an e-mail address"):
        send(settings(closed_port()), to="nobody")


# --- webhook server ---------------------------------------------------------------------------


class Hook(ThreadingHTTPServer):
    """Records each POST; answers with .status (and .location for redirects)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), HookHandler)
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 200
        self.reply = b'{"ok": true}'
        self.location = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class HookHandler(BaseHTTPRequestHandler):
    server: Hook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append((self.path, dict(self.headers.items()), body))
        self.send_response(self.server.status)
        if self.server.location:
            self.send_header("Location", self.server.location)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.reply)))
        self.end_headers()
        self.wfile.write(self.server.reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    server = Hook()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_webhook_posts_json_with_token_and_key(hook: Hook) -> None:
    digest = make_digest()
    data = to_json_dict(digest)
    post_webhook(WebhookSettings(hook.url + "/hooks/guidewatch", token=TOKEN), data, key=digest.key)
    path, headers, body = hook.received[0]
    assert path == "/hooks/guidewatch"
    assert json.loads(body) == data
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Idempotency-Key"] == digest.key
    assert headers["Content-Type"].startswith("application/json")


def test_webhook_without_token_sends_no_authorization(hook: Hook) -> None:
    post_digest_webhook(WebhookSettings(hook.url), make_digest())
    assert "Authorization" not in hook.received[0][1]


def test_slack_style_shape(hook: Hook) -> None:
    digest = make_digest()
    post_webhook(WebhookSettings(hook.url, style="slack"), to_json_dict(digest), key=digest.key)
    body = json.loads(hook.received[0][2])
    assert set(body) == {"text", "blocks"}
    assert body["text"] == "3 changes to 2 sources affect 4 sections of 1 guide"
    types = [b["type"] for b in body["blocks"]]
    assert types == ["header", "section", "context"]
    section = body["blocks"][1]["text"]
    assert section["type"] == "mrkdwn"
    assert "<https://www.gov.uk/guidance/advanced-therapy-medicinal-products-regulation-and-licensing|" \
           "ATMPs: regulation and licensing>" in section["text"]
    assert "What is hospital exemption?" in section["text"]


def test_slack_names_each_change_once_with_its_sections() -> None:
    """Like the e-mail digest, the Slack message is grouped source -> change: a change that bears
    on two sections is one line naming both, by tier, not one line per section."""
    text = slack_payload(to_json_dict(make_digest()))["blocks"][1]["text"]["text"]
    assert text.count("'must' became 'may'") == 1 and text.count("'6 weeks' became '8 weeks'") == 1
    line = next(ln for ln in text.splitlines() if "'must' became 'may'" in ln)
    assert "re-read: *Approved treatment, hospital exemption or clinical trial?*, *What is hospital exemption?*" in line
    assert text.count("|ATMPs: regulation and licensing>") == 1  # each source once, its changes below it


def test_slack_reads_a_digest_frozen_before_sources_were_grouped() -> None:
    """An outbox message frozen by an older version has only the by-section JSON: still sent."""
    data = to_json_dict(make_digest())
    for guide in data["guides"]:
        del guide["sources"]
    text = slack_payload(data)["blocks"][1]["text"]["text"]
    assert "What is hospital exemption?" in text and "'must' became 'may'" in text


def test_slack_escapes_page_text() -> None:
    data = to_json_dict(make_digest())
    item = data["guides"][0]["sections"][0]["items"][0]
    item["change"]["reason"] = "<!channel> <javascript:alert(1)|click>"
    item["source"]["url"] = "javascript:alert(1)"
    source = data["guides"][0]["sources"][0]
    source["changes"][0]["reason"], source["url"] = item["change"]["reason"], "javascript:alert(1)"
    source["title"] = "<!channel>"
    text = slack_payload(data)["blocks"][1]["text"]["text"]
    assert "<!channel>" not in text and "<javascript:" not in text
    assert "&lt;!channel&gt;" in text


def test_slack_stays_within_limits() -> None:
    data = to_json_dict(make_digest())
    data["guides"] = data["guides"] * 80
    payload = slack_payload(data)
    assert len(payload["blocks"]) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in payload["blocks"] if b["type"] == "section")
    assert "more guides" in payload["blocks"][-1]["elements"][0]["text"]


def test_webhook_500_is_transient_error_without_secrets(hook: Hook, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hook.status, hook.reply = 500, f"boom, token was {TOKEN}".encode()
    secret_path = "/services/T000/B000/XXXXsecretXXXX"
    with pytest.raises(DeliveryError, match="answered 500") as info:
        post_webhook(WebhookSettings(hook.url + secret_path, token=TOKEN), {"a": 1}, key="gw-1")
    assert info.value.transient
    assert "boom" in str(info.value)
    assert_no_secret(info.value, caplog, TOKEN, "XXXXsecretXXXX")
    assert TOKEN not in repr(WebhookSettings(hook.url + secret_path, token=TOKEN))


def test_webhook_4xx_is_permanent(hook: Hook) -> None:
    hook.status = 404
    with pytest.raises(DeliveryError, match="answered 404") as info:
        post_webhook(WebhookSettings(hook.url), {"a": 1}, key="gw-1")
    assert not info.value.transient


def test_webhook_redirect_not_followed(hook: Hook) -> None:
    other = Hook()
    try:
        hook.status, hook.location = 307, other.url + "/elsewhere"
        with pytest.raises(DeliveryError, match="redirected"):
            post_webhook(WebhookSettings(hook.url, token=TOKEN), {"a": 1}, key="gw-1")
        assert other.received == []  # the token never went elsewhere
    finally:
        other.server_close()


def test_webhook_refuses_other_schemes_and_dead_servers() -> None:
    with pytest.raises(DeliveryError, match="http or https"):
        post_webhook(WebhookSettings("file:///etc/passwd"), {}, key="gw-1")
    with pytest.raises(DeliveryError, match="cannot connect") as info:
        post_webhook(WebhookSettings(f"http://127.0.0.1:{closed_port()}/x", timeout=5), {}, key="gw-1")
    assert info.value.transient


# --- files ---------------------------------------------------------------------------------------


def test_write_files_atomic_and_named(tmp_path: Path) -> None:
    digest = make_digest()
    out = tmp_path / "alerts"
    paths = write_files(digest, out, ["md", "html", "json", "text"])
    assert [p.name for p in paths] == [digest_filename(digest, f) for f in ("md", "html", "json", "text")]
    assert paths[1].read_text(encoding="utf-8") == render(digest, "html")
    assert json.loads(paths[2].read_text(encoding="utf-8"))["key"] == digest.key
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)  # no temp files left
    write_files(digest, out, ["md"])  # overwriting is fine
    assert len(list(out.iterdir())) == 4


def test_write_files_honours_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        (path,) = write_files(make_digest(), tmp_path, ["json"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_write_files_rejects_unknown_format_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown digest format"):
        write_files(make_digest(), tmp_path / "a", ["md", "pdf"])  # type: ignore[list-item]
    assert not (tmp_path / "a").exists()


def test_write_files_empty_digest(tmp_path: Path) -> None:
    (path,) = write_files(Digest(None, make_digest().generated_at, None, []), tmp_path, ["md"])
    assert "Nothing to review" in path.read_text(encoding="utf-8")
