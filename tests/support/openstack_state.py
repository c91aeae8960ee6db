"""The fake cloud's state: what it holds, by service, and the error its handlers raise."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
# Nova's and Neutron's default quotas (nova.conf [quota], neutron.conf [quotas]).
DEFAULT_QUOTAS: Final = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "network": 100,
    "subnet": 100,
    "router": 10,
    "port": 500,
    "security_group": 10,
    "security_group_rule": 100,
    "floatingip": 50,
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


def new_id() -> str:
    return str(uuid.uuid4())


def microversion(value: str) -> tuple[int, int]:
    """``"2.52"`` as ``(2, 52)``, comparable."""
    major, _, minor = value.partition(".")
    return int(major), int(minor or 0)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class CloudState:
    """Everything the cloud holds, by collection name (Neutron's plural names) and id."""

    credentials: tuple[str, str, str] = ("", "", "")
    project_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    tokens: set[str] = field(default_factory=set)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    keypairs: dict[str, dict[str, Any]] = field(default_factory=dict)
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    neutron: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    quotas: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_QUOTAS))
    error_servers: set[str] = field(default_factory=set)  # names that go ERROR after BUILD
    stuck_servers: set[str] = field(default_factory=set)  # names that stay in BUILD
    # The newest compute microversion this Nova offers (2.96: 2024.1 Caracal).
    nova_max_microversion: str = "2.96"
    # False: a Neutron without the standard-attr-tag extension, which ignores a tags filter.
    honour_tag_filters: bool = True
    console_output: str = ""  # what every server's console shows (cloud-init's key block)
    no_console: bool = False  # True: Nova's 409 "Guest does not have a console available."
    # Where a booted server's keypair lands, as cloud-init writes it to the VM's authorized_keys.
    authorized_keys: Path | None = None
    on_active: Callable[[str], None] | None = None  # called with a server's name once ACTIVE
    on_quota_read: Callable[[], None] | None = None  # called after a quota-details answer
    _ips: Iterator[int] = field(default_factory=lambda: itertools.count(10))

    def seed_defaults(self) -> None:
        """What a fresh project sees: one image, two flavors, one external network."""
        self.add_image("debian-12-genericcloud-amd64")
        self.add_flavor("m1.medium", vcpus=2, ram=4096)
        self.add_flavor("m1.large", vcpus=4, ram=8192)
        external = self.table("networks")
        net_id = new_id()
        external[net_id] = {
            "id": net_id,
            "name": "public",
            "router:external": True,
            "status": "ACTIVE",
            "admin_state_up": True,
            "subnets": [],
            "tags": [],
            "project_id": "admin",
            "shared": False,
        }

    def add_image(self, name: str) -> dict[str, Any]:
        image: dict[str, Any] = {"id": new_id(), "name": name, "status": "active"}
        image.update(visibility="public", disk_format="qcow2", container_format="bare", tags=[])
        self.images[image["id"]] = image
        return image

    def add_flavor(self, name: str, vcpus: int, ram: int) -> None:
        flavor_id = new_id()
        self.flavors[flavor_id] = {"id": flavor_id, "name": name, "vcpus": vcpus, "ram": ram}
        self.flavors[flavor_id].update({"disk": 20, "os-flavor-access:is_public": True})

    def table(self, collection: str) -> dict[str, dict[str, Any]]:
        return self.neutron.setdefault(collection, {})

    def next_host(self) -> int:
        return next(self._ips)
