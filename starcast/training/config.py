"""What one training run is asked to do: the boundary between the CLI, the RayJob and the search."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from starcast.budget import Budget as Budget
from starcast.sample import sample_dataset_uri
from starcast.timestamps import TimestampUnit
from starcast.training.executors import ExecutorChoice


class TrainingSettings(BaseSettings):
    """What the environment sets for every run (`starcast train`, the RayJob, `starcast up`)."""

    model_config = SettingsConfigDict(env_prefix="STARCAST_TRAINING_", extra="ignore")

    executor: ExecutorChoice = Field(
        default=ExecutorChoice.AUTO,
        description="where the fits run: auto (Ray under RAY_ADDRESS, else a local process "
        "pool), local, or ray (a local Ray instance when RAY_ADDRESS is unset)",
    )


class TrainingConfig(BaseModel):
    data_uri: str = Field(default_factory=sample_dataset_uri, description="dataset URI")
    out_uri: str = Field(description="artifact directory URI; must not hold a committed artifact")
    timestamp_unit: TimestampUnit | None = Field(
        default=None,
        description="unit of numeric timestamps in the dataset (epoch seconds: s); "
        "unset, a number where a time should be is refused",
    )
    families: list[str] | None = Field(
        default=None, description="model families to search; all of them when unset"
    )
    budget: Budget = Field(default=Budget.STANDARD, description="size of the search")
    folds: int = Field(default=5, ge=2, le=20, description="K of the K-fold cross-validation")
    include_popularity: bool = Field(
        default=False,
        description="also use features that grow with stars (forks, watchers)",
    )
    seed: int = Field(default=0, description="seed for folds and estimators")
    overwrite: bool = Field(default=False, description="replace an artifact already at out_uri")
    executor: ExecutorChoice = Field(
        default_factory=lambda: TrainingSettings().executor,
        description="where the fits run; default: STARCAST_TRAINING_EXECUTOR, else auto",
    )
