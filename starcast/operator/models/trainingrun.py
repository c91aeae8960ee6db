"""`TrainingRun` (starcast.io/v1alpha1): train and select a model as a KubeRay RayJob."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import Field

from starcast.budget import Budget
from starcast.operator.models.common import (
    CONDITIONS_DESCRIPTION,
    URI_PATTERN,
    Condition,
    Quantity,
    SecretReference,
    WireModel,
)
from starcast.operator.models.modelrelease import ReleaseGate, ReleaseTemplate

# The families `starcast.training` searches (tests keep this equal to training's list).
FamilyName = Literal[
    "ridge", "random_forest", "extra_trees", "hist_gradient_boosting", "k_neighbors"
]
# Placeholders the output URI template may use; one of the unique ones must be present.
OUTPUT_PLACEHOLDERS: Final = ("{namespace}", "{name}", "{uid}")

IMMUTABLE_SPEC_MESSAGE: Final = (
    "spec is immutable once the TrainingRun has started (its RayJob exists) or ended "
    "(Succeeded or Failed, as its status says): to train with other settings or after fixing "
    "what it failed on, create a new TrainingRun (kubectl delete trainingrun NAME, then apply "
    "it again)"
)


def _cel(rule: str, message: str, field_path: str | None = None) -> dict[str, str]:
    validation = {"rule": rule, "message": message}
    if field_path is not None:
        validation["fieldPath"] = field_path
    return validation


class HeadGroup(WireModel):
    """The Ray head pod: the driver (the training entrypoint) and the GCS run there."""

    cpu: Quantity = Field(default="1", description="CPU request and limit of the head container.")
    memory: Quantity = Field(
        default="2Gi", description="Memory request and limit of the head container."
    )


class WorkerGroup(
    WireModel,
    json_schema_extra={
        "x-kubernetes-validations": [
            _cel(
                "self.minReplicas <= self.replicas && self.replicas <= self.maxReplicas",
                "replicas must lie between minReplicas and maxReplicas",
                ".replicas",
            )
        ]
    },
):
    """The one Ray worker group the trials run on."""

    replicas: int = Field(default=1, ge=0, le=1000, description="Worker pods to start with.")
    min_replicas: int = Field(
        default=0, ge=0, le=1000, description="Fewest worker pods the autoscaler may keep."
    )
    max_replicas: int = Field(
        default=4, ge=0, le=1000, description="Most worker pods the autoscaler may start."
    )
    cpu: Quantity = Field(default="2", description="CPU request and limit of each worker.")
    memory: Quantity = Field(default="4Gi", description="Memory request and limit of each worker.")


class RayResources(WireModel):
    """The Ray cluster the RayJob starts for this run."""

    head: HeadGroup = Field(default_factory=HeadGroup, description="The head pod's resources.")
    workers: WorkerGroup = Field(
        default_factory=WorkerGroup, description="The worker group's size and resources."
    )


class TrainingRunSpec(
    WireModel,
    json_schema_extra={
        "x-kubernetes-validations": [
            _cel(
                "self.outputUri.contains('{name}') || self.outputUri.contains('{uid}')",
                "outputUri must contain {name} or {uid} so that two runs never write the same "
                "artifact, for example s3://models/{namespace}/{name}",
                ".outputUri",
            ),
        ]
    },
):
    """What to train: the data, the search, where the model goes, and the Ray cluster."""

    dataset_uri: str = Field(
        pattern=URI_PATTERN,
        max_length=2048,
        description="Dataset to train on: Parquet or CSV at an s3:// URI (as "
        "`starcast extract export` writes it).",
    )
    families: Annotated[
        list[FamilyName] | None,
        Field(
            default=None,
            min_length=1,
            description="Model families to search; all of them when unset.",
            json_schema_extra={"x-kubernetes-list-type": "set"},
        ),
    ]
    budget: Budget = Field(
        default=Budget.STANDARD,
        description="Size of the hyper-parameter search: quick (10 candidates), standard (42), "
        "full (135).",
    )
    folds: int = Field(default=5, ge=2, le=20, description="K of the K-fold cross-validation.")
    popularity_features: bool = Field(
        default=False,
        description="Also use features that grow with stars (forks, watchers).",
    )
    seed: int = Field(default=0, ge=0, description="Seed for the folds and the estimators.")
    output_uri: str = Field(
        pattern=URI_PATTERN,
        max_length=2048,
        description="Where the model artifact is written: a template in which {namespace}, "
        "{name} and {uid} are replaced by the run's; it must contain {name} or {uid}.",
    )
    storage_secret_ref: SecretReference | None = Field(
        default=None,
        description="Secret with the storage credentials (AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY, optionally AWS_DEFAULT_REGION), given to the Ray pods as "
        "environment and used by the operator to read the artifact. Never put credentials "
        "in the spec.",
    )
    image: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="Trainer image (starcast with Ray); the operator's default when unset.",
    )
    ray: RayResources = Field(
        default_factory=RayResources, description="Resources of the Ray cluster."
    )
    active_deadline_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Fail the run when the job has run this long (KubeRay counts from the "
        "RayJob's start; a deadline failure is never retried).",
    )
    ttl_seconds_after_finished: int = Field(
        default=3600,
        ge=0,
        description="Seconds KubeRay keeps the Ray cluster after the job finished, for logs.",
    )
    retries: int = Field(
        default=0,
        ge=0,
        le=10,
        description="How many times KubeRay may rerun a failed job on a new cluster.",
    )
    auto_release: ReleaseTemplate | None = Field(
        default=None,
        description="On success, release the model with this (a ModelRelease named after the "
        "run) if its CV RMSLE beats the serving model's by minImprovement.",
    )


class Phase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class FamilyScore(WireModel):
    """The best candidate of one family, scored on whole folds."""

    family: str = Field(description="Model family.")
    rmsle: float = Field(description="Cross-validated RMSE on log1p(stars).")
    r2_log: float = Field(description="Cross-validated R² on log1p(stars).")


class RunMetrics(WireModel):
    """The winner's cross-validated scores, the baseline's, and each family's."""

    winner: str = Field(description="The family of the selected model.")
    rmsle: float = Field(description="The winner's cross-validated RMSE on log1p(stars).")
    r2_log: float = Field(description="The winner's cross-validated R² on log1p(stars).")
    baseline_rmsle: float = Field(description="RMSE on log1p(stars) of predicting the median.")
    families: list[FamilyScore] = Field(default_factory=list, description="Score per family.")


class ModelReference(WireModel):
    """The artifact a ModelRelease rolls out: where it is and what it must hash to."""

    uri: str = Field(description="Artifact directory URI.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the model file.")
    version: str = Field(description="The model version the manifest names.")


class TrainingRunStatus(WireModel):
    """What the operator observed; written only by the operator."""

    phase: Phase | None = Field(default=None, description="Pending, Running, Succeeded, Failed.")
    conditions: list[Condition] = Field(
        default_factory=list,
        description=CONDITIONS_DESCRIPTION,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The `metadata.generation` this status is for."
    )
    reason: str | None = Field(
        default=None,
        description="Why the run is in its phase, one CamelCase word (for `kubectl get`).",
    )
    message: str | None = Field(
        default=None, description="Why, for people: what happened and what to do."
    )
    rmsle: str | None = Field(
        default=None,
        description="The winner's RMSLE rounded to 3 decimals, as `kubectl get` shows it "
        "(metrics.rmsle has every digit).",
    )
    output_uri: str | None = Field(
        default=None, description="The artifact URI, the spec's template filled in."
    )
    ray_job_name: str | None = Field(default=None, description="The RayJob this run owns.")
    job_status: str | None = Field(
        default=None, description="The RayJob's last seen `status.jobStatus`."
    )
    job_deployment_status: str | None = Field(
        default=None, description="The RayJob's last seen `status.jobDeploymentStatus`."
    )
    start_time: datetime | None = Field(default=None, description="When the RayJob was created.")
    completion_time: datetime | None = Field(
        default=None, description="When the run succeeded or failed."
    )
    metrics: RunMetrics | None = Field(default=None, description="Scores, once succeeded.")
    model: ModelReference | None = Field(default=None, description="The model, once succeeded.")
    release: ReleaseGate | None = Field(
        default=None, description="Whether autoRelease released the model, and why."
    )


class TrainingRun(WireModel):
    """The parts of a TrainingRun the operator reads: its spec and status."""

    spec: TrainingRunSpec = Field(description="What to train.")
    status: TrainingRunStatus | None = Field(default=None, description="What happened.")
