"""A real headless Chromium (Debian's `chromium` and `chromium-driver`) driven over WebDriver.

Flags: headless, as root without the sandbox, and with every background connection Chromium
makes by itself turned off (this machine's network is closed; they would be refused at each
start). A fresh profile per browser. The performance log carries the DevTools protocol's
Network events, so a test sees every request the page made, to whichever host.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM: Final = ("chromium", "chromium-browser")
CHROMEDRIVER: Final = "chromedriver"
FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1600",
)
INSTALL_HINT: Final = "install Debian's chromium and chromium-driver: `make system-deps`"


class BrowserMissingError(RuntimeError):
    pass


def _find(names: tuple[str, ...]) -> str:
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    raise BrowserMissingError(f"{' or '.join(names)} not found: {INSTALL_HINT}")


@dataclass(frozen=True)
class Request:
    url: str
    resource: str  # Document, Script, Stylesheet, Image, Fetch...

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = _find(CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="starcast-chromium-") as profile:
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(_find((CHROMEDRIVER,))))
        try:
            yield driver
        finally:
            driver.quit()


def requests_made(driver: webdriver.Chrome) -> list[Request]:
    """Every request the pages asked for since the last call (DevTools Network events)."""
    made = []
    entries = driver.get_log("performance")  # type: ignore[no-untyped-call]
    for entry in entries:
        message: dict[str, Any] = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            params = message["params"]
            made.append(Request(params["request"]["url"], params.get("type", "Other")))
    return made


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """Errors the pages logged (a Content-Security-Policy refusal is one)."""
    return [
        str(entry["message"])
        for entry in driver.get_log("browser")  # type: ignore[no-untyped-call]
        if entry.get("level") == "SEVERE"
    ]
