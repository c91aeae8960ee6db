"""Which executor a training run asks for: auto, local or ray, from the option or the env."""

from __future__ import annotations

import pydantic
import pytest
from typer.testing import CliRunner

from starcast.cli import app
from starcast.training.config import TrainingConfig
from starcast.training.executors import ExecutorChoice, resolve


def test_auto_is_ray_under_ray_address_and_the_local_pool_otherwise() -> None:
    assert resolve(ExecutorChoice.AUTO, {"RAY_ADDRESS": "10.0.0.1:6379"}) == ExecutorChoice.RAY
    assert resolve(ExecutorChoice.AUTO, {}) == ExecutorChoice.LOCAL
    assert resolve(ExecutorChoice.AUTO, {"RAY_ADDRESS": ""}) == ExecutorChoice.LOCAL
    # An explicit choice is kept, RAY_ADDRESS or not.
    assert resolve(ExecutorChoice.LOCAL, {"RAY_ADDRESS": "auto"}) == ExecutorChoice.LOCAL
    assert resolve(ExecutorChoice.RAY, {}) == ExecutorChoice.RAY


def test_the_environment_sets_the_default_and_the_option_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STARCAST_TRAINING_EXECUTOR", raising=False)
    assert TrainingConfig(out_uri="file:///m").executor == ExecutorChoice.AUTO
    monkeypatch.setenv("STARCAST_TRAINING_EXECUTOR", "ray")
    assert TrainingConfig(out_uri="file:///m").executor == ExecutorChoice.RAY
    assert TrainingConfig(out_uri="file:///m", executor="local").executor == ExecutorChoice.LOCAL
    monkeypatch.setenv("STARCAST_TRAINING_EXECUTOR", "spark")
    with pytest.raises(pydantic.ValidationError, match="executor"):
        TrainingConfig(out_uri="file:///m")


def test_train_refuses_an_unknown_executor_and_documents_the_choice() -> None:
    result = CliRunner().invoke(app, ["train", "--out", "file:///m", "--executor", "spark"])
    assert result.exit_code == 2
    assert "'spark' is not one of" in result.output
    help_text = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "250"}).output
    # Help is wrapped at 80 columns whatever COLUMNS says, so compare it unwrapped.
    assert "[env STARCAST_TRAINING_EXECUTOR; default auto]" in " ".join(help_text.split())
