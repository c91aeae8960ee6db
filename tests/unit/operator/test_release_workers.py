"""The pure parts of a ModelRelease: apply bodies, canary sizes, rollout reading, history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from starcast.operator.models.modelrelease import (
    AnalysisCheck,
    ModelReleaseStatus,
    ModelVersion,
    Outcome,
    ReleasePhase,
    RollingStrategy,
)
from starcast.operator.release import history
from starcast.operator.release.analysis import evaluate, render
from starcast.operator.release.rollout import RolloutState, crash_looping, rollout_of
from starcast.operator.release.state import set_conditions
from starcast.operator.release.workers import (
    WorkersError,
    canary_manifest,
    canary_replicas,
    claim_apply,
    deployed_model,
    model_apply,
)

V1 = ModelVersion(version="v1", uri="s3://m/v1", sha256="1" * 64)
V2 = ModelVersion(version="v2", uri="s3://m/v2", sha256="2" * 64)


def _deployment(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "w", "namespace": "ns", "generation": 2, "labels": {"a": "b"}},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app.kubernetes.io/component": "worker"}},
            "progressDeadlineSeconds": 30,
            "template": {
                "metadata": {"labels": {"starcast.io/model-version": "v1"}},
                "spec": {
                    "containers": [
                        {
                            "name": "worker",
                            "image": "w:1",
                            "env": [
                                {"name": "X", "value": "1"},
                                {"name": "STARCAST_MODEL_URI", "value": V1.uri},
                                {"name": "STARCAST_MODEL_SHA256", "value": V1.sha256},
                            ],
                        }
                    ]
                },
            },
        },
        "status": status,
    }


def test_the_apply_body_holds_only_the_model_fields_the_rolling_parameters_and_the_claim() -> None:
    body = model_apply(
        _deployment(), V2, "rel", RollingStrategy(max_surge="1", max_unavailable="0")
    )
    assert body["metadata"] == {
        "name": "w",
        "namespace": "ns",
        "annotations": {"starcast.io/model-release": "rel"},
    }
    template = body["spec"]["template"]
    assert template["metadata"] == {"labels": {"starcast.io/model-version": "v2"}}
    assert template["spec"]["containers"] == [
        {
            "name": "worker",
            "env": [
                {"name": "STARCAST_MODEL_URI", "value": V2.uri},
                {"name": "STARCAST_MODEL_SHA256", "value": V2.sha256},
            ],
        }
    ]
    # IntOrString: a count goes as an integer (the API server refuses "1"), a percentage as is.
    assert body["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert set(body["spec"]) == {"strategy", "template"}
    default = model_apply(_deployment(), V2, "rel", RollingStrategy())
    assert default["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 0}


def test_a_claim_restates_the_fields_the_operator_owns() -> None:
    rolling = RollingStrategy(max_unavailable="50%")
    claim = claim_apply(_deployment(), "rel", rolling)
    assert claim == model_apply(_deployment(), V1, "rel", rolling)
    bare = _deployment()
    bare["spec"]["template"]["spec"]["containers"][0]["env"] = []
    assert set(claim_apply(bare, "rel", rolling)["spec"]) == {"strategy"}


def test_conditions_follow_the_phase_and_move_only_when_their_status_does() -> None:
    status = ModelReleaseStatus(phase=ReleasePhase.PROGRESSING, reason="RollingOut")
    first = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
    set_conditions(status, first, 1)
    by_type = {cond.type: cond for cond in status.conditions}
    assert (by_type["Progressing"].status, by_type["Progressing"].reason) == ("True", "RollingOut")
    assert by_type["Complete"].status == "False" and by_type["Paused"].status == "False"
    later = datetime(2026, 12, 1, 10, 5, 0, tzinfo=UTC)
    status.phase, status.reason = ReleasePhase.SUCCEEDED, "Released"
    set_conditions(status, later, 1)
    by_type = {cond.type: cond for cond in status.conditions}
    assert by_type["Progressing"].status == "False"
    assert by_type["Progressing"].last_transition_time == later
    assert by_type["Complete"].status == "True" and by_type["Complete"].reason == "Released"
    assert by_type["Paused"].last_transition_time == first  # still False: unchanged
    assert by_type["Failed"].status == "False"
    status.phase, status.reason = ReleasePhase.ROLLED_BACK, "AnalysisFailed"
    set_conditions(status, later, 1)
    failed = {cond.type: cond for cond in status.conditions}["Failed"]
    assert (failed.status, failed.reason) == ("True", "AnalysisFailed")  # kubectl wait ends


def test_the_deployed_model_is_read_back_and_an_unnamed_container_among_several_is_refused() -> (
    None
):
    assert deployed_model(_deployment()) == V1
    several = _deployment()
    several["spec"]["template"]["spec"]["containers"] = [{"name": "a"}, {"name": "b"}]
    with pytest.raises(WorkersError, match="name the model-loading container 'worker'"):
        deployed_model(several)


@pytest.mark.parametrize(
    ("stable", "weight", "canary"), [(4, 20, 1), (4, 50, 4), (3, 10, 1), (10, 25, 4), (4, 0, 0)]
)
def test_canary_pods_are_the_weight_share_of_all_consumers(
    stable: int, weight: int, canary: int
) -> None:
    assert canary_replicas(stable, weight) == canary


def test_the_canary_copies_the_pod_template_with_the_candidate_and_its_own_selector() -> None:
    owner = {"metadata": {"name": "rel", "uid": "u-1"}}
    canary = canary_manifest(_deployment(), V2, 2, owner)
    assert canary["metadata"]["name"] == "w-canary"
    assert canary["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert canary["spec"]["replicas"] == 2
    stable_helm = _deployment()
    stable_helm["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "Helm"
    relabelled = canary_manifest(stable_helm, V2, 2, owner)["metadata"]["labels"]
    assert relabelled["app.kubernetes.io/managed-by"] == "starcast-operator"  # not the chart's
    assert canary["spec"]["selector"]["matchLabels"]["starcast.io/track"] == "canary"
    labels = canary["spec"]["template"]["metadata"]["labels"]
    assert labels == {"starcast.io/model-version": "v2", "starcast.io/track": "canary"}
    env = canary["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {e["name"]: e["value"] for e in env} == {"X": "1", "STARCAST_MODEL_URI": V2.uri,
                                                    "STARCAST_MODEL_SHA256": V2.sha256}  # fmt: skip


def test_rollout_state_follows_the_deployment_controller() -> None:
    done = {"observedGeneration": 2, "replicas": 4, "updatedReplicas": 4, "readyReplicas": 4,
            "availableReplicas": 4}  # fmt: skip
    assert rollout_of(_deployment(**done)).state is RolloutState.COMPLETE
    stale = dict(done, observedGeneration=1)
    assert rollout_of(_deployment(**stale)).state is RolloutState.PROGRESSING
    surging = dict(done, replicas=5)
    assert rollout_of(_deployment(**surging)).state is RolloutState.PROGRESSING
    deadline = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                "message": "ReplicaSet w-2 has timed out progressing."}  # fmt: skip
    failed = rollout_of(_deployment(**dict(stale, observedGeneration=2, conditions=[deadline])))
    assert failed.state is RolloutState.FAILED and "timed out" in failed.message
    # Before the controller saw the new template, an old deadline says nothing about it.
    old = rollout_of(_deployment(**dict(stale, conditions=[deadline])))
    assert old.state is RolloutState.PROGRESSING


def test_a_crash_looping_container_is_named() -> None:
    pod = {"metadata": {"name": "p"}, "status": {"containerStatuses": [
        {"name": "worker", "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
    ]}}  # fmt: skip
    assert "pod p: container worker restarted 1 times" in (crash_looping([pod]) or "")
    assert crash_looping([{"metadata": {"name": "q"}, "status": {}}]) is None


def test_rollback_restores_the_last_good_version_of_the_history() -> None:
    now = datetime.now(UTC)
    entries = history.seeded([], V1)
    entries = history.begin(entries, V2, "r2", now)
    history.end(entries, Outcome.SUCCEEDED, "Released", now)
    entries = history.begin(entries, ModelVersion(version="v3", uri="s3://m/v3", sha256="3" * 64),
                            "r3", now)  # fmt: skip
    assert history.rollback_target(entries) == V2
    history.end(entries, Outcome.ROLLED_BACK, "ProgressDeadlineExceeded", now)
    assert [(e.version, e.outcome) for e in entries] == [
        ("v1", Outcome.SERVING), ("v2", Outcome.SUCCEEDED), ("v3", Outcome.ROLLED_BACK)
    ]  # fmt: skip


def test_an_analysis_check_holds_its_value_to_its_bounds() -> None:
    check = AnalysisCheck(name="errors", query='x{model_version="{{version}}"}', max=0.05)
    assert render(check.query, version="v2", stable="v1") == 'x{model_version="v2"}'
    assert evaluate(check, 0.01).passed
    assert not evaluate(check, 0.5).passed
    assert evaluate(check, None).message == "errors: no data"


def test_the_weight_shown_is_the_share_of_pods_served() -> None:
    from starcast.operator.release.workers import served_share

    assert served_share(4, canary_replicas(4, 20)) == 20
    assert served_share(2, canary_replicas(2, 20)) == 33  # 1 canary pod beside 2 stable
    assert served_share(0, 0) == 0
