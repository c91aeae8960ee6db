"""`up`: every resource in order, then the waits (VMs, kubeconfig, API, nodes), then the charts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starcast.bootstrap.charts import install_charts
from starcast.bootstrap.cloud import connect
from starcast.bootstrap.config import ClusterConfig
from starcast.bootstrap.desired import nodes
from starcast.bootstrap.kubeconfig import fetch_kubeconfig, rewrite
from starcast.bootstrap.kubeconfig_file import api_server, merge_kubeconfig
from starcast.bootstrap.lookup import Lookup
from starcast.bootstrap.nodes import wait_api, wait_ready
from starcast.bootstrap.progress import Progress
from starcast.bootstrap.quota import check_quotas
from starcast.bootstrap.resources import Builder
from starcast.bootstrap.secrets import ClusterSecrets
from starcast.bootstrap.servers import wait_active
from starcast.bootstrap.teardown import remove_surplus_agents


@dataclass(frozen=True)
class UpResult:
    kubeconfig: Path
    context: str
    api_server: str  # as the kubeconfig has it: https://host:port
    nodes: list[str]


def bring_up(config: ClusterConfig, progress: Progress) -> UpResult:
    conn = connect(config.cloud)
    lookup = Lookup(conn, config)
    needs = lookup.prerequisites()
    check_quotas(lookup, needs)
    secrets = ClusterSecrets(config.state_path)
    builder = Builder(lookup, needs, progress)
    network = builder.network()
    builder.keypair(secrets)
    booted = builder.boot(network, secrets.ensure_tokens)
    wanted = nodes(config)
    remove_surplus_agents(lookup, {node.name for node in wanted}, progress)

    timeouts = config.timeouts
    for server in booted.servers.values():
        wait_active(conn, server, timeouts.server_active, progress, timeouts.poll_interval)
    address = booted.public_ip or booted.server_ip
    raw = fetch_kubeconfig(
        conn,
        booted.servers[wanted[0].name],
        address,
        user=config.ssh_user,
        port=config.ssh_port,
        key_file=config.ssh_key_file or secrets.key_path,
        timeout=timeouts.kubeconfig,
        progress=progress,
        interval=timeouts.poll_interval,
    )
    path, context = config.kubeconfig_path, config.name
    merge_kubeconfig(path, rewrite(raw, address, context), context, config.state_path)
    progress.resource("wrote", "kubeconfig", f"{path} (context {context})")
    wait_api(path, context, timeouts.api, progress, timeouts.poll_interval)
    names = [node.name for node in wanted]
    wait_ready(path, context, names, timeouts.nodes_ready, progress, timeouts.poll_interval)
    install_charts(config.charts, path, context, timeouts.helm, progress)
    return UpResult(path, context, api_server(path, context), names)
