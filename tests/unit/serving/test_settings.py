"""Settings: STARCAST_* environment, and refusals that say what to change."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from starcast.serving.settings import DEFAULT_PORT, FrontendSettings, WorkerSettings


def test_frontend_defaults_to_port_5100_and_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert FrontendSettings().port == DEFAULT_PORT == 5100
    monkeypatch.setenv("STARCAST_BROKER_URL", "amqp://u:p@rabbit:5672//")
    monkeypatch.setenv("STARCAST_REQUEST_TIMEOUT_S", "3.5")
    settings = FrontendSettings()
    assert settings.broker_url == "amqp://u:p@rabbit:5672//"
    assert settings.request_timeout_s == 3.5


def test_worker_reads_model_digest_and_readiness_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STARCAST_MODEL_URI", "s3://models/m1")
    monkeypatch.setenv("STARCAST_MODEL_SHA256", "a" * 64)
    monkeypatch.setenv("STARCAST_WORKER_READY_FILE", "/run/starcast/ready")
    settings = WorkerSettings()
    assert (settings.model_uri, settings.model_sha256) == ("s3://models/m1", "a" * 64)
    assert str(settings.worker_ready_file) == "/run/starcast/ready"


def test_worker_needs_a_model() -> None:
    with pytest.raises(ValidationError, match="model_uri"):
        WorkerSettings()


def test_malformed_digest_is_refused() -> None:
    with pytest.raises(ValidationError, match="model_sha256"):
        WorkerSettings(model_uri="file:///m", model_sha256="not-a-digest")


def test_only_the_rpc_result_backend_is_accepted() -> None:
    with pytest.raises(ValidationError, match="STARCAST_RESULT_BACKEND=rpc://"):
        FrontendSettings(result_backend="redis://localhost:6379/0")


def test_time_limit_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="task_time_limit_s"):
        WorkerSettings(model_uri="file:///m", task_time_limit_s=0)


@pytest.mark.parametrize("token", ["changeme", "<token>", "  "])
def test_placeholder_github_token_is_refused(token: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        FrontendSettings(github_token=token)
