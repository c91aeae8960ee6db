"""The welcome page's form by `owner/name`, in a real headless Chromium: with a GitHub token set,
`starcast up`'s frontend looks the repository up (a fake GitHub, GitHub's wire format) and the
page shows the prediction, fetching nothing from another host itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.integration.up.launch import ctrl_c, run_up
from tests.support.browser import chromium, console_errors, requests_made
from tests.support.github_fixture import Fixture, generate
from tests.support.github_server import FakeGitHub, Limits
from tests.support.models import ModelArtifact

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECRET: Final = "ghp_pageSECRETtoken00000001"
WAIT_S: Final = 30.0


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    server = FakeGitHub(
        Fixture(generate(5, seed=15)), {SECRET: "page"}, Limits({"page": 5000})
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def served_by_name(
    tmp_path_factory: pytest.TempPathFactory, model_artifact: ModelArtifact, github: FakeGitHub
) -> Iterator[str]:
    directory: Path = tmp_path_factory.mktemp("up-by-name")
    up, port = run_up(
        directory,
        "--model",
        model_artifact.uri,
        STARCAST_GITHUB_TOKEN=SECRET,
        STARCAST_GITHUB_GRAPHQL_URL=f"{github.url}/graphql",
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if up.alive:
            ctrl_c(up)
        up.stop(60)  # an exited child's log stays open until stop


def test_the_form_predicts_for_an_owner_and_name_when_a_token_is_set(
    served_by_name: str, github: FakeGitHub
) -> None:
    name = github.fixture.repos[0].full_name
    api = httpx.post(
        f"{served_by_name}/api/v1/predict",
        json={"repositories": [{"full_name": name}]},
        timeout=30,
    )
    assert api.status_code == 200, api.text
    expected = f"≈ {round(api.json()['predictions'][0]['predicted_stars']):,} stars"
    with chromium() as browser:
        requests_made(browser)  # forget the browser's own start-up pages
        browser.get(f"{served_by_name}/")
        assert "needs a GitHub token" not in browser.page_source
        field = browser.find_element(By.ID, "full_name")
        field.send_keys("not/a name!")  # the browser checks the name before anything is sent
        assert browser.execute_script("return arguments[0].checkValidity()", field) is False
        field.clear()
        field.send_keys(name)
        assert browser.execute_script("return arguments[0].checkValidity()", field) is True
        browser.find_element(By.CSS_SELECTOR, "#predict-form button").click()
        output = browser.find_element(By.ID, "prediction")
        WebDriverWait(browser, WAIT_S).until(lambda d: output.get_attribute("data-state") == "done")
        assert output.find_element(By.CLASS_NAME, "stars").text == expected
        fetched = {r.host for r in requests_made(browser) if r.url.startswith(("http", "ws"))}
        assert fetched == {served_by_name.removeprefix("http://")}  # GitHub is the server's
        assert console_errors(browser) == []
