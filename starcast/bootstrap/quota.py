"""The quota check before the first create: what `up` would still make, against what is free.

Without it, three agents are built before the cores quota stops the fourth, and the user is
left with a half cluster. Nova's limits (`GET /limits`: instances, cores, RAM, with what is
used) and Neutron's quota details (`GET /v2.0/quotas/{project}/details`) are read once; each
resource short of what `up` needs is listed, with the numbers and the advice that fits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from starcast.bootstrap.cloud import CloudError, answer, call, quota_advice
from starcast.bootstrap.desired import nodes, security_rules
from starcast.bootstrap.lookup import Lookup, Prerequisites, matching_rule

UNLIMITED: Final = -1
# Neutron's quota names -> openstacksdk's QuotaDetails attributes.
SDK_NAMES: Final = {
    "network": "networks",
    "subnet": "subnets",
    "router": "routers",
    "security_group": "security_groups",
    "security_group_rule": "security_group_rules",
    "port": "ports",
    "floatingip": "floating_ips",
}
# Neutron gives each new security group two egress rules (IPv4, IPv6) of its own.
DEFAULT_EGRESS_RULES: Final = 2


@dataclass(frozen=True)
class Shortfall:
    resource: str
    needed: int
    used: int
    limit: int

    def __str__(self) -> str:
        free = max(self.limit - self.used, 0)
        return (
            f"  {self.resource}: up needs {self.needed} more, {self.used} of {self.limit} are "
            f"used ({free} free): {quota_advice(self.resource)}"
        )


def compute_needs(lookup: Lookup, needs: Prerequisites) -> dict[str, int]:
    """Instances, cores and RAM (MiB) of the VMs `up` would boot (a VM in ERROR is replaced,
    so it counts as neither used nor needed twice)."""
    flavors = {
        "server": _flavor(lookup, needs.server_flavor_id),
        "agent": _flavor(lookup, needs.agent_flavor_id),
    }
    wanted: dict[str, int] = {"instances": 0, "cores": 0, "ram": 0}
    for node in nodes(lookup.config):
        if lookup.server(node) is not None:
            continue
        flavor = flavors[node.role]
        wanted["instances"] += 1
        wanted["cores"] += answer("the flavor's vcpus", int, flavor.vcpus)
        wanted["ram"] += answer("the flavor's ram", int, flavor.ram)
    return wanted


def network_needs(lookup: Lookup) -> dict[str, int]:
    """Neutron's resources (its quota names) `up` would create."""
    config = lookup.config
    network, subnet, router = lookup.network(), lookup.subnet(), lookup.router()
    group = lookup.security_group()
    rules = lookup.rules(group) if group is not None else []
    missing_rules = [r for r in security_rules(config) if matching_rule(rules, group, r) is None]
    ports = sum(1 for node in nodes(config) if lookup.port(node) is None)
    interface = (
        router is not None and subnet is not None and lookup.router_interface(router, subnet)
    )
    return {
        "network": int(network is None),
        "subnet": int(subnet is None),
        "router": int(router is None),
        "security_group": int(group is None),
        "security_group_rule": len(missing_rules) + (DEFAULT_EGRESS_RULES if group is None else 0),
        "port": ports + (0 if interface else 1),  # a router interface is a port too
        "floatingip": int(config.floating_ip and lookup.floating_ip() is None),
    }


def check_quotas(lookup: Lookup, needs: Prerequisites) -> None:
    """Refuse before anything is made when the project's quota can't hold the cluster."""
    conn = lookup.conn
    short: list[Shortfall] = []
    wanted = compute_needs(lookup, needs)
    if any(wanted.values()):
        limits = call("reading the compute limits (GET /limits)", conn.compute.get_limits)
        absolute: Any = answer("GET /limits: its absolute limits", object, limits.absolute)
        for resource, (limit, used) in {
            "instances": (absolute.instances, absolute.instances_used),
            "cores": (absolute.total_cores, absolute.total_cores_used),
            "ram": (absolute.total_ram, absolute.total_ram_used),
        }.items():
            short += _short(resource, wanted[resource], limit, used, "GET /limits")
    network = network_needs(lookup)
    if any(network.values()):
        project = conn.current_project_id
        details = call(
            "reading the network quotas (GET /v2.0/quotas/{project}/details)",
            conn.network.get_quota,
            project,
            details=True,
        )
        for resource, needed in network.items():
            entry = answer(
                f"the network quotas: {resource}", dict, getattr(details, SDK_NAMES[resource])
            )
            short += _short(
                resource, needed, entry.get("limit"), entry.get("used"), "the network quotas"
            )
    if short:
        raise CloudError(
            "the project's quota can't hold this cluster, so nothing was created:\n"
            + "\n".join(str(s) for s in short)
            + "\n(see `openstack quota show` and `openstack limits show --absolute`)"
        )


def _short(resource: str, needed: int, limit: Any, used: Any, source: str) -> list[Shortfall]:
    limit = answer(f"{source}: the {resource} limit", int, limit)
    used = answer(f"{source}: the {resource} in use", int, used)
    if needed == 0 or limit == UNLIMITED or used + needed <= limit:
        return []
    return [Shortfall(resource, needed, used, limit)]


def _flavor(lookup: Lookup, flavor_id: str) -> Any:
    return call(f"reading flavor {flavor_id}", lookup.conn.compute.get_flavor, flavor_id)
