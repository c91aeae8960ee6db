"""`status`: what of the cluster exists in the cloud, and whether each node is Ready."""

from __future__ import annotations

from dataclasses import dataclass

from starcast.bootstrap.lookup import Lookup
from starcast.bootstrap.nodes import node_states


@dataclass(frozen=True)
class Row:
    kind: str
    name: str
    state: str


def cluster_status(lookup: Lookup) -> list[Row]:
    net, ours = lookup.conn.network, lookup.ours
    rows = [Row("network", n.name, n.status) for n in ours("listing networks", net.networks)]
    rows += [Row("subnet", s.name, s.cidr) for s in ours("listing subnets", net.subnets)]
    rows += [Row("router", r.name, r.status) for r in ours("listing routers", net.routers)]
    rows += [
        Row("security group", g.name, f"{len(g.security_group_rules or [])} rules")
        for g in ours("listing security groups", net.security_groups)
    ]
    rows += [Row("port", p.name, p.status) for p in lookup.ports()]
    rows += [
        Row("floating IP", f.floating_ip_address, "attached" if f.port_id else "detached")
        for f in ours("listing floating IPs", net.ips)
    ]
    servers = sorted(lookup.servers(), key=lambda s: s.name)
    kubeconfig, context = lookup.config.kubeconfig_path, lookup.config.name
    states = node_states(kubeconfig, context) if servers and kubeconfig.exists() else None
    ready = {state.name: state.ready for state in states or []}
    for server in servers:
        if states is None:
            node = "node unknown (no kubeconfig, or the API is unreachable)"
        elif server.name not in ready:
            node = "node not registered"
        else:
            node = "node Ready" if ready[server.name] else "node NotReady"
        rows.append(Row("server", server.name, f"{server.status}, {node}"))
    return rows
