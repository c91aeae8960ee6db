"""The serving chart's accounts can do nothing with the Kubernetes API, and hold no token."""

from __future__ import annotations

import pytest

from tests.support.charts import SERVING_CHART
from tests.support.kube import KubePlane
from tests.support.rbac import NEVER, answers

pytestmark = pytest.mark.kube

# Neither the frontend nor the workers talk to the API server: everything here is denied.
NOT_NEEDED = (
    ("get", "secrets", "-n", "{ns}"),
    ("list", "pods", "-n", "{ns}"),
    ("get", "configmaps", "-n", "{ns}"),
    ("patch", "deployments", "-n", "{ns}"),
    ("create", "events", "-n", "{ns}"),
)


@pytest.mark.parametrize("component", ["frontend", "worker"])
def test_serving_accounts_are_denied_everything(
    kube_plane: KubePlane, kube_namespace: str, component: str
) -> None:
    ns = kube_namespace
    kube_plane.helm(
        "install", "serving", str(SERVING_CHART), "-n", ns,
        "--set", "rabbitmq.persistence.enabled=false",
    )  # fmt: skip
    account = f"serving-starcast-serving-{component}"
    user = f"system:serviceaccount:{ns}:{account}"
    table = answers(kube_plane, user, NOT_NEEDED + NEVER, ns)
    print(f"\n{user}:\n" + "\n".join(f"  {'yes' if v else 'no '}  {k}" for k, v in table.items()))
    assert not any(table.values()), table
    sa = kube_plane.kubectl_json("get", "serviceaccount", account, "-n", ns)
    assert sa["automountServiceAccountToken"] is False
    deployment = kube_plane.kubectl_json("get", "deployment", account, "-n", ns)
    assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
