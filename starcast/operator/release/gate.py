"""A TrainingRun's release gate: on success, release its model only if it beats the serving one.

The serving model's score comes from the TrainingRun that produced it (same sha256 in the
namespace) or else from its artifact's manifest. The decision and its figures go into the
TrainingRun's status, the ModelRelease's status and an Event; it is taken once per run.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from starcast.artifact import ArtifactError
from starcast.operator import constants as c
from starcast.operator import storage_access as sa
from starcast.operator.cluster import ConflictError
from starcast.operator.models.modelrelease import GateDecision, ReleaseGate, ReleaseTemplate
from starcast.operator.models.trainingrun import Phase, TrainingRun
from starcast.operator.release.kube import Manifest, ReleaseCluster
from starcast.operator.release.state import ReleaseEvent
from starcast.operator.release.workers import WorkersError, deployed_model
from starcast.operator.settings import OperatorSettings

logger = logging.getLogger(__name__)


def _serving_score(
    cluster: ReleaseCluster, settings: OperatorSettings, namespace: str, sha256: str, uri: str
) -> tuple[float | None, str]:
    """The serving model's CV RMSLE, or None with why it is unknown."""
    for run in cluster.training_runs(namespace):
        model = (run.get("status") or {}).get("model") or {}
        rmsle = ((run.get("status") or {}).get("metrics") or {}).get("rmsle")
        if model.get("sha256") == sha256 and rmsle is not None:
            return float(rmsle), f"TrainingRun {run['metadata']['name']}"
    try:
        manifest = sa.read_verified_manifest(uri, sa.storage_options(settings, None))
    except (ArtifactError, sa.StorageDeniedError, sa.StorageUnreachableError) as error:
        return None, f"its artifact {uri} could not be read: {error}"
    return manifest.winner.metrics.rmsle, f"the manifest at {uri}"


def release_manifest(run_name: str, version: str, template: ReleaseTemplate) -> Manifest:
    spec = template.model_dump(mode="json", by_alias=True, exclude_none=True)
    spec.pop("minImprovement", None)
    spec["model"] = {"trainingRunRef": run_name, "version": version}
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.MODEL_RELEASE_KIND,
        "metadata": {"name": run_name, "labels": {c.LABEL_TRAINING_RUN: run_name}},
        "spec": spec,
    }


def decide(
    cluster: ReleaseCluster, settings: OperatorSettings, body: Manifest
) -> list[ReleaseEvent]:
    """Take the gate's decision for a Succeeded run with autoRelease, once; its Events."""
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    try:
        run = TrainingRun.model_validate({"spec": body["spec"], "status": body.get("status")})
    except ValidationError as error:
        logger.error("TrainingRun %s/%s does not parse: %s", namespace, name, error)
        return []
    template, status = run.spec.auto_release, run.status
    if template is None or status is None or status.phase is not Phase.SUCCEEDED:
        return []
    if status.release is not None or status.metrics is None or status.model is None:
        return []
    candidate = status.metrics.rmsle
    margin = template.min_improvement
    serving_rmsle: float | None = None
    serving_version: str | None = None
    workers = cluster.worker_deployments(namespace, template.target.release)
    try:
        serving = deployed_model(workers[0]) if len(workers) == 1 else None
    except WorkersError:
        serving = None
    if len(workers) != 1:
        released, why = False, f"{len(workers)} worker Deployments for {template.target.release}"
    elif serving is None:
        released, why = True, "nothing serves yet"
    else:
        serving_version = serving.version
        serving_rmsle, source = _serving_score(
            cluster, settings, namespace, serving.sha256, serving.uri
        )
        if serving_rmsle is None:
            released, why = False, f"the serving model's score is unknown: {source}"
        else:
            released = candidate <= serving_rmsle - margin
            verdict = "beats" if released else "does not beat"
            why = (
                f"CV RMSLE {candidate:.4f} {verdict} {serving_version}'s {serving_rmsle:.4f} "
                f"(from {source}) by the margin {margin:g}"
            )
    gate = ReleaseGate(
        decision=GateDecision.RELEASED if released else GateDecision.HELD,
        candidate_rmsle=candidate,
        serving_rmsle=serving_rmsle,
        serving_version=serving_version,
        min_improvement=margin,
        model_release=name if released else None,
        message=why,
        decided_at=datetime.now(UTC).replace(microsecond=0),
    )
    if released:
        # ConflictError: made by an earlier attempt whose status write did not land.
        with contextlib.suppress(ConflictError):
            cluster.create_model_release(
                namespace, release_manifest(name, status.model.version, template)
            )
        cluster.patch_model_release_status(namespace, name, {"gate": gate.wire()})
    cluster.patch_training_run_status(namespace, name, {"release": gate.wire()})
    reason = "ModelReleased" if released else "ReleaseHeld"
    return [ReleaseEvent("Normal", reason, f"{gate.decision.value}: {why}")]


def is_candidate(status: dict[str, Any], spec: dict[str, Any]) -> bool:
    """Whether a TrainingRun awaits its gate (kopf's `when` filter)."""
    return bool(
        spec.get("autoRelease") and status.get("phase") == "Succeeded" and not status.get("release")
    )
