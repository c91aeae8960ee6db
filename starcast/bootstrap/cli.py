"""`starcast bootstrap plan|up|down|status -f cluster.yaml`; openstack & co. load in commands."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:
    from starcast.bootstrap.config import ClusterConfig

T = TypeVar("T")
app = typer.Typer(
    name="bootstrap",
    help="Create, inspect and delete a k3s cluster on OpenStack VMs.",
    no_args_is_help=True,
)
FILE_OPTION = typer.Option(
    Path("cluster.yaml"),
    "--file",
    "-f",
    help="The cluster's description (see examples/cluster.yaml).",
)
# keystoneauth logs request bodies at DEBUG, paramiko its transport: neither belongs in our logs.
# urllib3 warns on every refused connection while a wait polls the API server.
QUIET_LOGGERS = ("keystoneauth", "openstack", "paramiko", "urllib3", "kubernetes")


def _run(path: Path, action: Callable[[ClusterConfig], T]) -> T:
    from starcast.bootstrap.cloud import CloudError
    from starcast.bootstrap.config import ConfigError, load_config
    from starcast.bootstrap.progress import WaitTimeoutError

    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        config = load_config(path)
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    try:
        return action(config)
    except (CloudError, WaitTimeoutError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None


@app.command("plan")
def plan_command(
    file: Path = FILE_OPTION,
    user_data: bool = typer.Option(True, help="Also print every node's cloud-init user-data."),
) -> None:
    """Show what `up` would create, keep or change (read-only), and each node's cloud-init."""
    from starcast.bootstrap.cloud import connect
    from starcast.bootstrap.lookup import Lookup
    from starcast.bootstrap.plan import Plan, make_plan

    def plan(config: ClusterConfig) -> Plan:
        return make_plan(Lookup(connect(config.cloud), config))

    result = _run(file, plan)
    typer.echo(result.table())
    if user_data:
        for name, text in result.user_data.items():
            typer.echo(f"\n--- cloud-init user-data of {name} ---\n{text}")


@app.command("up")
def up_command(file: Path = FILE_OPTION) -> None:
    """Create (or finish) the cluster, wait until every node is Ready, write the kubeconfig."""
    from starcast.bootstrap.progress import Progress
    from starcast.bootstrap.up import UpResult, bring_up

    def up(config: ClusterConfig) -> UpResult:
        return bring_up(config, Progress())

    result = _run(file, up)
    typer.echo(
        f"cluster up: {len(result.nodes)} node(s) Ready, API at {result.api_server}\n"
        f"export KUBECONFIG={result.kubeconfig}; kubectl --context {result.context} get nodes"
    )


@app.command("down")
def down_command(file: Path = FILE_OPTION) -> None:
    """Delete every resource carrying the cluster's tag, dependents first."""
    from starcast.bootstrap.cloud import connect
    from starcast.bootstrap.lookup import Lookup
    from starcast.bootstrap.progress import Progress
    from starcast.bootstrap.secrets import ClusterSecrets
    from starcast.bootstrap.teardown import teardown

    def down(config: ClusterConfig) -> int:
        lookup = Lookup(connect(config.cloud), config)
        return teardown(lookup, ClusterSecrets(config.state_path), Progress())

    deleted = _run(file, down)
    typer.echo(f"deleted {deleted} resource(s)" if deleted else "nothing to delete")


@app.command("status")
def status_command(file: Path = FILE_OPTION) -> None:
    """What of the cluster exists, and whether each node is Ready."""
    from starcast.bootstrap.cloud import connect
    from starcast.bootstrap.lookup import Lookup
    from starcast.bootstrap.status import Row, cluster_status

    def status(config: ClusterConfig) -> list[Row]:
        return cluster_status(Lookup(connect(config.cloud), config))

    rows = _run(file, status)
    if not rows:
        typer.echo("no resource of this cluster exists (run `starcast bootstrap up`)")
    for row in rows:
        typer.echo(f"{row.kind:<15} {row.name:<32} {row.state}")
