"""Read-only lookups, by name AND the cluster's tag: what plan, up, status and down all start from.

A resource with the right name but without the tag is someone else's: it is never adopted,
changed or deleted; `up` stops and says so. Every listing by tag is checked again here: a
cloud that ignores the `tags` filter (a Neutron without the tag extension) must not hand
`down` someone else's resources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starcast.bootstrap.cloud import CloudError, find, listing, only
from starcast.bootstrap.config import ClusterConfig
from starcast.bootstrap.desired import Node, Role, Rule, names, role_tag

if TYPE_CHECKING:
    from openstack.connection import Connection


@dataclass(frozen=True)
class Prerequisites:
    """What the cloud must already have: checked before anything is made."""

    image_id: str
    server_flavor_id: str
    agent_flavor_id: str
    external_network_id: str


class Lookup:
    def __init__(self, connection: Connection, config: ClusterConfig) -> None:
        self.conn = connection
        self.config = config
        self.tag = config.tag
        self.names = names(config)

    # -- prerequisites ------------------------------------------------------------------------

    def prerequisites(self) -> Prerequisites:
        config = self.config
        image = find("looking up the image", self.conn.image.find_image, config.image)
        if image is None:
            available = sorted(i.name for i in listing("listing images", self.conn.image.images))
            raise CloudError(
                f"image {config.image!r} not found in cloud {config.cloud!r}: set `image` in "
                f"cluster.yaml to one of: {', '.join(available) or '(none visible)'}"
            )
        flavors = {
            role: self._flavor(role, flavor)
            for role, flavor in (
                ("server_flavor", config.server_flavor),
                ("agent_flavor", config.agent_flavor),
            )
        }
        network = find(
            "looking up the external network",
            self.conn.network.find_network,
            config.external_network,
        )
        if network is None or not network.is_router_external:
            externals = listing(
                "listing external networks", self.conn.network.networks, is_router_external=True
            )
            what = "not found" if network is None else "is not an external network"
            raise CloudError(
                f"external_network {config.external_network!r} {what}: set it to one of: "
                f"{', '.join(sorted(n.name for n in externals)) or '(none visible)'}"
            )
        return Prerequisites(
            image.id, flavors["server_flavor"], flavors["agent_flavor"], network.id
        )

    def _flavor(self, field: str, name: str) -> str:
        flavor = find(f"looking up flavor {name}", self.conn.compute.find_flavor, name)
        if flavor is None:
            available = sorted(
                f.name for f in listing("listing flavors", self.conn.compute.flavors)
            )
            raise CloudError(
                f"flavor {name!r} not found in cloud {self.config.cloud!r}: set `{field}` in "
                f"cluster.yaml to one of: {', '.join(available) or '(none visible)'}"
            )
        return str(flavor.id)

    # -- the cluster's own resources ----------------------------------------------------------

    def ours(self, what: str, function: Any, *roles: Role, **filters: Any) -> list[Any]:
        """What `function` lists carrying the cluster's tag (and each role's), checked here too."""
        tags = [self.tag, *(role_tag(role) for role in roles)]
        found = listing(what, function, tags=",".join(tags), **filters)
        return [item for item in found if all(tag in (item.tags or []) for tag in tags)]

    def _tagged(self, kind: str, name: str, function: Any, **filters: Any) -> Any:
        matches = self.ours(f"looking up {kind} {name}", function, name=name, **filters)
        found = only(f"{kind} {name} tagged {self.tag}", matches)
        if found is None:
            same_name = listing(f"looking up {kind} {name}", function, name=name, **filters)
            if same_name:
                raise CloudError(
                    f"a {kind} named {name!r} exists without the tag {self.tag!r}: it isn't this "
                    "cluster's, so it is left alone. Rename the cluster (`name`) or remove it"
                )
        return found

    def network(self) -> Any:
        return self._tagged("network", self.names.network, self.conn.network.networks)

    def subnet(self) -> Any:
        return self._tagged("subnet", self.names.subnet, self.conn.network.subnets)

    def router(self) -> Any:
        return self._tagged("router", self.names.router, self.conn.network.routers)

    def router_interface(self, router: Any, subnet: Any) -> Any:
        ports = listing(
            "looking up the router's interface",
            self.conn.network.ports,
            device_id=router.id,
            network_id=subnet.network_id,
        )
        return next(
            (p for p in ports if any(ip["subnet_id"] == subnet.id for ip in p.fixed_ips)), None
        )

    def security_group(self) -> Any:
        return self._tagged(
            "security group", self.names.security_group, self.conn.network.security_groups
        )

    def rules(self, group: Any) -> list[Any]:
        """The group's ingress rules, in one call (then matched with :func:`matching_rule`)."""
        return listing(
            "looking up security group rules",
            self.conn.network.security_group_rules,
            security_group_id=group.id,
            direction="ingress",
        )

    def keypair(self) -> Any:
        return find("looking up the keypair", self.conn.compute.find_keypair, self.names.keypair)

    def port(self, node: Node) -> Any:
        return self._tagged("port", node.port_name, self.conn.network.ports)

    def server(self, node: Node) -> Any:
        # Nova's name filter is a regular expression: anchor it. Tags filter: microversion 2.26.
        pattern = f"^{re.escape(node.name)}$"
        matches = self.ours(
            f"looking up server {node.name}", self.conn.compute.servers, name=pattern
        )
        return only(f"server {node.name} tagged {self.tag}", matches)

    def floating_ip(self) -> Any:
        found = self.ours("looking up the floating IP", self.conn.network.ips, "server")
        return only("the server's floating IP", found)

    def servers(self, role: Role | None = None) -> list[Any]:
        roles: tuple[Role, ...] = () if role is None else (role,)
        return self.ours("listing the cluster's servers", self.conn.compute.servers, *roles)

    def ports(self) -> list[Any]:
        return self.ours("listing the cluster's ports", self.conn.network.ports)


def matching_rule(existing: list[Any], group: Any, rule: Rule) -> Any:
    """The rule among `existing` that does what `rule` asks (remote CIDR, or the group itself)."""
    for candidate in existing:
        remote_ok = (
            candidate.remote_ip_prefix == rule.remote_cidr
            if rule.remote_cidr is not None
            else candidate.remote_group_id == group.id and candidate.remote_ip_prefix is None
        )
        ports = (candidate.protocol, candidate.port_range_min, candidate.port_range_max)
        wanted = (rule.protocol, rule.port_min, rule.port_max)
        if ports == wanted and remote_ok and candidate.ether_type == "IPv4":
            return candidate
    return None


def surplus_rules(existing: list[Any], group: Any, wanted: list[Rule]) -> list[Any]:
    """Ingress rules of the group that no wanted rule accounts for (those of an earlier
    admin CIDR, one added by hand): `up` removes them, so the group opens only what k3s needs."""
    kept = {id(matching_rule(existing, group, rule)) for rule in wanted}
    return [rule for rule in existing if id(rule) not in kept]


def describe_rule(rule: Any, group: Any) -> tuple[str, str]:
    """A cloud rule as plan and up show it: ("tcp/22", "from 0.0.0.0/0")."""
    ports = "all" if rule.port_range_min is None else str(rule.port_range_min)
    if rule.port_range_max not in (None, rule.port_range_min):
        ports += f"-{rule.port_range_max}"
    if rule.remote_group_id is not None:
        remote = "group members" if rule.remote_group_id == group.id else rule.remote_group_id
    else:
        remote = rule.remote_ip_prefix or "anywhere"
    return f"{rule.protocol or 'any'}/{ports}", f"from {remote} ({rule.ether_type})"
