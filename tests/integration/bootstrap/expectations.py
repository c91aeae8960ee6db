"""What a complete cluster of `agents` agents is, in the fake cloud's terms: for the assertions."""

from __future__ import annotations

import re
from collections import Counter

from tests.support.openstack_cloud import FakeOpenStack, Request

RULES = 7  # SSH, API x2, VXLAN, kubelet, 80, 443
ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-")


def up_mutations(agents: int) -> list[str]:
    """The changes `up` makes on an empty cloud, in order (method and collection)."""
    return [
        "POST /v2.0/networks",
        "POST /v2.0/subnets",
        "POST /v2.0/routers",
        "PUT /v2.0/routers/*/add_router_interface",
        "POST /v2.0/security-groups",
        *["POST /v2.0/security-group-rules"] * RULES,
        "POST /v2.1/os-keypairs",
        *["POST /v2.0/ports"] * (agents + 1),
        "POST /v2.0/floatingips",
        *["POST /v2.1/servers"] * (agents + 1),
    ]


# The request `up` makes for each kind of row `plan` says it will create.
CREATED_BY: dict[str, str] = {
    "network": "POST /v2.0/networks",
    "subnet": "POST /v2.0/subnets",
    "router": "POST /v2.0/routers",
    "router interface": "PUT /v2.0/routers/*/add_router_interface",
    "security group": "POST /v2.0/security-groups",
    "rule": "POST /v2.0/security-group-rules",
    "keypair": "POST /v2.1/os-keypairs",
    "port": "POST /v2.0/ports",
    "floating IP": "POST /v2.0/floatingips",
    "server": "POST /v2.1/servers",
}


def plan_rows(output: str) -> list[tuple[str, str, str]]:
    """(action, kind, name) of each row of `plan`'s table, cut at the header's columns."""
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("ACTION"))
    kind_at, name_at = lines[header].index("KIND"), lines[header].index("NAME")
    rows = []
    for line in lines[header + 1 :]:
        if not line.strip():
            break
        name = line[name_at:].split("  ")[0].strip()
        rows.append((line[:kind_at].strip(), line[kind_at:name_at].strip(), name))
    return rows


def ingress_rules(cloud: FakeOpenStack, cluster: str) -> set[tuple[str, int, int, str]]:
    """The cluster's group's ingress rules: (protocol, ports, remote), "group" for members."""
    tag = f"starcast-cluster={cluster}"
    groups = [g for g in cloud.state.table("security-groups").values() if tag in g["tags"]]
    (group,) = groups
    return {
        (
            r["protocol"],
            r["port_range_min"],
            r["port_range_max"],
            "group" if r["remote_group_id"] == group["id"] else r["remote_ip_prefix"],
        )
        for r in cloud.state.table("security-group-rules").values()
        if r["security_group_id"] == group["id"] and r["direction"] == "ingress"
    }


def k3s_rules(admin_cidr: str, ssh_port: int = 22) -> set[tuple[str, int, int, str]]:
    return {
        ("tcp", ssh_port, ssh_port, admin_cidr),
        ("tcp", 6443, 6443, admin_cidr),
        ("tcp", 6443, 6443, "group"),
        ("udp", 8472, 8472, "group"),
        ("tcp", 10250, 10250, "group"),
        ("tcp", 80, 80, "0.0.0.0/0"),
        ("tcp", 443, 443, "0.0.0.0/0"),
    }


def shape(request: Request) -> str:
    """`METHOD /path` with ids replaced by *: `PUT /v2.0/routers/*/add_router_interface`."""
    parts = ("*" if ID.match(part) else part for part in request.path.split("/"))
    return f"{request.method} " + "/".join(parts)


def resource_counts(cloud: FakeOpenStack, cluster: str) -> Counter[str]:
    """How many of each kind the cloud holds for `cluster` (by name prefix or tag)."""
    state = cloud.state
    tag = f"starcast-cluster={cluster}"
    counts: Counter[str] = Counter()
    for collection, items in state.neutron.items():
        for item in items.values():
            if tag in item.get("tags", []):
                counts[collection] += 1
    counts["servers"] = sum(1 for s in state.servers.values() if tag in s["tags"])
    counts["keypairs"] = sum(1 for k in state.keypairs if k.startswith(f"{cluster}-"))
    for item in state.neutron.get("ports", {}).values():
        if item["device_owner"] == "network:router_interface":
            counts["router interfaces"] += 1
    groups = {
        g["id"] for g in state.neutron.get("security-groups", {}).values() if tag in g["tags"]
    }
    counts["ingress rules"] = sum(
        1
        for r in state.neutron.get("security-group-rules", {}).values()
        if r["security_group_id"] in groups and r["direction"] == "ingress"
    )
    return counts


def complete(agents: int) -> Counter[str]:
    return Counter(
        {
            "networks": 1,
            "subnets": 1,
            "routers": 1,
            "router interfaces": 1,
            "security-groups": 1,
            "ingress rules": RULES,
            "keypairs": 1,
            "ports": agents + 1,
            "floatingips": 1,
            "servers": agents + 1,
        }
    )


def names_are_unique(cloud: FakeOpenStack) -> bool:
    state = cloud.state
    names = [s["name"] for s in state.servers.values()]
    for collection in ("networks", "subnets", "routers", "ports", "security-groups"):
        names += [
            f"{collection}:{i['name']}" for i in state.table(collection).values() if i["name"]
        ]
    return len(names) == len(set(names))
