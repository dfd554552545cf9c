"""A real headless browser for the tests that check what a person sees: Debian's chromium, driven by Playwright.

``render`` opens a page, waits until the network is idle, keeps a full-page screenshot and returns every script
error, console error and request that would leave the machine (refused), so a test asserts the list is empty.
A test that needs it skips, saying how to install it, where chromium or Playwright is missing; ``.ci/run`` installs
chromium, the dev extra Playwright.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium keeps calling Google's hosts, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def render(
    url: str, screenshot: Path, width: int = 1280, height: int = 900, act: Callable[[Any], None] | None = None
) -> list[str]:
    """Load ``url`` (http on loopback, or a file) in headless chromium, do ``act`` on the page as a person would
    (click a button, wait for what it opens), and save a full-page PNG to ``screenshot`` and a copy under
    ``test-artifacts/`` (CI keeps it); the page's problems, one line each (a dialog a script opened among them)."""
    sync_playwright = _playwright()
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
            page.on("console", lambda message: _console_error(message, problems))
            page.on("dialog", lambda dialog: _dialog(dialog, problems))
            page.route("**/*", lambda route: _stay_local(route, problems))
            page.goto(url, wait_until="networkidle")
            if act is not None:
                act(page)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(screenshot, ARTIFACTS / screenshot.name)
    return problems


def _playwright():
    """Playwright's entry point, or a skip naming what to install."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[dev]'")
    return sync_playwright


def _console_error(message, problems: list[str]) -> None:
    if message.type == "error":
        problems.append(f"console error: {message.text}")


def _dialog(dialog, problems: list[str]) -> None:
    problems.append(f"dialog: {dialog.type} {dialog.message}")
    dialog.dismiss()


def _stay_local(route, problems: list[str]) -> None:
    """Let requests to files and loopback through; refuse (and report) any other, at once rather than after a
    network timeout."""
    url = route.request.url
    parsed = urlparse(url)
    if parsed.scheme in ("file", "data", "about", "blob") or parsed.hostname in LOCAL_HOSTS:
        route.continue_()
    else:
        problems.append(f"request off the machine: {url}")
        route.abort()
