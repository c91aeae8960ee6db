"""Reconcile one TrainingRun, KubeRay's way: validate and fail fast, ordered idempotent steps,
then the status computed from what was observed and written with a resourceVersion guard.

Plain functions over a `Cluster`: kopf's handlers call `sync_training_run`, and so do tests.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError

from starcast.artifact import ArtifactError, ModelManifest
from starcast.operator import rayjob as rj
from starcast.operator import storage_access as sa
from starcast.operator.cluster import Cluster, ConflictError
from starcast.operator.metrics import OperatorMetrics
from starcast.operator.models.trainingrun import Phase, TrainingRun, TrainingRunStatus
from starcast.operator.settings import OperatorSettings
from starcast.operator.status import TERMINAL_PHASES, BadInput, Observation, compute_status

logger = logging.getLogger(__name__)

STATUS_WRITE_ATTEMPTS: Final = 5
UID_FIELD: Final = "{uid}"


class InvalidObjectError(Exception):
    """The stored object does not parse (an older schema, or a hand-edited status)."""


@dataclass(frozen=True)
class Outcome:
    """What a sync did: the phase it left, whether to look again, and the Events it owes."""

    phase: Phase | None
    requeue_after: float | None = None
    previous_phase: Phase | None = None
    status: TrainingRunStatus | None = None
    created_rayjob: bool = False
    uid: str | None = None  # of the run synced (its Events name it)


@dataclass(frozen=True)
class Context:
    """What a sync needs from the operator: the API, its settings and its metrics."""

    cluster: Cluster
    settings: OperatorSettings
    metrics: OperatorMetrics | None = None
    datasets: sa.DatasetCheck = field(default_factory=sa.DatasetCheck)


def _parse(body: dict[str, Any]) -> TrainingRun:
    try:
        return TrainingRun.model_validate({"spec": body["spec"], "status": body.get("status")})
    except (KeyError, ValidationError) as error:
        raise InvalidObjectError(f"TrainingRun does not parse: {error}") from error


def _identity(body: dict[str, Any]) -> rj.RunIdentity:
    meta = body["metadata"]
    return rj.RunIdentity(namespace=meta["namespace"], name=meta["name"], uid=meta["uid"])


def _owned_by(rayjob: dict[str, Any], uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in rayjob["metadata"].get("ownerReferences", ()))


def validate(
    run: rj.RunIdentity, tr: TrainingRun, out_uri: str, ctx: Context
) -> tuple[BadInput | None, dict[str, Any]]:
    """What only the operator can judge, before any RayJob: schemes, Secret, dataset, output."""
    spec = tr.spec
    for field_path, uri in (("spec.datasetUri", spec.dataset_uri), ("spec.outputUri", out_uri)):
        if sa.scheme(uri) not in sa.SUPPORTED_SCHEMES:
            return BadInput(
                field_path,
                "UnsupportedURIScheme",
                f"{uri} has scheme {sa.scheme(uri)!r}; the Ray pods can reach only "
                f"{', '.join(s + '://' for s in sa.SUPPORTED_SCHEMES)} URIs: use one",
            ), {}
    secret: dict[str, str] | None = None
    if spec.storage_secret_ref is not None:
        secret_name = spec.storage_secret_ref.name
        raw = ctx.cluster.get_secret_data(run.namespace, secret_name)
        if raw is None:
            return BadInput(
                "spec.storageSecretRef.name",
                "SecretNotFound",
                f"Secret {run.namespace}/{secret_name} does not exist: create it with keys "
                f"{sa.ACCESS_KEY} and {sa.SECRET_KEY}, then create the TrainingRun again",
            ), {}
        try:
            secret = sa.decode_secret(raw)
        except ValueError as error:
            return BadInput("spec.storageSecretRef.name", "SecretInvalid", str(error)), {}
        missing = [key for key in (sa.ACCESS_KEY, sa.SECRET_KEY) if not secret.get(key)]
        if missing:
            return BadInput(
                "spec.storageSecretRef.name",
                "SecretIncomplete",
                f"Secret {run.namespace}/{secret_name} lacks {', '.join(missing)}: add them",
            ), {}
    options = sa.storage_options(ctx.settings, secret)
    try:
        if not ctx.datasets.exists(spec.dataset_uri, options):
            return BadInput(
                "spec.datasetUri",
                "DatasetNotFound",
                f"no dataset at {spec.dataset_uri}: check the URI (`starcast extract export` "
                "writes one)",
            ), options
        # An output path with the run's uid can't hold another run's artifact; one without it
        # can (a run created again under the same name).
        if UID_FIELD not in spec.output_uri and sa.artifact_committed(out_uri, options):
            return BadInput(
                "spec.outputUri",
                "OutputExists",
                f"an artifact is already committed at {out_uri}; use {{uid}} in the template or "
                "another prefix",
            ), options
    except sa.StorageDeniedError as error:
        return BadInput("spec.storageSecretRef", "StorageAccessDenied", str(error)), options
    return None, options


def _known_rayjob(
    run: rj.RunIdentity, status: TrainingRunStatus, seen: dict[str, Any] | None, ctx: Context
) -> dict[str, Any] | None:
    """The run's RayJob as last seen or read; None for a run that has made none so far."""
    if seen is not None and not rj.is_behind(seen, status.job_deployment_status):
        return seen
    if seen is None and status.ray_job_name is None:
        # A fresh run: creating the RayJob is the check (a previous life's shows up as a 409).
        return None
    return ctx.cluster.get_rayjob(run.namespace, rj.rayjob_name(run.name))


def _create_or_adopt(
    run: rj.RunIdentity, tr: TrainingRun, out_uri: str, ctx: Context, created: list[bool]
) -> tuple[dict[str, Any] | None, BadInput | None, dict[str, Any]]:
    """Validate, then create the RayJob, or adopt the one a racing sync or earlier life made."""
    name = rj.rayjob_name(run.name)
    bad, options = validate(run, tr, out_uri, ctx)
    if bad is not None:
        # Input goes bad after a RayJob started (a dataset deleted): that run goes on.
        existing = ctx.cluster.get_rayjob(run.namespace, name)
        return existing, bad if existing is None else None, options
    image = tr.spec.image or ctx.settings.trainer_image
    storage = rj.StorageEnv(
        endpoint=ctx.settings.storage_endpoint,
        region=ctx.settings.storage_region,
        secret_name=tr.spec.storage_secret_ref.name if tr.spec.storage_secret_ref else None,
    )
    manifest = rj.build_rayjob(run, tr.spec, image=image, out_uri=out_uri, storage=storage)
    job = ctx.cluster.create_rayjob(manifest)
    if job is not None:
        created.append(True)
        logger.info(
            "created RayJob %s",
            name,
            extra={"object": f"{run.namespace}/{run.name}", "rayjob": name},
        )
        return job, None, options
    job = ctx.cluster.get_rayjob(run.namespace, name)
    if job is None:
        raise ConflictError(f"RayJob {run.namespace}/{name} vanished while adopted")
    return job, None, options


def _observe(
    body: dict[str, Any],
    tr: TrainingRun,
    ctx: Context,
    created: list[bool],
    seen_rayjob: dict[str, Any] | None = None,
) -> Observation:
    run = _identity(body)
    status = tr.status or TrainingRunStatus()
    out_uri = status.output_uri or rj.output_uri(
        tr.spec.output_uri, namespace=run.namespace, name=run.name, uid=run.uid
    )
    base: dict[str, Any] = {
        "generation": body["metadata"].get("generation", 0),
        "output_uri": out_uri,
    }
    if not ctx.cluster.rayjob_api_installed():
        return Observation(**base, kuberay_installed=False)
    name = rj.rayjob_name(run.name)
    job = _known_rayjob(run, status, seen_rayjob, ctx)
    options: dict[str, Any] = {}
    if job is None and status.ray_job_name:  # it had one: deleted since, not made again
        removed = ctx.cluster.rayjob_crd_removed()  # by hand, or with KubeRay's CRD?
        return Observation(**base, rayjob_lost=True, kuberay_installed=not removed)
    if job is None:
        job, bad, options = _create_or_adopt(run, tr, out_uri, ctx, created)
        if bad is not None:
            return Observation(**base, bad_input=bad)
        assert job is not None  # no bad input: made or adopted
    if not _owned_by(job, run.uid):
        return Observation(
            **base,
            bad_input=BadInput(
                "metadata.name",
                "RayJobNameTaken",
                f"RayJob {run.namespace}/{name} exists and is not this TrainingRun's; delete it "
                "or give the TrainingRun another name",
            ),
        )
    job_status = rj.RayJobStatus.model_validate(job.get("status") or {})
    created_at = job["metadata"].get("creationTimestamp")
    manifest_read: ModelManifest | None = None
    artifact_error: str | None = None
    if job_status.succeeded:
        if not options:
            secret = None
            if tr.spec.storage_secret_ref is not None:
                raw = ctx.cluster.get_secret_data(run.namespace, tr.spec.storage_secret_ref.name)
                secret = sa.decode_secret(raw) if raw is not None else None
            options = sa.storage_options(ctx.settings, secret)
        try:
            manifest_read = sa.read_verified_manifest(out_uri, options)
        except (ArtifactError, sa.StorageDeniedError) as error:
            artifact_error = str(error)
    return Observation(
        **base,
        rayjob_name=name,
        rayjob=job_status,
        rayjob_created_at=datetime.fromisoformat(created_at) if created_at else None,
        manifest=manifest_read,
        artifact_error=artifact_error,
    )


def newest_copy(given: dict[str, Any], seen: dict[str, Any] | None) -> dict[str, Any]:
    """kopf's copy of a run, or the operator's own last read or write of it if that is newer.

    Only this operator writes a run's status, so its own last copy has the newest status; kopf's
    copy wins when it is of a newer generation (the spec changed) or another object (re-created).
    """
    if seen is None:
        return given
    mine, theirs = seen["metadata"], given["metadata"]
    if mine["uid"] != theirs["uid"] or mine.get("generation", 0) < theirs.get("generation", 0):
        return given
    return seen


def sync_training_run(
    namespace: str,
    name: str,
    ctx: Context,
    *,
    body: dict[str, Any] | None = None,
    rayjob: dict[str, Any] | None = None,
    write_status: bool = True,
) -> Outcome:
    """Bring one TrainingRun a step closer to done, and write its status. Safe to repeat.

    `body` and `rayjob`, when the caller has them (from kopf's watch), spare the first reads;
    a stale body only costs a conflict and a fresh read. Without `write_status`, the status is
    left for a later sync (which computes it again from what it observes). Raises TransientError
    and StorageUnreachableError for the caller to retry with backoff.
    """
    started = time.monotonic()
    created: list[bool] = []
    for attempt in range(STATUS_WRITE_ATTEMPTS):
        seen = ctx.cluster.last_seen_training_run(namespace, name)
        if attempt > 0 or body is None:
            body = seen or ctx.cluster.get_training_run(namespace, name)
        else:
            body = newest_copy(body, seen)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return Outcome(phase=None)  # gone: the garbage collector removes its RayJob
        tr = _parse(body)
        previous = tr.status or TrainingRunStatus()
        if previous.phase in TERMINAL_PHASES:
            return Outcome(
                phase=previous.phase,
                previous_phase=previous.phase,
                status=previous,
                uid=_identity(body).uid,
            )
        obs = _observe(body, tr, ctx, created, rayjob if attempt == 0 else None)
        if not write_status:
            return Outcome(
                phase=previous.phase, created_rayjob=bool(created), uid=_identity(body).uid
            )
        status = compute_status(previous, obs)
        try:
            if status != previous:
                ctx.cluster.write_training_run_status(
                    namespace,
                    name,
                    status.wire(),
                    read_status=body.get("status"),
                    resource_version=body["metadata"]["resourceVersion"],
                )
        except ConflictError:
            continue  # a racing sync wrote the status since it was read: read again
        if ctx.metrics is not None:
            ctx.metrics.observe_reconcile(time.monotonic() - started)
        requeue = ctx.settings.kuberay_check_seconds if not obs.kuberay_installed else None
        return Outcome(
            phase=status.phase,
            requeue_after=requeue,
            previous_phase=previous.phase,
            status=status,
            created_rayjob=bool(created),
            uid=_identity(body).uid,
        )
    raise ConflictError(
        f"TrainingRun {namespace}/{name} kept changing during {STATUS_WRITE_ATTEMPTS} attempts"
    )
