"""Find-or-create every resource of the cluster, in dependency order, each tagged at creation.

Tags go in the create call itself (Neutron's tag-creation, Nova's tags from microversion 2.52),
so there is no moment when a resource exists untagged; a process killed at any point leaves
resources the next `up` finds by name and tag.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starcast.bootstrap.cloud import CloudError, call, ensure
from starcast.bootstrap.cloudinit import Addresses, render_user_data
from starcast.bootstrap.desired import Node, nodes, role_tag, security_rules
from starcast.bootstrap.lookup import (
    Lookup,
    Prerequisites,
    describe_rule,
    matching_rule,
    surplus_rules,
)
from starcast.bootstrap.progress import Progress
from starcast.bootstrap.secrets import ClusterSecrets, Tokens
from starcast.bootstrap.servers import replace_if_failed


@dataclass(frozen=True)
class Network:
    network: Any
    subnet: Any
    security_group: Any


@dataclass(frozen=True)
class Booted:
    """The VMs as created (maybe still BUILD), and the addresses to reach the server at."""

    servers: dict[str, Any]  # node name -> server
    server_ip: str
    public_ip: str | None


class _FirstThenFresh:
    """A rule's first look uses the listing made for all rules; a retry's look lists again."""

    def __init__(self, first: list[Any], fresh: Callable[[], list[Any]]) -> None:
        self._first: list[Any] | None = first
        self._fresh = fresh

    def __call__(self) -> list[Any]:
        first, self._first = self._first, None
        return first if first is not None else self._fresh()


def _report(progress: Progress, kind: str, name: str, created: bool) -> None:
    progress.resource("created" if created else "exists", kind, name)


class Builder:
    def __init__(self, lookup: Lookup, needs: Prerequisites, progress: Progress) -> None:
        self.lookup = lookup
        self.conn = lookup.conn
        self.config = lookup.config
        self.names = lookup.names
        self.tag = lookup.tag
        self.needs = needs
        self.progress = progress

    def network(self) -> Network:
        net = self.conn.network
        names = self.names
        network, made = ensure(
            f"network {names.network}",
            self.lookup.network,
            lambda: net.create_network(name=names.network, tags=[self.tag]),
        )
        _report(self.progress, "network", names.network, made)
        subnet, made = ensure(
            f"subnet {names.subnet}",
            self.lookup.subnet,
            lambda: net.create_subnet(
                name=names.subnet,
                network_id=network.id,
                cidr=self.config.cidr,
                ip_version=4,
                dns_nameservers=self.config.dns_nameservers,
                tags=[self.tag],
            ),
        )
        _report(self.progress, "subnet", names.subnet, made)
        self._router(subnet)
        group = self._security_group()
        return Network(network, subnet, group)

    def _router(self, subnet: Any) -> None:
        net = self.conn.network
        name = self.names.router
        gateway = {"network_id": self.needs.external_network_id}
        router, made = ensure(
            f"router {name}",
            self.lookup.router,
            lambda: net.create_router(name=name, external_gateway_info=gateway, tags=[self.tag]),
        )
        _report(self.progress, "router", name, made)
        current = (router.external_gateway_info or {}).get("network_id")
        if current != gateway["network_id"]:
            call(
                f"setting router {name}'s gateway",
                net.update_router,
                router,
                external_gateway_info=gateway,
            )
            self.progress.resource("changed", "router gateway", self.config.external_network)
        _, made = ensure(
            f"router {name}'s interface on {self.names.subnet}",
            lambda: self.lookup.router_interface(router, subnet),
            lambda: net.add_interface_to_router(router, subnet=subnet.id),
        )
        _report(self.progress, "router interface", self.names.subnet, made)

    def _security_group(self) -> Any:
        net = self.conn.network
        name = self.names.security_group
        group, made = ensure(
            f"security group {name}",
            self.lookup.security_group,
            lambda: net.create_security_group(
                name=name, description=f"k3s nodes of {self.config.name}", tags=[self.tag]
            ),
        )
        _report(self.progress, "security group", name, made)
        existing = self.lookup.rules(group)
        for rule in security_rules(self.config):
            listing = _FirstThenFresh(existing, lambda: self.lookup.rules(group))
            remote = (
                {"remote_ip_prefix": rule.remote_cidr}
                if rule.remote_cidr
                else {"remote_group_id": group.id}
            )
            _, made = ensure(
                f"rule {rule.why}",
                lambda rule=rule, listing=listing: matching_rule(  # type: ignore[misc]
                    listing(), group, rule
                ),
                lambda rule=rule, remote=remote: net.create_security_group_rule(  # type: ignore[misc]
                    security_group_id=group.id,
                    direction="ingress",
                    ethertype="IPv4",
                    protocol=rule.protocol,
                    port_range_min=rule.port_min,
                    port_range_max=rule.port_max,
                    description=rule.why,
                    **remote,
                ),
            )
            if made:
                self.progress.resource(
                    "created", "rule", f"{rule.protocol}/{rule.port_min} ({rule.why})"
                )
        # After the wanted rules exist: a new admin CIDR never leaves a moment without access.
        for extra in surplus_rules(existing, group, security_rules(self.config)):
            label, origin = describe_rule(extra, group)
            call(
                f"deleting rule {label} {origin} of security group {name}",
                net.delete_security_group_rule,
                extra,
                ignore_missing=True,
            )
            self.progress.resource("deleted", "rule", f"{label} ({origin})")
        return group

    def keypair(self, secrets: ClusterSecrets) -> None:
        name = self.names.keypair
        if self.config.keypair is not None:
            if self.lookup.keypair() is None:
                raise CloudError(
                    f"keypair {name!r} not found in cloud {self.config.cloud!r}: create it "
                    "(`openstack keypair create --public-key ...`), or omit `keypair` to have one "
                    "generated"
                )
            _report(self.progress, "keypair", name, False)
            return
        public_key = secrets.ensure_key()  # on disk before the cloud hears of it
        keypair, made = ensure(
            f"keypair {name}",
            self.lookup.keypair,
            lambda: self.conn.compute.create_keypair(name=name, public_key=public_key),
        )
        if keypair.public_key.split()[:2] != public_key.split()[:2]:
            raise CloudError(
                f"keypair {name!r} exists with another public key than {secrets.key_path}: it is "
                "not this cluster's. Delete it (`openstack keypair delete`) or set `keypair`"
            )
        _report(self.progress, "keypair", name, made)

    def port(self, node: Node, network: Network) -> Any:
        port, made = ensure(
            f"port {node.port_name}",
            lambda: self.lookup.port(node),
            lambda: self.conn.network.create_port(
                name=node.port_name,
                network_id=network.network.id,
                fixed_ips=[{"subnet_id": network.subnet.id}],
                security_group_ids=[network.security_group.id],
                tags=[self.tag, role_tag(node.role)],
            ),
        )
        _report(self.progress, "port", node.port_name, made)
        return port

    def floating_ip(self, server_port: Any) -> str:
        net = self.conn.network
        fip, made = ensure(
            "the server's floating IP",
            self.lookup.floating_ip,
            lambda: net.create_ip(
                floating_network_id=self.needs.external_network_id,
                port_id=server_port.id,
                tags=[self.tag, role_tag("server")],
                description=f"k3s API and SSH of {self.config.name}",
            ),
        )
        if fip.port_id != server_port.id:
            fip = call("attaching the floating IP", net.update_ip, fip, port_id=server_port.id)
        _report(self.progress, "floating IP", fip.floating_ip_address, made)
        return str(fip.floating_ip_address)

    def boot(self, network: Network, tokens_for: Callable[[bool], Tokens]) -> Booted:
        """Ports, floating IP, then the server VM and the agents (told the server's address)."""
        wanted = nodes(self.config)
        ports = {node.name: self.port(node, network) for node in wanted}
        server_node = wanted[0]
        server_ip = ports[server_node.name].fixed_ips[0]["ip_address"]
        public_ip = self.floating_ip(ports[server_node.name]) if self.config.floating_ip else None
        timeouts = self.config.timeouts
        existing = {
            node.name: replace_if_failed(
                self.conn,
                self.lookup.server(node),
                timeouts.deletion,
                self.progress,
                timeouts.poll_interval,
            )
            for node in wanted
        }
        tokens = tokens_for(existing[server_node.name] is not None)
        servers = {}
        for node in wanted:
            port = ports[node.name]
            addresses = Addresses(port.fixed_ips[0]["ip_address"], server_ip, public_ip)
            user_data = render_user_data(self.config, node, tokens, addresses)
            servers[node.name], made = ensure(
                f"server {node.name}",
                (lambda node=node: existing.pop(node.name, None) or self.lookup.server(node)),  # type: ignore[misc]
                lambda node=node, port=port, user_data=user_data: self._create_server(  # type: ignore[misc]
                    node, port, user_data
                ),
            )
            _report(self.progress, "server", node.name, made)
        return Booted(servers, server_ip, public_ip)

    def _create_server(self, node: Node, port: Any, user_data: str) -> Any:
        flavor = (
            self.needs.server_flavor_id if node.role == "server" else self.needs.agent_flavor_id
        )
        return self.conn.compute.create_server(
            name=node.name,
            image_id=self.needs.image_id,
            flavor_id=flavor,
            key_name=self.names.keypair,
            networks=[{"port": port.id}],
            user_data=base64.b64encode(user_data.encode()).decode(),
            tags=[self.tag, role_tag(node.role)],
            metadata={"starcast-cluster": self.config.name, "starcast-role": node.role},
        )
