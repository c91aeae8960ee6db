"""One release at a time per target: a newer ModelRelease supersedes the one in progress."""

from __future__ import annotations

import pytest

from tests.support.kube import KubePlane, wait_until
from tests.support.operator_process import OperatorProcess
from tests.support.release import (
    WORKERS,
    deployment,
    digest,
    model_env,
    model_release,
    status,
)

pytestmark = [pytest.mark.integration, pytest.mark.kube]


def test_a_newer_release_supersedes_the_one_in_progress(
    kube_plane: KubePlane, workers: str, operator: OperatorProcess
) -> None:
    # The first release's pods never get Ready, and nothing times out soon: it stays in progress.
    kube_plane.kubectl(
        "patch", "deployment", WORKERS, "-n", workers, "--type=merge",
        "-p", '{"spec":{"progressDeadlineSeconds":600}}',
    )  # fmt: skip
    stuck = model_release(
        "stuck", sha256=digest("stuck", bad=True), version="stuck", deadline_s=600
    )
    kube_plane.kubectl("apply", "-n", workers, "-f", "-", input=stuck)
    wait_until(
        lambda: status(kube_plane, workers, "stuck").get("phase") == "Progressing", "stuck", 60
    )
    good = digest("v2")
    kube_plane.kubectl(
        "apply", "-n", workers, "-f", "-", input=model_release("v2", sha256=good, version="v2")
    )
    wait_until(
        lambda: status(kube_plane, workers, "stuck").get("phase") == "Superseded",
        "the first release superseded",
        60,
    )
    wait_until(lambda: status(kube_plane, workers, "v2").get("phase") == "Succeeded", "v2", 120)
    assert model_env(deployment(kube_plane, workers))["STARCAST_MODEL_SHA256"] == good
    first, second = status(kube_plane, workers, "stuck"), status(kube_plane, workers, "v2")
    assert first["history"][-1]["outcome"] == "Superseded"
    assert "ModelRelease v2" in first["message"]
    # What it rolls back to: the last good version, not the half-rolled one; serving now: v2.
    assert second["stable"]["version"] == "v1" and second["stableVersion"] == "v2"
    assert [(h["version"], h["outcome"]) for h in second["history"]] == [
        ("v1", "Serving"),
        ("stuck", "Superseded"),
        ("v2", "Succeeded"),
    ]
    # The superseded release stays superseded: it never touches the workers again.
    kube_plane.kubectl("annotate", "-n", workers, "modelrelease", "stuck", "poke=1")
    assert status(kube_plane, workers, "stuck")["phase"] == "Superseded"
