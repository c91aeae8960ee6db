"""The RayJob a TrainingRun runs as: built by a pure function, and KubeRay's status read back.

`build_rayjob` follows KubeRay v1.5's RayJob API (ray.io/v1). Choices, and why:
- `submissionMode: K8sJobMode`: a submitter Job runs `ray job submit`; KubeRay's submitter checks
  `ray job status` first (ray-project/kuberay#2154), so its retries never submit twice, and its
  `backoffLimit` is set here deliberately rather than left to KubeRay's default.
- `backoffLimit` (reruns of the whole job on a new cluster) is the spec's `retries`: 0 unless the
  TrainingRun asks.
- `shutdownAfterJobFinishes: true`, or `ttlSecondsAfterFinished` would do nothing.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import yaml
from pydantic import BaseModel, ConfigDict, Field

from starcast.operator import constants as c
from starcast.operator.models.trainingrun import TrainingRunSpec

# KubeRay refuses RayJob names longer than this (utils.MaxRayJobNameLength).
MAX_RAYJOB_NAME: Final = 47
SUBMITTER_BACKOFF_LIMIT: Final = 2
HEAD_CONTAINER: Final = "ray-head"
WORKER_CONTAINER: Final = "ray-worker"
WORKER_GROUP: Final = "workers"
DASHBOARD_PORT: Final = 8265


def rayjob_name(run_name: str) -> str:
    """The RayJob's name, deterministic from the TrainingRun's, within KubeRay's limit."""
    name = f"{c.RAYJOB_NAME_PREFIX}{run_name}"
    if len(name) <= MAX_RAYJOB_NAME:
        return name
    digest = hashlib.sha256(run_name.encode()).hexdigest()[:8]
    return f"{name[: MAX_RAYJOB_NAME - 9].rstrip('-.')}-{digest}"


def output_uri(template: str, *, namespace: str, name: str, uid: str) -> str:
    """The spec's output URI template with the run's namespace, name and uid filled in."""
    return template.replace("{namespace}", namespace).replace("{name}", name).replace("{uid}", uid)


def entrypoint(spec: TrainingRunSpec, out_uri: str) -> str:
    """`python -m starcast.training ...` with the spec's arguments, shell-quoted."""
    argv = [
        "python",
        "-m",
        "starcast.training",
        "--out",
        out_uri,
        "--data",
        spec.dataset_uri,
        "--budget",
        spec.budget.value,
        "--folds",
        str(spec.folds),
        "--seed",
        str(spec.seed),
        "--popularity-features" if spec.popularity_features else "--no-popularity-features",
    ]
    for family in spec.families or ():
        argv += ["--family", family]
    return shlex.join(argv)


@dataclass(frozen=True)
class RunIdentity:
    """The TrainingRun a RayJob belongs to."""

    namespace: str
    name: str
    uid: str


@dataclass(frozen=True)
class StorageEnv:
    """What the Ray pods need to reach storage: the endpoint, region and credentials Secret."""

    endpoint: str | None = None
    region: str | None = None
    secret_name: str | None = None


def labels(run: RunIdentity) -> dict[str, str]:
    return {
        c.LABEL_MANAGED_BY: c.MANAGER_NAME,
        c.LABEL_PART_OF: c.PART_OF,
        c.LABEL_TRAINING_RUN: run.name,
    }


def owner_reference(run: RunIdentity) -> dict[str, Any]:
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.TRAINING_RUN_KIND,
        "name": run.name,
        "uid": run.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _container(name: str, image: str, cpu: str, memory: str, storage: StorageEnv) -> dict[str, Any]:
    env = [{"name": "PYTHONUNBUFFERED", "value": "1"}]
    if storage.endpoint:
        env.append({"name": "AWS_ENDPOINT_URL", "value": storage.endpoint})
    if storage.region:
        env.append({"name": "AWS_DEFAULT_REGION", "value": storage.region})
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "env": env,
        "resources": {
            "requests": {"cpu": cpu, "memory": memory},
            "limits": {"cpu": cpu, "memory": memory},
        },
    }
    if storage.secret_name:
        container["envFrom"] = [{"secretRef": {"name": storage.secret_name}}]
    return container


def build_rayjob(
    run: RunIdentity, spec: TrainingRunSpec, *, image: str, out_uri: str, storage: StorageEnv
) -> dict[str, Any]:
    """The RayJob manifest for a TrainingRun (pure: same inputs, same manifest)."""
    pod_labels = labels(run)
    workers = spec.ray.workers
    head = _container(HEAD_CONTAINER, image, spec.ray.head.cpu, spec.ray.head.memory, storage)
    head["ports"] = [{"name": "dashboard", "containerPort": DASHBOARD_PORT}]
    job_spec: dict[str, Any] = {
        "entrypoint": entrypoint(spec, out_uri),
        "runtimeEnvYAML": yaml.safe_dump(
            {"env_vars": {"STARCAST_TRAINING_RUN": f"{run.namespace}/{run.name}"}}
        ),
        "submissionMode": "K8sJobMode",
        "submitterConfig": {"backoffLimit": SUBMITTER_BACKOFF_LIMIT},
        "backoffLimit": spec.retries,
        "shutdownAfterJobFinishes": True,
        "ttlSecondsAfterFinished": spec.ttl_seconds_after_finished,
        "rayClusterSpec": {
            "enableInTreeAutoscaling": workers.min_replicas < workers.max_replicas,
            "headGroupSpec": {
                "rayStartParams": {"dashboard-host": "0.0.0.0"},
                "template": {"metadata": {"labels": pod_labels}, "spec": {"containers": [head]}},
            },
            "workerGroupSpecs": [
                {
                    "groupName": WORKER_GROUP,
                    "replicas": workers.replicas,
                    "minReplicas": workers.min_replicas,
                    "maxReplicas": workers.max_replicas,
                    "rayStartParams": {},
                    "template": {
                        "metadata": {"labels": pod_labels},
                        "spec": {
                            "containers": [
                                _container(
                                    WORKER_CONTAINER, image, workers.cpu, workers.memory, storage
                                )
                            ]
                        },
                    },
                }
            ],
        },
    }
    if spec.active_deadline_seconds is not None:
        job_spec["activeDeadlineSeconds"] = spec.active_deadline_seconds
    return {
        "apiVersion": c.RAY_API_VERSION,
        "kind": c.RAYJOB_KIND,
        "metadata": {
            "name": rayjob_name(run.name),
            "namespace": run.namespace,
            "labels": pod_labels,
            "ownerReferences": [owner_reference(run)],
        },
        "spec": job_spec,
    }


class JobStatus(StrEnum):
    """KubeRay's `status.jobStatus` (the Ray job's own state)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


# `status.jobDeploymentStatus` values after which KubeRay does nothing more with the job.
FAILED_DEPLOYMENT: Final = frozenset({"Failed", "ValidationFailed"})
# Between attempts (retries) the last attempt's jobStatus is stale.
RETRYING_DEPLOYMENT: Final = frozenset({"Retrying", "Initializing", "Waiting"})


# How far a RayJob has got, by jobDeploymentStatus. States a job can return to (retries,
# suspension) have no rank: nothing is inferred from them.
DEPLOYMENT_PROGRESS: Final = {
    "": 0,
    "Initializing": 1,
    "Running": 2,
    "Complete": 3,
    "Failed": 3,
    "ValidationFailed": 3,
}


def is_behind(rayjob: dict[str, Any], reflected_deployment_status: str | None) -> bool:
    """Whether a RayJob body is older than what a TrainingRun's status already reflects.

    A watch event can be handled after a fresher read of the same RayJob was written into the
    status; its body then must not move the status back.
    """
    seen = (rayjob.get("status") or {}).get("jobDeploymentStatus") or ""
    mine = DEPLOYMENT_PROGRESS.get(seen)
    theirs = DEPLOYMENT_PROGRESS.get(reflected_deployment_status or "")
    return mine is not None and theirs is not None and mine < theirs


class RayJobStatus(BaseModel):
    """The RayJob status fields starcast reads (KubeRay v1.5 `RayJobStatus`)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    job_status: str = Field(default="", alias="jobStatus")
    job_deployment_status: str = Field(default="", alias="jobDeploymentStatus")
    reason: str = ""
    message: str = ""
    start_time: str | None = Field(default=None, alias="startTime")
    end_time: str | None = Field(default=None, alias="endTime")
    ray_cluster_name: str = Field(default="", alias="rayClusterName")

    @property
    def succeeded(self) -> bool:
        # jobDeploymentStatus Complete is also set for STOPPED jobs: only jobStatus says success.
        return self.job_status == JobStatus.SUCCEEDED

    @property
    def failed(self) -> bool:
        if self.job_deployment_status in FAILED_DEPLOYMENT:
            return True
        return (
            self.job_status in (JobStatus.FAILED, JobStatus.STOPPED)
            and self.job_deployment_status not in RETRYING_DEPLOYMENT
        )

    @property
    def running(self) -> bool:
        return self.job_status == JobStatus.RUNNING or self.job_deployment_status == "Running"
