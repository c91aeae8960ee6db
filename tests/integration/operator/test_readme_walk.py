"""The README's "Train with a TrainingRun" commands, in its order, with the chart's defaults.

Each command is taken as the README prints it (the test fails if the README changes it) and
run on the plane: the chart installed with no values, the operator as the chart's Deployment
runs it (its env and args, read back from the API server) but as a local process, the
storage Secret, the example TrainingRun as written, `kubectl get` and `kubectl wait`. The one
thing not the chart's default is the S3 endpoint (the tests' loopback S3 stands in for AWS),
and the Ray job is executed by the RayJob stand-in (kwok nodes run no pods).
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from starcast.sample import sample_dataset_uri
from starcast.storage import read_bytes
from tests.integration.operator.conftest import ACCESS_KEY, SECRET_KEY
from tests.support.kube import REPO_ROOT, KubePlane
from tests.support.operator_process import OperatorProcess
from tests.support.rayjob_executor import LocalRayJobExecutor
from tests.support.s3 import REGION

pytestmark = [pytest.mark.kube, pytest.mark.integration]

README = (REPO_ROOT / "README.md").read_text()
NAMESPACE = "starcast"
RELEASE = "starcast-operator"
# The README's commands of "Train with a TrainingRun", in its order ("..." its placeholders).
INSTALL = (
    "helm install starcast-operator charts/starcast-operator --namespace starcast "
    "--create-namespace"
)
SECRET = (
    "kubectl create secret generic starcast-storage --namespace starcast \\\n"
    "     --from-literal=AWS_ACCESS_KEY_ID=... --from-literal=AWS_SECRET_ACCESS_KEY=..."
)
APPLY = "kubectl apply --namespace starcast -f examples/trainingrun.yaml"
GET = "kubectl get trainingruns --namespace starcast"
WAIT = "kubectl wait --namespace starcast --for=condition=Complete trainingrun/nightly --timeout=1h"
COMMANDS = (INSTALL, SECRET, APPLY, GET, WAIT)


def _argv(command: str, **placeholders: str) -> list[str]:
    """The README's command as argv, without the tool's name; `...` values filled in, the
    repository's paths made absolute (the README is run from the repository's root)."""
    words = shlex.split(command.replace("\\\n", " "))
    for key, value in placeholders.items():
        words = [w.replace(f"{key}=...", f"{key}={value}") for w in words]
    return [str(REPO_ROOT / w) if w.startswith(("charts/", "examples/")) else w for w in words][1:]


@pytest.fixture
def walk_release(kube_plane: KubePlane) -> Iterator[None]:
    yield
    kube_plane.helm("uninstall", RELEASE, "-n", NAMESPACE, check=False)
    kube_plane.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


@pytest.mark.usefixtures("walk_release")
def test_the_readme_commands_in_order_with_the_chart_defaults(
    kube_plane: KubePlane,
    starcast_crds: None,
    kuberay_crds: None,
    s3_endpoint: str,
    s3_bucket: str,  # its fixture points s3fs and boto3 at the tests' S3, with credentials
    executor: LocalRayJobExecutor,
    operator: OperatorProcess,
    alone: None,
    prepared_artifact: Callable[[str], None],
    tmp_path: Path,
) -> None:
    positions = [README.find(command) for command in COMMANDS]
    assert -1 not in positions, [c for c, p in zip(COMMANDS, positions, strict=True) if p < 0]
    assert positions == sorted(positions), "the README's order changed"
    # The example's dataset, where it says it is (the tests' S3 for AWS's).
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    with contextlib.suppress(ClientError):  # made by an earlier test of the session
        s3.create_bucket(Bucket="starcast")
    s3.put_object(
        Bucket="starcast", Key="datasets/repos.parquet", Body=read_bytes(sample_dataset_uri())
    )

    installed = kube_plane.helm(*_argv(INSTALL)).stdout
    # NOTES print the README's next command for the namespace the chart watches.
    assert APPLY in installed, installed
    deployment = kube_plane.kubectl_json("get", "deployment", RELEASE, "-n", NAMESPACE)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    chart_env = {var["name"]: var["value"] for var in container["env"] if "value" in var}
    assert chart_env["STARCAST_OPERATOR_NAMESPACES"] == '["starcast"]'
    env = operator.env | {
        key: value
        for key, value in chart_env.items()
        if key.startswith("STARCAST_OPERATOR_") and not key.endswith("_PORT")
    }
    env["STARCAST_OPERATOR_STORAGE_ENDPOINT"] = s3_endpoint
    process = OperatorProcess(env, tmp_path / "operator.log", *container.get("args", []))
    executor.serve(NAMESPACE)
    try:
        process.start()
        kube_plane.kubectl(
            *_argv(SECRET, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
        )
        kube_plane.kubectl(*_argv(APPLY))
        listed = kube_plane.kubectl(*_argv(GET)).stdout
        assert listed.split()[:2] == ["NAME", "PHASE"] and "nightly" in listed
        waited = kube_plane.kubectl(
            *[w if not w.startswith("--timeout") else "--timeout=120s" for w in _argv(WAIT)],
            timeout=150,
        )
        assert "condition met" in waited.stdout, process.log_tail()
    finally:
        process.stop()
    row = kube_plane.kubectl(*_argv(GET), "--no-headers").stdout.split()
    assert row[:2] == ["nightly", "Succeeded"]
