"""The command line: a run and its status, with tokens never printed, logged or stored."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from starcast.cli import app
from tests.integration.extraction.conftest import SECRETS, GitHubFactory

pytestmark = pytest.mark.integration


def test_run_and_status_never_show_or_store_the_token(
    github: GitHubFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = github()
    secret = SECRETS["alpha"]
    token_file = tmp_path / "tokens"
    token_file.write_text(f"# one token a line\n{secret}\n")
    monkeypatch.setenv("STARCAST_GITHUB_API_URL", server.url)
    monkeypatch.setenv("STARCAST_GITHUB_TOKEN_FILE", str(token_file))
    db = tmp_path / "extract.sqlite"
    runner = CliRunner()

    with caplog.at_level(logging.DEBUG):
        run = runner.invoke(
            app,
            [
                "--log-level",
                "DEBUG",
                "extract",
                "run",
                "--db",
                f"sqlite:///{db}",
                "--min-stars",
                "100",
            ],
        )
        status = runner.invoke(app, ["extract", "status", "--db", f"sqlite:///{db}"])

    assert run.exit_code == 0, run.output
    assert "ran run 1:" in run.output
    assert status.exit_code == 0, status.output
    assert "done" in status.output
    expected = len(server.matching("stars:>=100 fork:true"))
    assert f"{expected} repositories stored" in status.output
    for text in (run.output, status.output, caplog.text):
        assert secret not in text
    for path in tmp_path.glob("extract.sqlite*"):
        assert secret.encode() not in path.read_bytes()


def test_missing_token_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOKEN", "TOKENS", "TOKEN_FILE", "TOKEN_DIR"):
        monkeypatch.delenv(f"STARCAST_GITHUB_{name}", raising=False)
    result = CliRunner().invoke(
        app, ["extract", "run", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}"]
    )
    assert result.exit_code == 2
    assert "no GitHub token: set STARCAST_GITHUB_TOKEN" in result.output
