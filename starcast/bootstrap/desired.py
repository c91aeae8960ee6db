"""The desired state: every resource `up` makes, by name, in the order it makes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from starcast.bootstrap.config import ClusterConfig

Role = Literal["server", "agent"]
ROLE_TAG_PREFIX: Final = "starcast-role="
KUBE_API_PORT: Final = 6443


@dataclass(frozen=True)
class Rule:
    """One ingress rule of the nodes' security group (egress stays Neutron's default)."""

    protocol: Literal["tcp", "udp"]
    port_min: int
    port_max: int
    remote_cidr: str | None  # None: from members of the group itself
    why: str


@dataclass(frozen=True)
class Node:
    name: str
    role: Role
    flavor: str
    port_name: str


@dataclass(frozen=True)
class Names:
    network: str
    subnet: str
    router: str
    security_group: str
    keypair: str


def names(config: ClusterConfig) -> Names:
    prefix = config.name
    return Names(
        network=f"{prefix}-net",
        subnet=f"{prefix}-subnet",
        router=f"{prefix}-router",
        security_group=f"{prefix}-nodes",
        keypair=config.keypair or f"{prefix}-key",
    )


def nodes(config: ClusterConfig) -> list[Node]:
    """The server first: agents are told its address."""
    server = Node(f"{config.name}-server", "server", config.server_flavor, f"{config.name}-server")
    agents = [
        Node(f"{config.name}-agent-{i}", "agent", config.agent_flavor, f"{config.name}-agent-{i}")
        for i in range(1, config.agents + 1)
    ]
    return [server, *agents]


def security_rules(config: ClusterConfig) -> list[Rule]:
    """Only what k3s with flannel VXLAN and one embedded-datastore server needs.

    From k3s's networking requirements: 6443/tcp agents -> server, 8472/udp node to node
    (flannel VXLAN, never from outside), 10250/tcp node to node (kubelet, metrics-server).
    No etcd ports (2379-2380, only between several servers) and no WireGuard (51820/51821).
    SSH is opened on `ssh_port`, the port the VMs' sshd is told to listen on.
    """
    port = config.ssh_port
    admin = [
        rule
        for cidr in config.admin_cidrs
        for rule in (
            Rule("tcp", port, port, cidr, f"SSH from admin CIDR {cidr}"),
            Rule("tcp", KUBE_API_PORT, KUBE_API_PORT, cidr, f"k3s API from admin CIDR {cidr}"),
        )
    ]
    return [
        *admin,
        Rule("tcp", KUBE_API_PORT, KUBE_API_PORT, None, "k3s API from agents"),
        Rule("udp", 8472, 8472, None, "flannel VXLAN between nodes"),
        Rule("tcp", 10250, 10250, None, "kubelet between nodes"),
        Rule("tcp", 80, 80, config.ingress_cidr, "ingress HTTP"),
        Rule("tcp", 443, 443, config.ingress_cidr, "ingress HTTPS"),
    ]


def role_tag(role: Role) -> str:
    return f"{ROLE_TAG_PREFIX}{role}"
