"""The fake cloud's answers: Keystone v3, Nova v2.1, Glance v2 (Neutron in openstack_network.py).

Bodies follow OpenStack's API references (docs.openstack.org/api-ref/{identity,compute,image}):
the version documents keystoneauth discovers, the token with its catalog, ``{"server": ...}``
envelopes, Nova's 403 "Quota exceeded for instances" and a server's ``fault`` when it goes ERROR.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.openstack_compute import compute_route
from tests.support.openstack_network import network_route
from tests.support.openstack_state import ApiError, CloudState

Answer = tuple[int, dict[str, str], Any]


def route(
    state: CloudState,
    base: str,
    method: str,
    service: str,
    path: str,
    query: dict[str, list[str]],
    body: Any,
    authorised: bool,
    version: tuple[int, int] = (0, 0),
) -> Answer:
    """``version``: the compute microversion the request runs at (Nova only)."""
    if service == "identity":
        return _identity(state, base, method, path, body)
    if path in ("/", "/v2.1", "/v2", "/v2.0") and method == "GET":
        return 200, {}, _versions(state, base, service, path)
    if not authorised:
        raise ApiError(401, "The request you have made requires authentication.")
    if service == "compute":
        status, headers, payload = compute_route(
            state, method, path.removeprefix("/v2.1"), query, body, version
        )
        answered = f"compute {version[0]}.{version[1]}"
        return status, {**headers, "OpenStack-API-Version": answered}, payload
    if service == "image":
        return _image(state, path.removeprefix("/v2"), query)
    if service == "network":
        return network_route(state, method, path.removeprefix("/v2.0"), query, body)
    raise ApiError(404, f"no service {service}")


def _versions(state: CloudState, base: str, service: str, path: str) -> dict[str, Any]:
    if service == "compute":
        version = {
            "id": "v2.1",
            "status": "CURRENT",
            "version": state.nova_max_microversion,
            "min_version": "2.1",
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base}/compute/v2.1/"}],
        }
        return {"version": version} if path == "/v2.1" else {"versions": [version]}
    ids = {"image": ("v2.16", "v2"), "network": ("v2.0", "v2.0")}
    version_id, prefix = ids[service]
    version = {
        "id": version_id,
        "status": "CURRENT",
        "links": [{"rel": "self", "href": f"{base}/{service}/{prefix}/"}],
    }
    return {"versions": [version]}


def _identity(state: CloudState, base: str, method: str, path: str, body: Any) -> Answer:
    version = {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/identity/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }
    if method == "GET" and path == "/":
        return 300, {}, {"versions": {"values": [version]}}
    if method == "GET" and path == "/v3":
        return 200, {}, {"version": version}
    if method == "POST" and path == "/v3/auth/tokens":
        return _issue_token(state, base, body)
    raise ApiError(404, f"no identity path {path}")


def _issue_token(state: CloudState, base: str, body: Any) -> Answer:
    password = body["auth"]["identity"]["password"]["user"]
    project = body["auth"].get("scope", {}).get("project", {}).get("name")
    if (password.get("name"), password.get("password"), project) != state.credentials:
        raise ApiError(401, "The request you have made requires authentication.")
    token = uuid.uuid4().hex
    state.tokens.add(token)
    services = {"compute": "nova", "image": "glance", "network": "neutron", "identity": "keystone"}
    suffix = {"compute": "/v2.1", "identity": "/v3"}
    catalog = [
        {
            "id": uuid.uuid4().hex,
            "type": kind,
            "name": name,
            "endpoints": [
                {
                    "id": uuid.uuid4().hex,
                    "interface": "public",
                    "region": "RegionOne",
                    "region_id": "RegionOne",
                    "url": f"{base}/{kind}{suffix.get(kind, '')}",
                }
            ],
        }
        for kind, name in services.items()
    ]
    issued = datetime.now(UTC)
    payload = {
        "token": {
            "methods": ["password"],
            "user": {
                "id": uuid.uuid4().hex,
                "name": password["name"],
                "domain": {"id": "default", "name": "Default"},
            },
            "project": {
                "id": state.project_id,
                "name": project,
                "domain": {"id": "default", "name": "Default"},
            },
            "roles": [{"id": uuid.uuid4().hex, "name": "member"}],
            "issued_at": issued.isoformat(),
            "expires_at": (issued + timedelta(hours=1)).isoformat(),
            "catalog": catalog,
        }
    }
    return 201, {"X-Subject-Token": token}, payload


def _image(state: CloudState, path: str, query: dict[str, list[str]]) -> Answer:
    if path == "/images":
        names = query.get("name")
        images = [i for i in state.images.values() if not names or i["name"] in names]
        return 200, {}, {"images": images, "first": "/v2/images", "schema": "/v2/schemas/images"}
    image_id = path.removeprefix("/images/")
    if image_id in state.images:
        return 200, {}, state.images[image_id]
    raise ApiError(404, f"No image found with ID {image_id}")


__all__ = ["ApiError", "CloudState", "route"]
