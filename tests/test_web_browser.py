"""A real browser drives the review app the way a new editor would, from the e-mail on.

Debian's chromium through Debian's chromedriver (the Service path is given, so Selenium
downloads nothing); the app runs on a real local port, its sign-in mail goes through a real
local SMTP server (aiosmtpd). Screenshots of the queue and of a change page are written to
pytest's tmp dir (docs/ keeps one of each for the README).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from guidewatch.app.workspace import open_workspace
from guidewatch.config import load_config
from guidewatch.web.app import create_app
from httpserver import LocalHTTPServer
from test_alerts import ALICE, Mailbox, email_alerts, free_port, he_page, smtp_server
from test_web import HOSTILE, make_site

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.chromium,
    pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                       reason=f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER})"),
]


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1100,900", "--disable-extensions", "--no-first-run"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


class LiveApp:
    """The app on a real port, in a thread."""

    def __init__(self, site: Any) -> None:
        from werkzeug.serving import make_server

        self.ws = open_workspace(load_config(site.root / "guidewatch.toml"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = make_server("127.0.0.1", self.port, create_app(self.ws, base_url=self.url), threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(10)
        self.ws.close()


def full_page_shot(driver: Any, path: Path) -> Path:
    """The whole page: the window grows to the document's height first."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1100, min(max(int(height) + 160, 600), 6000))  # + the window frame
    driver.save_screenshot(str(path))
    driver.set_window_size(1100, 900)
    return path


def follow(driver: Any, element: Any) -> None:
    """Click a link or submit button and wait for the next page: reading the page at once
    would race the navigation (the old page, or an element gone stale mid-read)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def gone(_: Any) -> bool:
        """Selenium's staleness_of, plus the form ChromeDriver sometimes reports mid-navigation:
        "Node with given id does not belong to the document" (an inspector error, not a stale one)."""
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in str(e):
                return True
            raise
        return False

    WebDriverWait(driver, 30).until(gone)


def sign_in_by_mail(driver: Any, app: LiveApp, mailbox: Mailbox, email: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(app.url + "/")
    assert driver.current_url.endswith("/sign-in"), "no session: the sign-in page"
    driver.find_element(By.ID, "email").send_keys(email)
    follow(driver, driver.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert "Check your e-mail" in driver.page_source
    [message] = mailbox.to(email)
    assert "sign-in link" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http://127\.0\.0\.1:\d+/sign-in/\S+", text)
    assert link, text
    driver.get(link.group(0))
    follow(driver, driver.find_element(By.ID, "confirm"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Review queue"


def decide(driver: Any, section: str, action: str, note: str = "") -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, f"a-hospital-exemption-{section}-{action}").click()
    if note:
        driver.find_element(By.ID, f"n-hospital-exemption-{section}").send_keys(note)
    radio = driver.find_element(By.ID, f"a-hospital-exemption-{section}-{action}")
    form = radio.find_element(By.XPATH, "./ancestor::form")
    follow(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "Recorded:" in driver.find_element(By.CSS_SELECTOR, "[role=status]").text


def test_an_editor_goes_from_the_email_to_a_reviewed_guide(tmp_path: Path, http_server: LocalHTTPServer,
                                                           store_url: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    mailbox = Mailbox()
    with smtp_server(mailbox) as smtp_port:
        site = make_site(tmp_path / "ws", http_server, store_url, alerts=email_alerts(smtp_port))
        site.baseline_then_change()
        app = LiveApp(site)
        try:
            sign_in_by_mail(browser, app, mailbox, ALICE)
            queue_text = browser.find_element(By.TAG_NAME, "main").text
            assert "Hospital exemption: a guide for patients" in queue_text and "Genomic" not in queue_text
            assert queue_text.count("Review change c") == 1, "each open change once"
            full_page_shot(browser, tmp_path / "queue.png")

            follow(browser, browser.find_element(By.PARTIAL_LINK_TEXT, "Review change c"))
            assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Change c")
            assert browser.find_elements(By.CSS_SELECTOR, "del") and browser.find_elements(By.CSS_SELECTOR, "ins")
            full_page_shot(browser, tmp_path / "change.png")
            assert not browser.find_elements(By.ID, "accept"), "accept waits for every section"

            decide(browser, "questions-to-ask-your-care-team", "not_relevant", "asks a question, asserts nothing")
            decide(browser, "notifying-the-mhra", "updated", "now says must and 60 days")
            decide(browser, "before-your-first-treatment", "no_change")
            browser.find_element(By.ID, "accept-note").send_keys("all three sections checked")
            follow(browser, browser.find_element(By.ID, "accept"))
            assert "Accepted version" in browser.find_element(By.CSS_SELECTOR, "[role=status]").text
            assert "Hospital exemption: a guide for patients" in browser.find_element(By.TAG_NAME, "main").text
            assert "Nothing open for this guide." in browser.page_source

            follow(browser, browser.find_element(By.LINK_TEXT, "Audit trail"))
            rows = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "table.audit tbody tr")]
            assert any("accepted" in r and "all three sections checked" in r for r in rows), rows
            assert any("not relevant" in r and "questions-to-ask-your-care-team" in r for r in rows), rows
            assert any("guide updated" in r and ALICE in r for r in rows), rows
            assert any("no change needed" in r for r in rows), rows
            full_page_shot(browser, tmp_path / "audit.png")
        finally:
            app.close()
    assert app.ws.store.alerts.find(guide="hospital-exemption") == []



def test_a_hostile_source_page_renders_inert_in_the_browser(tmp_path: Path, http_server: LocalHTTPServer,
                                                            store_url: str, browser: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    mailbox = Mailbox()
    with smtp_server(mailbox) as smtp_port:
        site = make_site(tmp_path / "ws", http_server, store_url, alerts=email_alerts(smtp_port))
        site.baseline_then_change(he=he_page(notify=HOSTILE))
        app = LiveApp(site)
        try:
            sign_in_by_mail(browser, app, mailbox, ALICE)
            follow(browser, browser.find_element(By.PARTIAL_LINK_TEXT, "Review change c"))
            assert "<script>alert('x')</script>" in browser.find_element(By.TAG_NAME, "main").text, "shown as text"
            assert browser.find_elements(By.TAG_NAME, "script") == []
            assert browser.find_elements(By.CSS_SELECTOR, "main img") == []
            assert not [a for a in browser.find_elements(By.CSS_SELECTOR, "a[href]")
                        if a.get_attribute("href").lower().startswith("javascript:")]
            assert not browser.find_elements(By.CSS_SELECTOR, "[onclick], [onerror]")
            with pytest.raises(NoAlertPresentException):
                browser.switch_to.alert.text  # noqa: B018 - nothing ran
        finally:
            app.close()
