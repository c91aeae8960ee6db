"""`down`: delete what carries the cluster's tag, dependents first, waiting for each VM to go.

Nothing is deleted by name alone: a network called `<name>-net` that lacks the tag, another
cluster's VMs, a keypair someone uploaded: all are left as they are. A second `down` finds
nothing and does nothing.
"""

from __future__ import annotations

from typing import Any

from starcast.bootstrap.cloud import call
from starcast.bootstrap.kubeconfig_file import remove_kubeconfig
from starcast.bootstrap.lookup import Lookup
from starcast.bootstrap.progress import Progress
from starcast.bootstrap.secrets import ClusterSecrets
from starcast.bootstrap.servers import delete_and_wait


def teardown(lookup: Lookup, secrets: ClusterSecrets, progress: Progress) -> int:
    """Delete the cluster; returns how many resources were deleted (0: there was nothing)."""
    conn, config = lookup.conn, lookup.config
    net = conn.network
    timeouts = config.timeouts
    deleted = 0
    for fip in lookup.ours("listing floating IPs", net.ips):
        call("deleting the floating IP", net.delete_ip, fip, ignore_missing=True)
        progress.resource("deleted", "floating IP", fip.floating_ip_address)
        deleted += 1
    for server in lookup.servers():
        delete_and_wait(conn, server, timeouts.deletion, progress, timeouts.poll_interval)
        deleted += 1
    for port in lookup.ports():
        call(f"deleting port {port.name}", net.delete_port, port, ignore_missing=True)
        progress.resource("deleted", "port", port.name)
        deleted += 1
    subnets = lookup.ours("listing subnets", net.subnets)
    for router in lookup.ours("listing routers", net.routers):
        for subnet in subnets:
            if lookup.router_interface(router, subnet) is not None:
                call(
                    f"detaching router {router.name} from {subnet.name}",
                    net.remove_interface_from_router,
                    router,
                    subnet=subnet.id,
                )
                progress.resource("deleted", "router interface", subnet.name)
        call(f"deleting router {router.name}", net.delete_router, router, ignore_missing=True)
        progress.resource("deleted", "router", router.name)
        deleted += 1
    for subnet in subnets:
        call(f"deleting subnet {subnet.name}", net.delete_subnet, subnet, ignore_missing=True)
        progress.resource("deleted", "subnet", subnet.name)
        deleted += 1
    for network in lookup.ours("listing networks", net.networks):
        call(f"deleting network {network.name}", net.delete_network, network, ignore_missing=True)
        progress.resource("deleted", "network", network.name)
        deleted += 1
    for group in lookup.ours("listing security groups", net.security_groups):
        call(
            f"deleting security group {group.name}",
            net.delete_security_group,
            group,
            ignore_missing=True,
        )
        progress.resource("deleted", "security group", group.name)
        deleted += 1
    deleted += _delete_generated_keypair(lookup, secrets, progress)
    secrets.forget(generated_key=config.keypair is None)
    if remove_kubeconfig(config.name, config.state_path):
        progress.resource("deleted", "kubeconfig entries", config.name)
    return deleted


def _delete_generated_keypair(lookup: Lookup, secrets: ClusterSecrets, progress: Progress) -> int:
    """Nova keypairs carry no tags: ours is the one whose key is the one we generated."""
    if lookup.config.keypair is not None or not secrets.key_path.exists():
        return 0
    keypair: Any = lookup.keypair()
    if keypair is None or keypair.public_key.split()[:2] != secrets.public_key().split()[:2]:
        return 0
    call(
        f"deleting keypair {keypair.name}",
        lookup.conn.compute.delete_keypair,
        keypair,
        ignore_missing=True,
    )
    progress.resource("deleted", "keypair", keypair.name)
    return 1


def remove_surplus_agents(lookup: Lookup, wanted: set[str], progress: Progress) -> int:
    """Agents beyond `agents` (the count was lowered): their VMs, then their ports."""
    timeouts = lookup.config.timeouts
    removed = 0
    for server in lookup.servers("agent"):
        if server.name not in wanted:
            delete_and_wait(
                lookup.conn, server, timeouts.deletion, progress, timeouts.poll_interval
            )
            removed += 1
    for port in lookup.ports():
        if port.name.startswith(f"{lookup.config.name}-agent-") and port.name not in wanted:
            call(f"deleting port {port.name}", lookup.conn.network.delete_port, port)
            progress.resource("deleted", "port", port.name)
    return removed
