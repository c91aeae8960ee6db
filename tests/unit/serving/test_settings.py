"""Settings: STARCAST_* environment, and refusals that say what to change."""

from __future__ import annotations

import os
import re

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from starcast.serving.cli import serve
from starcast.serving.settings import (
    DEFAULT_PORT,
    NO_BROKER,
    NO_DIGEST,
    FrontendSettings,
    QueueSettings,
    WorkerSettings,
)

BROKER = "amqp://u:p@rabbit:5672//"


@pytest.fixture(autouse=True)
def _no_starcast_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("STARCAST_")]:
        monkeypatch.delenv(name)


def test_frontend_defaults_to_port_5100_and_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert FrontendSettings(broker_url=BROKER).port == DEFAULT_PORT == 5100
    monkeypatch.setenv("STARCAST_BROKER_URL", "amqp://u:p@rabbit:5672//")
    monkeypatch.setenv("STARCAST_REQUEST_TIMEOUT_S", "3.5")
    settings = FrontendSettings()
    assert settings.broker_url == "amqp://u:p@rabbit:5672//"
    assert settings.request_timeout_s == 3.5


def test_worker_reads_model_digest_and_readiness_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STARCAST_BROKER_URL", BROKER)
    monkeypatch.setenv("STARCAST_MODEL_URI", "s3://models/m1")
    monkeypatch.setenv("STARCAST_MODEL_SHA256", "a" * 64)
    monkeypatch.setenv("STARCAST_WORKER_READY_FILE", "/run/starcast/ready")
    settings = WorkerSettings()
    assert (settings.model_uri, settings.model_sha256) == ("s3://models/m1", "a" * 64)
    assert str(settings.worker_ready_file) == "/run/starcast/ready"


def test_worker_needs_a_model() -> None:
    with pytest.raises(ValidationError, match="model_uri"):
        WorkerSettings(broker_url=BROKER)


def test_malformed_digest_is_refused() -> None:
    with pytest.raises(ValidationError, match="model_sha256"):
        WorkerSettings(broker_url=BROKER, model_uri="file:///m", model_sha256="not-a-digest")


def test_only_the_rpc_result_backend_is_accepted() -> None:
    with pytest.raises(ValidationError, match="STARCAST_RESULT_BACKEND=rpc://"):
        FrontendSettings(broker_url=BROKER, result_backend="redis://localhost:6379/0")


def test_time_limit_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="task_time_limit_s"):
        WorkerSettings(
            broker_url=BROKER, model_uri="file:///m", model_sha256="a" * 64, task_time_limit_s=0
        )


@pytest.mark.parametrize("token", ["changeme", "<token>", "  "])
def test_placeholder_github_token_is_refused(token: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        FrontendSettings(broker_url=BROKER, github_token=token)


@pytest.mark.parametrize("settings", [FrontendSettings, QueueSettings])
def test_without_a_broker_url_a_deployable_says_so(settings: type[QueueSettings]) -> None:
    with pytest.raises(ValidationError, match=re.escape(NO_BROKER)):
        settings()
    with pytest.raises(ValidationError, match="STARCAST_BROKER_URL is not set"):
        settings(broker_url="  ")


def test_a_worker_without_a_broker_url_says_so() -> None:
    with pytest.raises(ValidationError, match="STARCAST_BROKER_URL is not set"):
        WorkerSettings(model_uri="file:///m", model_sha256="a" * 64)


def test_no_default_broker_credentials_remain() -> None:
    assert QueueSettings.model_fields["broker_url"].is_required()


def test_a_worker_needs_the_expected_model_digest() -> None:
    assert WorkerSettings.model_fields["model_sha256"].is_required()
    with pytest.raises(ValidationError, match=re.escape(NO_DIGEST)):
        WorkerSettings(broker_url=BROKER, model_uri="file:///m")


def test_a_placeholder_broker_password_is_refused() -> None:
    with pytest.raises(ValidationError, match="password in STARCAST_BROKER_URL is a placeholder"):
        FrontendSettings(broker_url="amqp://starcast:changeme@rabbit:5672//")


def test_errors_never_echo_the_secrets_given() -> None:
    with pytest.raises(ValidationError) as caught:
        WorkerSettings(broker_url="amqp://u:hunter2-real@rabbit//", model_uri="file:///m")
    assert "hunter2-real" not in str(caught.value)


def test_the_cli_says_what_is_missing() -> None:
    runner = CliRunner()
    result = runner.invoke(serve, ["frontend"], env={})
    assert result.exit_code == 2
    assert "STARCAST_BROKER_URL is not set" in result.output
    result = runner.invoke(
        serve, ["worker", "--model", "file:///m"], env={"STARCAST_BROKER_URL": BROKER}
    )
    assert result.exit_code == 2
    assert "STARCAST_MODEL_SHA256 is not set" in result.output


@pytest.mark.parametrize(
    ("arguments", "env", "line"),
    [
        (["frontend"], {}, f"error: {NO_BROKER}"),
        (
            ["frontend", "--port", "70000"],
            {"STARCAST_BROKER_URL": "amqp://u:hunter2-real@rabbit//"},
            "error: --port / STARCAST_PORT: Input should be less than or equal to 65535",
        ),
        (
            ["worker", "--model", "file:///m", "--model-sha256", "abc"],
            {"STARCAST_BROKER_URL": "amqp://u:hunter2-real@rabbit//"},
            "error: --model-sha256 / STARCAST_MODEL_SHA256: "
            "String should match pattern '^[0-9a-f]{64}$'",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_its_option_and_variable(
    arguments: list[str], env: dict[str, str], line: str
) -> None:
    result = CliRunner().invoke(serve, arguments, env=env)
    assert result.exit_code == 2
    assert result.output.strip() == line  # not pydantic's header, type tag, URL or prefix
    assert "hunter2-real" not in result.output
