"""Render an HTML file in headless Chromium: the DOM a browser builds, and a screenshot.

Used by the digest tests to check the HTML digest the way a reader sees it (the parser
of a real browser, not ours). Runnable by hand too:

    .venv/bin/python tests/browser.py alerts/some-digest.html shot.png
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root in containers; the page is our own file
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
)
TIMEOUT = 90


class BrowserError(RuntimeError):
    """Chromium ran but did not produce what was asked for."""


def find_chromium() -> str | None:
    """$GUIDEWATCH_CHROMIUM, else the first Chromium/Chrome binary on PATH."""
    configured = os.environ.get("GUIDEWATCH_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else shutil.which(configured)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    binary = find_chromium()
    if binary is None:
        raise BrowserError("no chromium binary found (apt-get install chromium, or set GUIDEWATCH_CHROMIUM)")
    with tempfile.TemporaryDirectory(prefix="gw-chromium-") as profile:
        cmd = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def dump_dom(html_file: Path) -> str:
    """The serialised DOM after Chromium parsed (and would have run) the page."""
    result = _run(["--dump-dom", html_file.resolve().as_uri()])
    if result.returncode != 0 or "<html" not in result.stdout:
        raise BrowserError(f"chromium --dump-dom failed ({result.returncode}): {result.stderr[-800:]}")
    return result.stdout


def screenshot(html_file: Path, png: Path, *, width: int = 900, height: int = 2400) -> Path:
    """A PNG of the page at a desktop-ish width, for a human to look at."""
    png = png.resolve()
    png.unlink(missing_ok=True)
    result = _run([f"--screenshot={png}", f"--window-size={width},{height}", html_file.resolve().as_uri()])
    if not png.exists() or png.stat().st_size == 0:
        raise BrowserError(f"no screenshot from chromium ({result.returncode}): {result.stderr[-800:]}")
    return png


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: browser.py PAGE.html [SHOT.png]")
    page = Path(sys.argv[1])
    print(dump_dom(page))
    if len(sys.argv) == 3:
        print(screenshot(page, Path(sys.argv[2])), file=sys.stderr)
