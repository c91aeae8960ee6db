"""The fake cloud's Nova v2.1: flavors, keypairs, servers (docs.openstack.org/api-ref/compute).

A new server answers ``BUILD`` to its first read, then ``ACTIVE``, or ``ERROR`` with Nova's
"No valid host" fault when its name is in ``state.error_servers`` (or stays ``BUILD`` when
in ``state.stuck_servers``). Booting past the ``instances``, ``cores`` or ``ram`` quota is
Nova's 403. A deleted server is still listed (task_state ``deleting``) by the first read after
the DELETE, then gone, as a real one lingers.

Microversions as Nova has them: server tags are shown and filtered on from 2.26 (below, the
``tags`` filter is ignored, as Nova ignores it) and accepted at creation from 2.52 (below,
a 400); a keypair is created with 201 and deleted with 204 from 2.2 (200 and 202 before).
"""

from __future__ import annotations

import re
from typing import Any, Final

from tests.support.openstack_state import NO_VALID_HOST, ApiError, CloudState, new_id, now

Answer = tuple[int, dict[str, str], Any]
Version = tuple[int, int]
TAGS_SHOWN: Final = (2, 26)
TAGS_AT_CREATION: Final = (2, 52)
KEYPAIR_201: Final = (2, 2)


def compute_route(
    state: CloudState,
    method: str,
    path: str,
    query: dict[str, list[str]],
    body: Any,
    version: Version = (2, 1),
) -> Answer:
    parts = path.strip("/").split("/")
    head = parts[0]
    if head == "flavors":
        return _flavors(state, parts[1:])
    if head == "os-keypairs":
        return _keypairs(state, method, parts[1:], body, version)
    if head == "servers":
        return _servers(state, method, parts[1:], query, body, version)
    if head == "limits" and method == "GET":
        return 200, {}, {"limits": {"rate": [], "absolute": _absolute_limits(state)}}
    raise ApiError(404, f"no compute path {path}")


def compute_usage(state: CloudState) -> dict[str, int]:
    """What the project's live servers hold, as Nova counts it against the quota."""
    live = [s for s in state.servers.values() if s["task_state"] != "deleting"]
    flavors = [state.flavors.get(s["flavor"]["id"], {}) for s in live]
    return {
        "instances": len(live),
        "cores": sum(f.get("vcpus", 0) for f in flavors),
        "ram": sum(f.get("ram", 0) for f in flavors),
    }


def _absolute_limits(state: CloudState) -> dict[str, int]:
    """GET /limits' `absolute` (api-ref compute: Limits), the quota and what is used of it."""
    used = compute_usage(state)
    return {
        "maxTotalInstances": state.quotas["instances"],
        "totalInstancesUsed": used["instances"],
        "maxTotalCores": state.quotas["cores"],
        "totalCoresUsed": used["cores"],
        "maxTotalRAMSize": state.quotas["ram"],
        "totalRAMUsed": used["ram"],
        "maxTotalKeypairs": 100,
        "maxServerMeta": 128,
        "maxImageMeta": 128,
        "maxServerGroups": 10,
        "maxServerGroupMembers": 10,
        "totalServerGroupsUsed": 0,
    }


def _flavors(state: CloudState, rest: list[str]) -> Answer:
    if not rest or rest == ["detail"]:
        return 200, {}, {"flavors": list(state.flavors.values())}
    if rest[0] in state.flavors:
        return 200, {}, {"flavor": state.flavors[rest[0]]}
    raise ApiError(404, f"Flavor {rest[0]} could not be found.")


def _keypairs(
    state: CloudState, method: str, rest: list[str], body: Any, version: Version
) -> Answer:
    if method == "GET" and not rest:
        return 200, {}, {"keypairs": [{"keypair": k} for k in state.keypairs.values()]}
    if method == "POST" and not rest:
        keypair = body["keypair"]
        if keypair["name"] in state.keypairs:
            raise ApiError(409, f"Key pair '{keypair['name']}' already exists.")
        record = {
            "name": keypair["name"],
            "public_key": keypair["public_key"],
            "fingerprint": "fake",
            "type": keypair.get("type", "ssh"),
            "user_id": "demo",
            "created_at": now(),
        }
        state.keypairs[record["name"]] = record
        return (201 if version >= KEYPAIR_201 else 200), {}, {"keypair": record}
    name = rest[0] if rest else ""
    if name not in state.keypairs:
        raise ApiError(404, f"Keypair {name} not found for user demo")
    if method == "DELETE":
        del state.keypairs[name]
        return (204 if version >= KEYPAIR_201 else 202), {}, None
    return 200, {}, {"keypair": state.keypairs[name]}


def _servers(
    state: CloudState,
    method: str,
    rest: list[str],
    query: dict[str, list[str]],
    body: Any,
    version: Version,
) -> Answer:
    if method == "POST" and not rest:
        return _create_server(state, body["server"], version)
    if method == "GET" and rest in ([], ["detail"]):
        listed = [
            _read(state, s, version)
            for s in list(state.servers.values())
            if _matches(s, query, version)
        ]
        return 200, {}, {"servers": [s for s in listed if s is not None]}
    server = state.servers.get(rest[0]) if rest else None
    if server is None:
        raise ApiError(404, f"Instance {rest[0] if rest else ''} could not be found.")
    if method == "GET" and len(rest) == 1:
        shown = _read(state, server, version)
        if shown is None:
            raise ApiError(404, f"Instance {rest[0]} could not be found.")
        return 200, {}, {"server": shown}
    if method == "DELETE" and len(rest) == 1:
        server["task_state"] = "deleting"
        return 204, {}, None
    if method == "POST" and rest[1:] == ["action"] and "os-getConsoleOutput" in body:
        if state.no_console:  # Nova's ConsoleNotAvailable, e.g. a hypervisor without a log
            raise ApiError(409, "Guest does not have a console available.")
        return 200, {}, {"output": state.console_output}
    raise ApiError(400, f"unsupported server call {method} {rest}")


def _create_server(state: CloudState, spec: dict[str, Any], version: Version) -> Answer:
    if "tags" in spec and version < TAGS_AT_CREATION:
        raise ApiError(
            400,
            f"Invalid input for field/attribute server. Value: {spec}. Additional properties "
            "are not allowed ('tags' was unexpected)",
        )
    if spec["imageRef"] not in state.images:
        raise ApiError(400, f"Image {spec['imageRef']} could not be found.")
    flavor = state.flavors.get(spec["flavorRef"])
    if flavor is None:
        raise ApiError(400, f"Flavor {spec['flavorRef']} could not be found.")
    _check_quota(state, flavor)
    if spec.get("key_name") and spec["key_name"] not in state.keypairs:
        raise ApiError(400, f"Invalid key_name provided: {spec['key_name']}")
    server_id = new_id()
    ports = [n["port"] for n in spec.get("networks", []) if isinstance(n, dict) and "port" in n]
    for port_id in ports:
        port = state.table("ports").get(port_id)
        if port is None:
            raise ApiError(400, f"Port {port_id} could not be found.")
        if port["device_id"]:  # Nova's PortInUse: one port, one server
            raise ApiError(409, f"Port {port_id} is still in use.")
    for port_id in ports:
        state.table("ports")[port_id].update(
            device_id=server_id, device_owner="compute:nova", status="ACTIVE"
        )
    state.servers[server_id] = {
        "id": server_id,
        "name": spec["name"],
        "status": "BUILD",
        "task_state": "spawning",
        "build_polls": 1,
        "image": {"id": spec["imageRef"]},
        "flavor": {"id": spec["flavorRef"]},
        "key_name": spec.get("key_name"),
        "user_data": spec.get("user_data"),
        "metadata": spec.get("metadata", {}),
        "tags": spec.get("tags", []),
        "ports": ports,
        "created": now(),
        "tenant_id": state.project_id,
    }
    links = [{"rel": "self", "href": f"/servers/{server_id}"}]
    return 202, {}, {"server": {"id": server_id, "links": links, "adminPass": "unused"}}


def _check_quota(state: CloudState, flavor: dict[str, Any]) -> None:
    """Nova's quota check (nova.exception.TooManyInstances): the first resource over its limit."""
    used = compute_usage(state)
    asked = {"instances": 1, "cores": flavor["vcpus"], "ram": flavor["ram"]}
    for resource in ("instances", "cores", "ram"):
        limit = state.quotas[resource]
        if used[resource] + asked[resource] > limit:
            raise ApiError(
                403,
                f"Quota exceeded for {resource}: Requested {asked[resource]}, but already used "
                f"{used[resource]} of {limit} {resource}",
            )


def _matches(server: dict[str, Any], query: dict[str, list[str]], version: Version) -> bool:
    # Nova's name filter is a regular expression; tags= needs every tag (microversion 2.26).
    name = query.get("name", [None])[0]
    if name is not None and not re.search(name, server["name"]):
        return False
    if version < TAGS_SHOWN:
        return True
    wanted = [t for value in query.get("tags", []) for t in value.split(",") if t]
    return all(tag in server["tags"] for tag in wanted)


def _read(
    state: CloudState, server: dict[str, Any], version: Version = (2, 1)
) -> dict[str, Any] | None:
    """The server as a GET shows it now, advancing its status; None once it is gone."""
    if server["task_state"] == "deleting":
        if server.get("deleting_seen"):
            _release(state, server)
            return None
        server["deleting_seen"] = True
    elif server["status"] == "BUILD" and server["name"] not in state.stuck_servers:
        server["build_polls"] -= 1
        if server["build_polls"] < 0:
            failed = server["name"] in state.error_servers
            server["status"] = "ERROR" if failed else "ACTIVE"
            server["task_state"] = None
            if failed:
                server["fault"] = {"code": 500, "message": NO_VALID_HOST, "created": now()}
            else:
                _contextualise(state, server)
    shown = {k: v for k, v in server.items() if k not in ("build_polls", "deleting_seen", "ports")}
    shown["OS-EXT-STS:task_state"] = shown.pop("task_state")
    shown["OS-EXT-STS:vm_state"] = shown["status"].lower()
    shown["addresses"] = _addresses(state, server)
    shown.pop("user_data")
    if version < TAGS_SHOWN:
        shown.pop("tags")
    return shown


def _addresses(state: CloudState, server: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    addresses: dict[str, list[dict[str, Any]]] = {}
    networks = state.table("networks")
    for port_id in server["ports"]:
        port = state.table("ports")[port_id]
        entries = addresses.setdefault(networks[port["network_id"]]["name"], [])
        for fixed in port["fixed_ips"]:
            entries.append({"addr": fixed["ip_address"], "version": 4, "OS-EXT-IPS:type": "fixed"})
        for fip in state.table("floatingips").values():
            if fip["port_id"] == port_id:
                address = fip["floating_ip_address"]
                entries.append({"addr": address, "version": 4, "OS-EXT-IPS:type": "floating"})
    return addresses


def _release(state: CloudState, server: dict[str, Any]) -> None:
    for port_id in server["ports"]:
        port = state.table("ports").get(port_id)
        if port is not None:  # a port made before the boot outlives the server, as in Nova
            port.update(device_id="", device_owner="", status="DOWN")
    state.servers.pop(server["id"], None)


def _contextualise(state: CloudState, server: dict[str, Any]) -> None:
    """What cloud-init does on an ACTIVE VM that tests can see: the keypair, then k3s's join."""
    keypair = state.keypairs.get(server["key_name"] or "")
    if state.authorized_keys is not None and keypair is not None:
        with state.authorized_keys.open("a") as keys:
            keys.write(keypair["public_key"].strip() + "\n")
    if state.on_active is not None:
        state.on_active(server["name"])
