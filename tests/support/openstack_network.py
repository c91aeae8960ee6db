"""The fake cloud's Neutron v2.0 (docs.openstack.org/api-ref/network).

Networks, subnets, routers (gateway, add/remove interface), ports, security groups and rules,
floating IPs; tags given at creation (the ``tag-creation`` extension) and filters on any field
plus ``tags``; Neutron's ``OverQuota`` 409 for every quota'd resource (a router interface's
port counts against ``port``), and the 409 ``InUse`` errors a real Neutron gives when a
resource is deleted before what depends on it. With ``state.honour_tag_filters`` False it is a
Neutron without the ``standard-attr-tag`` extension, which ignores a ``tags`` filter.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Final

from tests.support.openstack_state import ApiError, CloudState, new_id, now

Answer = tuple[int, dict[str, str], Any]
SINGULAR: Final = {
    "networks": "network",
    "subnets": "subnet",
    "routers": "router",
    "ports": "port",
    "security-groups": "security_group",
    "security-group-rules": "security_group_rule",
    "floatingips": "floatingip",
}
NOT_FILTERS: Final = frozenset({"fields", "limit", "marker", "sort_key", "sort_dir", "tags"})
FLOATING_POOL: Final = "127.0.0."  # loopback, so a test's sshd and API server are "on" the VM


def network_route(
    state: CloudState, method: str, path: str, query: dict[str, list[str]], body: Any
) -> Answer:
    parts = path.strip("/").split("/")
    collection = parts[0]
    if collection == "extensions":
        return (
            200,
            {},
            {"extensions": [{"alias": a, "name": a} for a in ("tag-creation", "router")]},
        )
    if collection == "quotas" and method == "GET" and parts[2:] == ["details"]:
        details = _quota_details(state)
        if state.on_quota_read is not None:
            state.on_quota_read()
        return 200, {}, {"quota": details}
    if collection not in SINGULAR:
        raise ApiError(404, f"no network path {path}", "HTTPNotFound")
    table = state.table(collection)
    if method == "GET" and len(parts) == 1:
        if not state.honour_tag_filters:
            query = {k: v for k, v in query.items() if k != "tags"}
        items = [_shown(state, collection, i) for i in table.values() if _matches(i, query)]
        return 200, {}, {collection.replace("-", "_"): items}
    if method == "POST" and len(parts) == 1:
        spec = dict(body[SINGULAR[collection]])
        return 201, {}, {SINGULAR[collection]: _create(state, collection, spec)}
    item = table.get(parts[1])
    if item is None:
        kind = SINGULAR[collection].replace("_", " ").title().replace(" ", "")
        raise ApiError(404, f"{kind} {parts[1]} could not be found.", f"{kind}NotFound")
    if collection == "routers" and len(parts) == 3:
        return 200, {}, _router_interface(state, item, parts[2], body)
    if method == "GET":
        return 200, {}, {SINGULAR[collection]: _shown(state, collection, item)}
    if method == "PUT":
        item.update(body[SINGULAR[collection]])
        item["updated_at"] = now()
        return 200, {}, {SINGULAR[collection]: item}
    if method == "DELETE":
        _check_unused(state, collection, item)
        del table[item["id"]]
        if collection == "security-groups":
            for rule in list(state.table("security-group-rules").values()):
                if rule["security_group_id"] == item["id"]:
                    del state.table("security-group-rules")[rule["id"]]
        return 204, {}, None
    raise ApiError(405, f"{method} not allowed on {path}")


def _shown(state: CloudState, collection: str, item: dict[str, Any]) -> dict[str, Any]:
    """A security group is shown with its rules, as Neutron does."""
    if collection != "security-groups":
        return item
    rules = state.table("security-group-rules").values()
    return {
        **item,
        "security_group_rules": [r for r in rules if r["security_group_id"] == item["id"]],
    }


def _matches(item: dict[str, Any], query: dict[str, list[str]]) -> bool:
    for key, values in query.items():
        if key in NOT_FILTERS:
            continue
        if str(item.get(key)).lower() not in {v.lower() for v in values}:
            return False
    wanted = [t for value in query.get("tags", []) for t in value.split(",") if t]
    return all(tag in item.get("tags", []) for tag in wanted)


def _owned(state: CloudState, collection: str) -> int:
    return sum(
        1 for i in state.table(collection).values() if i.get("project_id") == state.project_id
    )


def _quota_details(state: CloudState) -> dict[str, dict[str, int]]:
    """GET /v2.0/quotas/{project_id}/details (api-ref network: quotas-details-extension)."""
    return {
        resource: {
            "limit": state.quotas[resource],
            "used": _owned(state, collection),
            "reserved": 0,
        }
        for collection, resource in SINGULAR.items()
    }


def _check_quota(state: CloudState, collection: str) -> None:
    resource = SINGULAR[collection]
    if _owned(state, collection) + 1 > state.quotas[resource]:
        raise ApiError(409, f"Quota exceeded for resources: ['{resource}'].", "OverQuota")


def _create(state: CloudState, collection: str, spec: dict[str, Any]) -> dict[str, Any]:
    _check_quota(state, collection)
    item: dict[str, Any] = {
        "id": new_id(),
        "name": spec.pop("name", ""),
        "tags": spec.pop("tags", []),
        "project_id": state.project_id,
        "tenant_id": state.project_id,
        "created_at": now(),
        "updated_at": now(),
        "description": spec.pop("description", ""),
    }
    if collection == "networks":
        item.update(status="ACTIVE", subnets=[], admin_state_up=True, shared=False)
        item["router:external"] = False
    elif collection == "subnets":
        network = _require(state, "networks", spec["network_id"])
        network["subnets"].append(item["id"])
        cidr = ipaddress.ip_network(spec["cidr"])
        item.update(gateway_ip=str(cidr.network_address + 1), ip_version=4, enable_dhcp=True)
    elif collection == "routers":
        item.update(status="ACTIVE", external_gateway_info=None, admin_state_up=True)
    elif collection == "ports":
        item.update(_new_port(state, spec))
    elif collection == "security-groups":
        item["security_group_rules"] = []
    elif collection == "security-group-rules":
        _require(state, "security-groups", spec["security_group_id"])
        spec.setdefault("remote_ip_prefix", None)
        spec.setdefault("remote_group_id", None)
        _reject_duplicate_rule(state, spec)
    elif collection == "floatingips":
        item.update(_new_floating_ip(state, spec))
    item.update(spec)
    state.table(collection)[item["id"]] = item
    if collection == "security-groups":
        for ethertype in ("IPv4", "IPv6"):  # Neutron gives every new group its egress rules
            _create(state, "security-group-rules", _egress(item["id"], ethertype))
    return item


def _egress(group_id: str, ethertype: str) -> dict[str, Any]:
    return {
        "security_group_id": group_id,
        "direction": "egress",
        "ethertype": ethertype,
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
    }


def _reject_duplicate_rule(state: CloudState, spec: dict[str, Any]) -> None:
    keys = (
        "security_group_id",
        "direction",
        "ethertype",
        "protocol",
        "port_range_min",
        "port_range_max",
        "remote_ip_prefix",
        "remote_group_id",
    )
    for rule in state.table("security-group-rules").values():
        if all(rule.get(k) == spec.get(k) for k in keys):
            raise ApiError(
                409,
                f"Security group rule already exists. Rule id is {rule['id']}.",
                "SecurityGroupRuleExists",
            )


def _new_port(state: CloudState, spec: dict[str, Any]) -> dict[str, Any]:
    network = _require(state, "networks", spec["network_id"])
    subnets = [state.table("subnets")[s] for s in network["subnets"]]
    asked = {f["subnet_id"] for f in spec.pop("fixed_ips", []) if "subnet_id" in f}
    subnets = [s for s in subnets if not asked or s["id"] in asked]
    if not subnets:
        raise ApiError(400, f"Network {network['id']} has no subnet", "IpAddressGenerationFailure")
    cidr = ipaddress.ip_network(subnets[0]["cidr"])
    address = str(cidr.network_address + state.next_host())
    return {
        "status": "DOWN",
        "device_id": "",
        "device_owner": "",
        "mac_address": "fa:16:3e:00:00:01",
        "fixed_ips": [{"subnet_id": subnets[0]["id"], "ip_address": address}],
        "security_groups": [],
        "admin_state_up": True,
    }


def _new_floating_ip(state: CloudState, spec: dict[str, Any]) -> dict[str, Any]:
    table = state.table("floatingips")
    network = _require(state, "networks", spec["floating_network_id"])
    if not network.get("router:external"):
        raise ApiError(400, f"Network {network['id']} is not a valid external network")
    used = {fip["floating_ip_address"] for fip in table.values()}
    address = next(
        f"{FLOATING_POOL}{n}" for n in range(1, 255) if f"{FLOATING_POOL}{n}" not in used
    )
    return {
        "floating_ip_address": address,
        "status": "DOWN",
        "port_id": None,
        "fixed_ip_address": None,
    }


def _router_interface(
    state: CloudState, router: dict[str, Any], action: str, body: dict[str, Any]
) -> dict[str, Any]:
    subnet = _require(state, "subnets", body["subnet_id"])
    ports = state.table("ports")
    existing = [
        p
        for p in ports.values()
        if p["device_id"] == router["id"] and p["fixed_ips"][0]["subnet_id"] == subnet["id"]
    ]
    if action == "add_router_interface":
        if existing:
            raise ApiError(
                400, f"Router already has a port on subnet {subnet['id']}.", "BadRequest"
            )
        port = _create(state, "ports", {"network_id": subnet["network_id"], "name": ""})
        port["fixed_ips"][0]["ip_address"] = subnet["gateway_ip"]
        port.update(
            device_id=router["id"], device_owner="network:router_interface", status="ACTIVE"
        )
        return {"id": router["id"], "subnet_id": subnet["id"], "port_id": port["id"]}
    if action == "remove_router_interface":
        if not existing:
            raise ApiError(
                404,
                f"Router {router['id']} has no interface on subnet {subnet['id']}",
                "RouterInterfaceNotFoundForSubnet",
            )
        del ports[existing[0]["id"]]
        return {"id": router["id"], "subnet_id": subnet["id"], "port_id": existing[0]["id"]}
    raise ApiError(404, f"no router action {action}")


def _check_unused(state: CloudState, collection: str, item: dict[str, Any]) -> None:
    ports = state.table("ports").values()
    in_use = {
        "networks": any(p["network_id"] == item["id"] for p in ports),
        "subnets": any(p["fixed_ips"][0]["subnet_id"] == item["id"] for p in ports),
        "routers": any(p["device_id"] == item["id"] for p in ports),
        "security-groups": any(item["id"] in p.get("security_groups", []) for p in ports),
        "ports": item.get("device_owner", "").startswith("network:router_interface"),
    }.get(collection, False)
    if in_use:
        kind = SINGULAR[collection].replace("_", " ")
        raise ApiError(
            409,
            f"Unable to complete operation on {kind} {item['id']}: it is in use.",
            f"{SINGULAR[collection].title().replace('_', '')}InUse",
        )
    if collection == "ports":  # a deleted port's floating IP is disassociated, not deleted
        for fip in state.table("floatingips").values():
            if fip["port_id"] == item["id"]:
                fip.update(port_id=None, fixed_ip_address=None, status="DOWN")
    if collection == "subnets":
        network = state.table("networks").get(item["network_id"])
        if network:
            network["subnets"].remove(item["id"])


def _require(state: CloudState, collection: str, item_id: str) -> dict[str, Any]:
    item = state.table(collection).get(item_id)
    if item is None:
        raise ApiError(404, f"{SINGULAR[collection]} {item_id} could not be found.", "NotFound")
    return item
