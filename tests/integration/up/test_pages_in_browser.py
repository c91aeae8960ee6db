"""The pages in a real headless Chromium: model, score, features, report, a form that predicts,
`/docs` working offline, and nothing fetched from another host."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import httpx
import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from starcast import artifact
from tests.support.browser import chromium, console_errors, requests_made
from tests.support.models import ModelArtifact

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WAIT_S: Final = 30.0
WEB_SCHEMES: Final = ("http://", "https://", "ws://", "wss://")


@pytest.fixture(scope="module")
def browser() -> Iterator[Chrome]:
    with chromium() as driver:
        yield driver


def hosts_fetched(driver: Chrome) -> set[str]:
    return {r.host for r in requests_made(driver) if r.url.startswith(WEB_SCHEMES)}


def test_the_welcome_page_shows_the_model_its_score_features_and_report(
    served: str, browser: Chrome, reported_model: ModelArtifact
) -> None:
    requests_made(browser)  # forget the browser's own start-up pages
    browser.get(f"{served}/")
    assert browser.find_element(By.ID, "model-version").text == reported_model.version
    manifest = artifact.read_manifest(reported_model.uri)
    score = browser.find_element(By.ID, "cv-score").text
    assert score.startswith(
        f"Cross-validated ({manifest.cv_folds} folds): RMSLE {manifest.winner.metrics.rmsle:.3f} "
        f"against {manifest.baseline.rmsle:.3f} for predicting the median"
    )
    model = httpx.get(f"{served}/api/v1/model", timeout=30).json()
    shown = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#model-features li")]
    assert shown == model["features"]
    report = browser.find_element(By.ID, "report")
    WebDriverWait(browser, WAIT_S).until(
        lambda d: d.execute_script("return arguments[0].complete", report)
    )
    assert browser.execute_script("return arguments[0].naturalWidth", report) > 0
    artifact_report = (reported_model.path / "report.png").read_bytes()
    assert httpx.get(f"{served}/model/report.png", timeout=30).content == artifact_report
    assert hosts_fetched(browser) == {served.removeprefix("http://")}
    assert console_errors(browser) == []


def test_the_form_predicts_from_typed_features_and_warns_about_ignored_ones(
    served: str, browser: Chrome
) -> None:
    browser.get(f"{served}/")
    inputs = browser.find_elements(By.CSS_SELECTOR, "[data-feature]")
    model = httpx.get(f"{served}/api/v1/model", timeout=30).json()
    assert [i.get_attribute("data-feature") for i in inputs] == model["features"]
    counts = [i for i in inputs if i.get_attribute("data-kind") == "integer"]
    counts[0].send_keys("12")
    browser.find_element(By.CSS_SELECTOR, "#predict-form button").click()
    output = browser.find_element(By.ID, "prediction")
    WebDriverWait(browser, WAIT_S).until(lambda d: output.get_attribute("data-state") == "done")
    assert output.find_element(By.CLASS_NAME, "stars").text.endswith(" stars")
    assert model["model_version"] in output.text
    assert console_errors(browser) == []

    browser.get(f"{served}/")  # nothing typed: the model knows nothing, and says so
    browser.find_element(By.CSS_SELECTOR, "#predict-form button").click()
    output = browser.find_element(By.ID, "prediction")
    WebDriverWait(browser, WAIT_S).until(lambda d: output.get_attribute("data-state") == "done")
    assert "no features given" in output.find_element(By.CLASS_NAME, "warning").text


def test_the_example_command_wraps_instead_of_scrolling(served: str, browser: Chrome) -> None:
    browser.set_window_size(480, 900)
    try:
        browser.get(f"{served}/")
        example = browser.find_element(By.ID, "example")
        width, scroll = browser.execute_script(
            "return [arguments[0].clientWidth, arguments[0].scrollWidth]", example
        )
        assert scroll <= width
        assert "api/v1/predict" in example.text
    finally:
        browser.set_window_size(1280, 1600)


def test_docs_render_offline_from_this_server_only(served: str, browser: Chrome) -> None:
    requests_made(browser)
    browser.get(f"{served}/docs")
    WebDriverWait(browser, WAIT_S).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    )
    paths = {e.text for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/api/v1/predict", "/api/v1/model"} <= {p.replace("\u200b", "") for p in paths}
    assert hosts_fetched(browser) == {served.removeprefix("http://")}
    assert console_errors(browser) == []
