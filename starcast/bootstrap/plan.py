"""`plan`: the cloud (read-only calls) against cluster.yaml: what `up` would create, keep, change.

Nothing here writes: the lookups are GETs, and the user-data is rendered with the token shown
as redacted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from starcast.bootstrap.cloudinit import Addresses, render_user_data
from starcast.bootstrap.desired import nodes, security_rules
from starcast.bootstrap.lookup import Lookup, describe_rule, matching_rule, surplus_rules

Action = Literal["create", "keep", "change", "replace", "delete"]


@dataclass(frozen=True)
class Change:
    action: Action
    kind: str
    name: str
    detail: str = ""


@dataclass(frozen=True)
class Plan:
    changes: list[Change]
    user_data: dict[str, str]  # node name -> rendered cloud-init (token redacted)

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def table(self) -> str:
        rows = [("ACTION", "KIND", "NAME", "DETAIL")] + [
            (c.action, c.kind, c.name, c.detail) for c in self.changes
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
            + (f"  {row[3]}" if row[3] else "")
            for row in rows
        ]
        summary = ", ".join(
            f"{self.count(a)} to {a}"
            for a in ("create", "change", "replace", "delete", "keep")
            if self.count(a)
        )
        return "\n".join([*(line.rstrip() for line in lines), "", f"Plan: {summary}."])


def _exists(found: Any, kind: str, name: str, detail: str = "") -> Change:
    return Change("keep" if found is not None else "create", kind, name, detail)


def make_plan(lookup: Lookup) -> Plan:
    config, names = lookup.config, lookup.names
    needs = lookup.prerequisites()
    changes: list[Change] = []
    network = lookup.network()
    changes.append(_exists(network, "network", names.network))
    subnet = lookup.subnet() if network is not None else None
    changes.append(_exists(subnet, "subnet", names.subnet, config.cidr))
    router = lookup.router()
    if router is None:
        changes.append(
            Change("create", "router", names.router, f"gateway {config.external_network}")
        )
    elif (router.external_gateway_info or {}).get("network_id") != needs.external_network_id:
        changes.append(
            Change("change", "router", names.router, f"set gateway {config.external_network}")
        )
    else:
        changes.append(Change("keep", "router", names.router))
    interface = lookup.router_interface(router, subnet) if router and subnet else None
    changes.append(_exists(interface, "router interface", f"{names.router}:{names.subnet}"))
    group = lookup.security_group()
    wanted_rules = security_rules(config)
    existing_rules: list[Any] = lookup.rules(group) if group is not None else []
    surplus = surplus_rules(existing_rules, group, wanted_rules) if group is not None else []
    if group is None:
        changes.append(
            Change(
                "create",
                "security group",
                names.security_group,
                f"{len(wanted_rules)} ingress rules",
            )
        )
    else:
        missing = [r for r in wanted_rules if matching_rule(existing_rules, group, r) is None]
        edits = []
        if missing:
            edits.append(f"add {len(missing)} rules")
        if surplus:
            edits.append(f"remove {len(surplus)} rules")
        changes.append(
            Change(
                "change" if edits else "keep",
                "security group",
                names.security_group,
                ", ".join(edits),
            )
        )
    for rule in wanted_rules:
        remote = rule.remote_cidr or "group members"
        found = matching_rule(existing_rules, group, rule) if group is not None else None
        changes.append(
            _exists(found, "rule", f"{rule.protocol}/{rule.port_min}", f"from {remote}: {rule.why}")
        )
    for extra in surplus:
        label, origin = describe_rule(extra, group)
        changes.append(Change("delete", "rule", label, f"{origin}: not a port k3s needs here"))
    keypair = lookup.keypair()
    key_detail = "existing" if config.keypair else "generated ed25519, private key 0600"
    changes.append(_exists(keypair, "keypair", names.keypair, key_detail))
    wanted = nodes(config)
    ports = {node.name: lookup.port(node) for node in wanted}
    for node in wanted:
        changes.append(_exists(ports[node.name], "port", node.port_name))
    if config.floating_ip:
        fip = lookup.floating_ip()
        server_port = ports[wanted[0].name]
        if fip is None:
            changes.append(
                Change("create", "floating IP", "(server)", f"on {config.external_network}")
            )
        elif server_port is None or fip.port_id != server_port.id:
            changes.append(
                Change("change", "floating IP", fip.floating_ip_address, "attach to server")
            )
        else:
            changes.append(Change("keep", "floating IP", fip.floating_ip_address))
    for node in wanted:
        server = lookup.server(node)
        flavor = config.server_flavor if node.role == "server" else config.agent_flavor
        detail = f"{node.role}, {flavor}, {config.image}"
        if server is not None and server.status == "ERROR":
            changes.append(Change("replace", "server", node.name, f"{detail} (in ERROR)"))
        else:
            changes.append(_exists(server, "server", node.name, detail))
    wanted_names = {node.name for node in wanted}
    for server in lookup.servers("agent"):
        if server.name not in wanted_names:
            changes.append(Change("delete", "server", server.name, "beyond `agents`"))
    return Plan(changes, _user_data(lookup, ports))


def _user_data(lookup: Lookup, ports: dict[str, Any]) -> dict[str, str]:
    wanted = nodes(lookup.config)
    fip = lookup.floating_ip() if lookup.config.floating_ip else None

    def ip(name: str) -> str | None:
        port = ports.get(name)
        return port.fixed_ips[0]["ip_address"] if port is not None else None

    server_ip = ip(wanted[0].name)
    public = fip.floating_ip_address if fip is not None else None
    return {
        node.name: render_user_data(
            lookup.config, node, None, Addresses(ip(node.name), server_ip, public)
        )
        for node in wanted
    }
