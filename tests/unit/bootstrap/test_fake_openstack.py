"""The fake cloud's Nova answers by microversion as Nova's API reference says (server tags
from 2.26/2.52, keypair codes from 2.2, 406 beyond the maximum): tests rely on them."""

from __future__ import annotations

from typing import Any

from tests.support.openstack_cloud import FakeOpenStack


def _cloud() -> tuple[FakeOpenStack, dict[str, Any]]:
    cloud = FakeOpenStack()
    cloud.state.seed_defaults()
    cloud.state.tokens.add("token")
    image, flavor = next(iter(cloud.state.images)), next(iter(cloud.state.flavors))
    body = {"server": {"name": "vm", "imageRef": image, "flavorRef": flavor, "tags": ["a"]}}
    return cloud, body


def _at(version: str) -> dict[str, str]:
    return {"x-auth-token": "token", "openstack-api-version": f"compute {version}"}


def test_server_tags_need_their_microversions() -> None:
    cloud, body = _cloud()
    status, _, error = cloud.handle("POST", "/compute/v2.1/servers", _at("2.51"), body)
    assert status == 400 and "'tags' was unexpected" in error["badRequest"]["message"]
    status, headers, _ = cloud.handle("POST", "/compute/v2.1/servers", _at("2.52"), body)
    assert status == 202 and headers["OpenStack-API-Version"] == "compute 2.52"

    listing = "/compute/v2.1/servers/detail?tags=b"
    _, _, old = cloud.handle("GET", listing, {"x-auth-token": "token"}, None)  # 2.1
    assert [s["name"] for s in old["servers"]] == ["vm"]  # the filter ignored, as Nova does
    assert "tags" not in old["servers"][0]
    _, _, new = cloud.handle("GET", listing, _at("2.26"), None)
    assert new["servers"] == []
    assert cloud.requests[-1].microversion == "2.26"


def test_keypair_codes_and_the_maximum() -> None:
    cloud, _ = _cloud()
    keypair = {"keypair": {"name": "k", "public_key": "ssh-ed25519 AAAA"}}
    assert cloud.handle("POST", "/compute/v2.1/os-keypairs", _at("2.1"), keypair)[0] == 200
    assert cloud.handle("DELETE", "/compute/v2.1/os-keypairs/k", _at("2.1"), None)[0] == 202
    assert cloud.handle("POST", "/compute/v2.1/os-keypairs", _at("2.10"), keypair)[0] == 201
    assert cloud.handle("DELETE", "/compute/v2.1/os-keypairs/k", _at("2.10"), None)[0] == 204
    status, _, error = cloud.handle("GET", "/compute/v2.1/flavors/detail", _at("2.97"), None)
    assert status == 406 and "maximum is 2.96" in error["computeFault"]["message"]
