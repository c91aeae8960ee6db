"""The operator's configuration: one settings class, from STARCAST_OPERATOR_* environment.

Nothing else in the operator reads the environment; the chart sets these on the Deployment.
"""

from __future__ import annotations

from typing import Final

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TRAINER_IMAGE: Final = "ghcr.io/starcast/trainer:0.1.0"
PLACEHOLDER_SECRETS: Final = frozenset({"changeme", "change-me", "secret", "xxx", "placeholder"})


class OperatorSettings(BaseSettings):
    """How the operator runs and what it gives the RayJobs it makes."""

    model_config = SettingsConfigDict(env_prefix="STARCAST_OPERATOR_", extra="ignore")

    namespaces: list[str] = Field(
        default_factory=list,
        description='Namespaces to watch (JSON list, e.g. \'["ml","ml-dev"]\'); empty: the '
        "whole cluster.",
    )
    trainer_image: str = Field(
        default=DEFAULT_TRAINER_IMAGE,
        min_length=1,
        description="Trainer image of TrainingRuns that name none.",
    )
    storage_endpoint: str | None = Field(
        default=None,
        description="S3 endpoint URL (MinIO, Ceph...) for the operator and the Ray pods; unset: "
        "AWS's.",
    )
    storage_region: str | None = Field(default=None, description="S3 region.")
    storage_access_key_id: SecretStr | None = Field(
        default=None,
        description="The operator's own S3 key, used for runs without a storageSecretRef.",
    )
    storage_secret_access_key: SecretStr | None = Field(
        default=None, description="The secret of storage_access_key_id."
    )
    liveness_host: str = Field(default="0.0.0.0", description="Address of the liveness endpoint.")
    liveness_port: int = Field(default=8080, ge=0, le=65535, description="Liveness port.")
    metrics_host: str = Field(default="0.0.0.0", description="Address of /metrics.")
    metrics_port: int = Field(
        default=9090, ge=0, le=65535, description="Prometheus /metrics port; 0: none."
    )
    peering: str | None = Field(
        default=None,
        description="kopf peering object, so that of several replicas only one acts (made if "
        "missing); unset: standalone, one replica that acts alone.",
    )
    priority: int = Field(
        default=0,
        ge=-(2**31),
        lt=2**31,
        description="Peering priority of this release: an operator with a higher one always acts "
        "first; replicas sharing one are ordered by a random tiebreak (see peering_priority).",
    )
    peering_lifetime_seconds: int = Field(
        default=60,
        ge=5,
        le=3600,
        description="How long a replica that stopped answering (killed, its node lost) holds its "
        "place in the peering before a standby takes over; it touches the peering this often.",
    )
    workers: int = Field(
        default=64,
        ge=1,
        le=256,
        description="TrainingRuns reconciled at once, each on a thread (it waits on one API "
        "call at a time, so a burst of runs needs many); also the synchronous handlers' threads.",
    )
    kuberay_check_seconds: float = Field(
        default=15.0, gt=0, description="How often a run waiting for KubeRay looks again."
    )

    @field_validator("storage_secret_access_key")
    @classmethod
    def _not_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("is a placeholder from an example; set the real secret key")
        return value
