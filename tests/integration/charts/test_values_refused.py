"""A wrong type or an unknown key fails `helm install` naming the value's path; nothing installs.

Each chart's values.schema.json is strict down to the Kubernetes objects passed through
(resources, securityContexts), so a typo there is refused with its path too instead of being
dropped on the way to the API server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.charts import OPERATOR_CHART, SERVING_CHART
from tests.support.kube import KubePlane

pytestmark = pytest.mark.kube

SCHEMA_ERROR = "values don't meet the specifications of the schema"
NAMESPACE = "never-created"  # the install fails before it would need one


SERVING, OPERATOR = SERVING_CHART, OPERATOR_CHART
UNKNOWN = "additional properties '{}' not allowed"
CASES = [
    (SERVING, "frontend.replicaCount=two", "/frontend/replicaCount", "got string, want integer"),
    (SERVING, "worker.autoscalling.enabled=true", "/worker", UNKNOWN.format("autoscalling")),
    (SERVING, "worker.model.sha256=not-hex", "/worker/model/sha256", "does not match pattern"),
    (SERVING, "worker.keda.mode=Sometimes", "/worker/keda/mode", "value must be one of"),
    (SERVING, "frontend.ingress.path=predictions", "/frontend/ingress/path", "match pattern"),
    (SERVING, "worker.resources.request.cpu=1", "/worker/resources", UNKNOWN.format("request")),
    (SERVING, "worker.resources.requests.cpu=lots", "/worker/resources/requests/cpu", "'lots'"),
    (SERVING, "containerSecurityContext.readOnlyRootFileSystem=true", "/containerSecurityContext",
     UNKNOWN.format("readOnlyRootFileSystem")),
    (SERVING, "rabbitmq.podSecurityContext.runAsUser=root",
     "/rabbitmq/podSecurityContext/runAsUser", "got string, want integer"),
    (OPERATOR, "replicaCount=two", "/replicaCount", "got string, want integer"),
    (OPERATOR, "watch.clusterwide=true", "/watch", UNKNOWN.format("clusterwide")),
    (OPERATOR, "logLevel=LOUD", "/logLevel", "value must be one of"),
    (OPERATOR, "peering.lifetimeSeconds=1", "/peering/lifetimeSeconds", "minimum"),
    (OPERATOR, "resources.limit.memory=1Gi", "/resources", UNKNOWN.format("limit")),
    (OPERATOR, "podSecurityContext.runAsNonroot=true", "/podSecurityContext",
     UNKNOWN.format("runAsNonroot")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("chart", "value", "path", "complaint"),
    CASES,
    ids=[f"{chart.name}:{value.split('=')[0]}" for chart, value, _, _ in CASES],
)
def test_helm_install_refuses_a_bad_value_naming_its_path(
    kube_plane: KubePlane, chart: Path, value: str, path: str, complaint: str
) -> None:
    result = kube_plane.helm(
        "install", "refused", str(chart), "--namespace", NAMESPACE, "--set", value, check=False
    )
    assert result.returncode != 0
    assert SCHEMA_ERROR in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if f"at '{path}':" in line]
    assert any(complaint in line for line in lines), result.stderr
    listed = kube_plane.helm("list", "--all", "--namespace", NAMESPACE, "--short").stdout
    assert "refused" not in listed.split()
