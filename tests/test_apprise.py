"""The apprise channel against a real local receiver: apprise's own `json://` plugin POSTs to
an HTTP server on 127.0.0.1, through the outbox and `guidewatch digest --send`.

The apprise URL carries a password (as real service URLs carry tokens); it lives in an
environment variable and must never reach the output, the log, the store or the digests.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import test_alerts
from guidewatch.alerts.channels import AppriseChannel, Delivery, DeliveryError
from guidewatch.alerts.channels.apprise import notify, scheme_of, url_secrets
from guidewatch.alerts.channels.base import scrub
from guidewatch.app.digest import targets
from guidewatch.config import ConfigError, load_config
from test_alerts import (
    GT_IMPACT,
    GT_SECTION,
    HE_IMPACT,
    HE_SECTION,
    Site,
    free_port,
    incomplete,
    ok,
    seed_change,
    webhook_server,
)

site = test_alerts.site  # the fixtures: a workspace with two guides, and the outbox driven in-process
open_outbox = test_alerts.open_outbox

VAR = "GUIDEWATCH_APPRISE_TEST"
SECRET = "apprise-pw-7f3c9d21-do-not-print"
USER = "guidewatch-bot"


def apprise_url(port: int, path: str = "/notify/room-42") -> str:
    return f"json://{USER}:{SECRET}@127.0.0.1:{port}{path}"


def apprise_alerts(*names: str, **extra: object) -> str:
    head = [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join([*head, "", "[alerts.apprise]", f"urls_env = {json.dumps(list(names or [VAR]))}",
                      "timeout = 5"]) + "\n"


def port_of(url: str) -> int:
    return int(url.split("127.0.0.1:")[1].split("/")[0])


def assert_secret_nowhere(workspace: Site, box: Any, *shown: str) -> None:
    alerts = workspace.root / "alerts"
    files = "".join(p.read_text() for p in alerts.iterdir()) if alerts.exists() else ""
    stored = json.dumps([(d.recipient, d.last_error, d.payload, d.key) for d in box.store.outbox.find()])
    for secret in (SECRET, base64.b64encode(f"{USER}:{SECRET}".encode()).decode()):
        assert all(secret not in text for text in shown), "secret in the output"
        assert secret not in files and secret not in stored


def test_digest_send_posts_once_through_apprise_and_retries_a_500(site: Site, open_outbox: Any) -> None:
    with webhook_server(500, 200) as (url, received):
        site.configure(apprise_alerts(retry_base=0.01, max_attempts=5))
        box = open_outbox()
        seed_change(box.store, site.he_url, "Hospitals may notify.", "Hospitals must notify.", HE_IMPACT)
        seed_change(box.store, site.gt_url, "Results take 4 weeks.", "Results take 12 weeks.", GT_IMPACT)
        env = {VAR: apprise_url(port_of(url))}

        first = incomplete(site.gw("digest", "--send", env=env))
        assert len(received) == 1
        (failed,) = [ln for ln in first.stderr.splitlines() if ln.startswith("delivery failed, will retry:")]
        assert f"apprise:${VAR} (attempt 1 of 5" in failed and "json://" in failed and "500" in failed

        second = ok(site.gw("digest", "--send", env=env))
        assert len(received) == 2 and f"sent apprise:${VAR}" in second.stdout
        third = ok(site.gw("digest", "--send", env=env))
        assert len(received) == 2 and "nothing new to send" in third.stdout

        path, headers, body = received[1]
        assert path == "/notify/room-42"
        assert headers["authorization"] == "Basic " + base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
        posted = json.loads(body)
        (delivered,) = [d for d in box.store.outbox.find() if d.status == "sent"]
        assert delivered.recipient == f"${VAR}" and posted["title"] == delivered.subject
        assert posted["title"].startswith("[guidewatch] 2 changes to review in ")  # the subject names the guides
        assert HE_SECTION in posted["message"] and GT_SECTION in posted["message"]
        assert "Results take [-4-]{+12+} weeks." in posted["message"]  # the plain-text digest
        assert json.loads(received[0][2]) == posted  # the retry is the same frozen message
        assert_secret_nowhere(site, box, *(r.stdout + r.stderr for r in (first, second, third)))


def test_a_receiver_that_is_down_leaves_the_delivery_pending_then_dead(
        site: Site, open_outbox: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()  # nothing listens there
    monkeypatch.setenv(VAR, apprise_url(port))
    site.configure(apprise_alerts(retry_base=0.01, max_attempts=2))
    box = open_outbox()
    seed_change(box.store, site.gt_url, "Results take 4 weeks.", "Results take 12 weeks.", GT_IMPACT)
    first = box.run()
    assert first.sent == [] and len(first.failed) == 1 and "attempt 1 of 2" in first.failed[0]
    assert [d.status for d in box.store.outbox.find()] == ["pending"]
    second = box.run()
    assert len(second.dead) == 1 and second.failed == [] and second.sent == []
    (dead,) = box.store.outbox.find()
    assert dead.status == "dead" and dead.attempts == 2
    assert dead.last_error.startswith("cannot deliver digest gw-") and f"via apprise ${VAR} (json://)" in \
        dead.last_error
    assert_secret_nowhere(site, box, caplog.text, *first.failed, *second.dead)

    with webhook_server(200) as (url, received):  # up again, on another port: fix the variable
        monkeypatch.setenv(VAR, apprise_url(port_of(url)))
        retried = ok(site.gw("digest", "--send", "--retry-dead"))
        assert len(received) == 1 and f"sent apprise:${VAR}" in retried.stdout
        assert_secret_nowhere(site, box, retried.stdout + retried.stderr)


def test_an_unset_variable_is_a_failed_delivery_naming_it_until_it_is_set(
        site: Site, open_outbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR, raising=False)
    site.configure(apprise_alerts(retry_base=0.01))
    box = open_outbox()
    seed_change(box.store, site.gt_url, "Results take 4 weeks.", "Results take 12 weeks.", GT_IMPACT)
    missing = incomplete(site.gw("digest", "--send"))
    (line,) = [ln for ln in missing.stderr.splitlines() if ln.startswith("delivery failed")]
    assert line.endswith(f"the environment variable {VAR} is not set (it holds the apprise URL)")
    assert [d.status for d in box.store.outbox.find()] == ["pending"]

    monkeypatch.setenv(VAR, "nosuchservice://" + SECRET)  # set, but to nothing apprise knows
    unknown = box.run()
    assert len(unknown.failed) == 1 and "apprise does not recognise this URL" in unknown.failed[0]
    assert SECRET not in unknown.failed[0] and "nosuchservice://" in unknown.failed[0]

    with webhook_server(200) as (url, received):
        monkeypatch.setenv(VAR, apprise_url(port_of(url)))
        assert box.run().sent == [f"apprise:${VAR}"] and len(received) == 1
        assert box.run().sent == [] and len(received) == 1
    assert_secret_nowhere(site, box, missing.stdout + missing.stderr, *unknown.failed)


def test_each_variable_is_one_recipient_of_every_guide(site: Site, open_outbox: Any) -> None:
    site.configure(apprise_alerts("GUIDEWATCH_APPRISE_TEAMS", "GUIDEWATCH_APPRISE_NTFY"))
    box = open_outbox()
    assert {t.label: t.guides for t in targets(box.config, box.guides)} == {
        "apprise:$GUIDEWATCH_APPRISE_TEAMS": None, "apprise:$GUIDEWATCH_APPRISE_NTFY": None}
    assert box.config.alerts.apprise is not None and box.config.alerts.apprise.timeout == 5


@pytest.mark.parametrize(("table", "problem"), [
    (f'urls_env = ["{apprise_url(8080)}"]', "urls_env: item 1 is not the name of an environment variable"),
    ("urls_env = []", "urls_env: names no environment variable"),
    ('urls_env = ["A_VAR", "A_VAR"]', "urls_env: names a variable twice"),
    ('urls_env = "A_VAR"', "urls_env: expected a list, got a string"),
    ("timeout = 5", "alerts.apprise.urls_env: is required"),  # not written, so no line of its own
    (f'urls_env = ["A_VAR"]\nurl = "{apprise_url(8080)}"', "alerts.apprise.url: unknown key"),
    ('urls_env = ["A_VAR"]\ntimeout = 0', "timeout: must be greater than 0"),
])
def test_config_errors_are_one_line_naming_file_and_line(tmp_path: Path, table: str, problem: str) -> None:
    path = tmp_path / "guidewatch.toml"
    path.write_text(f'[alerts]\nformats = ["md"]\n\n[alerts.apprise]\n{table}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    line = 5 if "urls_env" in problem else 6  # the line of the key the problem names
    where = f"{path}: " if "required" in problem else f"{path}:{line}: "
    assert "\n" not in message and message.startswith(where) and problem in message
    assert SECRET not in message


def test_a_config_error_exits_2_with_one_line_and_no_secret(site: Site) -> None:
    site.configure(f'[alerts.apprise]\nurls_env = ["{apprise_url(8080)}"]\n')
    r = site.gw("digest", "--send")
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert "guidewatch.toml:" in line and "urls_env: item 1 is not the name of an environment variable" in line
    assert SECRET not in line


def test_a_body_over_the_service_limit_is_truncated_into_one_message() -> None:
    with webhook_server(200) as (url, received):
        text = "\n".join(f"line {n}: Results take 12 weeks." for n in range(3000))  # ~100 kB
        assert len(text) > 32768  # apprise's json:// limit
        notify(apprise_url(port_of(url)), Delivery("gw-big", f"${VAR}", "[guidewatch] a long digest", text),
               where="test", timeout=5)
        (got,) = received
        message = json.loads(got[2])["message"]
        assert text.startswith(message) and len(message) <= 32768 and message.startswith("line 0:")


def test_a_variable_dropped_from_the_config_is_not_read() -> None:
    channel = AppriseChannel(("GUIDEWATCH_APPRISE_TEAMS",), 5)
    with pytest.raises(DeliveryError, match=r"no longer in \[alerts.apprise\] urls_env") as err:
        channel.send(Delivery("gw-1", "$PATH", "[guidewatch] x", "x"))
    assert err.value.transient is False and err.value.permanent is False


def test_apprise_is_imported_only_when_a_digest_goes_through_it(site: Site) -> None:
    site.configure(apprise_alerts())
    code = ("import sys; from guidewatch.cli import main; from guidewatch.config import load_config; "
            "from guidewatch.app.digest import targets; from guidewatch.app.workspace import load_guides; "
            "c = load_config(); assert targets(c, load_guides(c)); print('apprise' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], cwd=site.root, capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


@pytest.mark.parametrize("url", [
    apprise_url(8080),
    "tgram://123456789:AAF-bot-token-secret/987654321",  # the token is the "host"
    "ntfy://ntfy.example.org/patient-guides-topic?auth=tk_secret%2Btoken",
])
def test_every_piece_of_an_apprise_url_is_redacted_from_a_message(url: str) -> None:
    said = f"Failed to reach {url}; host {url.split('://')[1].split('/')[0]}; path {url.split('/', 3)[-1]}"
    shown = scrub(said, url_secrets(url))
    for secret in (SECRET, "AAF-bot-token-secret", "tk_secret+token", "tk_secret%2Btoken", "patient-guides-topic"):
        assert secret not in shown
    assert shown.startswith("Failed to reach ***") and scheme_of(url) in ("json://", "tgram://", "ntfy://")


def test_page_text_reaches_an_html_service_escaped() -> None:
    with webhook_server(200) as (url, received):
        hostile = "Report forms <script>alert('x')</script> & <a href=javascript:alert(1)>here</a>"
        notify(apprise_url(port_of(url)) + "?format=html",  # json:// made to speak HTML, as Teams or Matrix do
               Delivery("gw-html", f"${VAR}", "[guidewatch] <b>subject</b>", hostile), where="test", timeout=5)
        message = json.loads(received[0][2])["message"]
        assert "<script>" not in message and "<a " not in message
        assert "&lt;script&gt;" in message and "&amp;" in message
