"""A fake OpenStack cloud on loopback that speaks the real wire format, for the real openstacksdk.

No OpenStack can run here and no maintained emulator exists, so this is ours: Keystone v3
(version discovery, password auth, a service catalog), Nova (flavors, keypairs, servers with
BUILD -> ACTIVE or ERROR, console output), Glance (images) and Neutron (networks, subnets,
routers with gateway and interfaces, ports, security groups and rules, floating IPs), with the
request and response bodies of OpenStack's published API references (see ``openstack_api.py``).

Tests drive it through a real ``clouds.yaml`` (:meth:`FakeOpenStack.write_clouds_yaml`) and
assert on :attr:`FakeOpenStack.requests`, the record of every call. They shape it with
quotas, :meth:`fail_next` (a 409 or a 500 on one call), ``error_servers`` (a VM that goes
ERROR) and :meth:`kill_client_after` (SIGKILL the client right after its Nth change reached the
cloud, before it hears the answer: the worst moment for an interrupted ``up``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from tests.support.openstack_api import ApiError, CloudState, route
from tests.support.openstack_state import microversion

USERNAME: Final = "demo"
PASSWORD: Final = "fake-cloud-password-do-not-log"
PROJECT: Final = "starcast"
MUTATING: Final = frozenset({"POST", "PUT", "DELETE", "PATCH"})


@dataclass(frozen=True)
class Request:
    """One request the cloud saw: ``service`` is ``identity|compute|image|network``."""

    method: str
    service: str
    path: str  # below the service's endpoint, e.g. ``/v2.0/networks``
    query: dict[str, list[str]]
    body: Any
    status: int
    microversion: str = ""  # the compute microversion the client asked for ("" elsewhere)

    @property
    def mutating(self) -> bool:
        """Changes the cloud: not a login, not a read through a POST (Nova's console output)."""
        reads = isinstance(self.body, dict) and "os-getConsoleOutput" in self.body
        return self.method in MUTATING and self.service != "identity" and not reads

    def __str__(self) -> str:
        return f"{self.method} {self.service}{self.path} -> {self.status}"


@dataclass
class Fault:
    method: str
    path_suffix: str
    status: int
    times: int
    after_applying: bool  # the call takes effect, then the answer is lost in a 5xx


@dataclass
class _Kill:
    after: int
    pid: int | None = None


@dataclass
class FakeOpenStack:
    """The cloud's state, its faults and its request log; ``url`` once started."""

    state: CloudState = field(default_factory=CloudState)
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    _faults: list[Fault] = field(default_factory=list)
    _kill: _Kill | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- shaping the cloud --------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_suffix: str,
        status: int,
        times: int = 1,
        *,
        after_applying: bool = False,
    ) -> None:
        """Answer the next ``times`` ``method`` calls whose path ends with ``path_suffix``
        with ``status``; with ``after_applying``, only once the call has taken effect."""
        self._faults.append(Fault(method, path_suffix, status, times, after_applying))

    def kill_client_after(self, mutations: int) -> None:
        """SIGKILL the client (see :meth:`set_client_pid`) once its Nth change is applied."""
        self._kill = _Kill(after=mutations)

    def set_client_pid(self, pid: int) -> None:
        if self._kill is not None:
            self._kill.pid = pid

    # -- reading the record -------------------------------------------------------------------

    def mutations(self) -> list[Request]:
        return [request for request in self.requests if request.mutating]

    def clear_requests(self) -> None:
        self.requests.clear()

    def write_clouds_yaml(self, directory: Path, cloud: str = "fake") -> Path:
        """A real clouds.yaml entry for this cloud (password auth, one region)."""
        path = directory / "clouds.yaml"
        entry = {
            "auth": {
                "auth_url": f"{self.url}/identity",
                "username": USERNAME,
                "password": PASSWORD,
                "project_name": PROJECT,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": "RegionOne",
            "identity_api_version": 3,
            "interface": "public",
        }
        path.write_text(yaml.safe_dump({"clouds": {cloud: entry}}))
        return path

    # -- serving ------------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(raw_path)
        service, _, rest = parts.path.lstrip("/").partition("/")
        path = "/" + rest.rstrip("/") if rest.strip("/") else "/"
        query = parse_qs(parts.query, keep_blank_values=True)
        asked = compute_microversion(headers) if service == "compute" else ""
        with self._lock:
            status, out_headers, payload = self._answer(method, service, path, query, headers, body)
            request = Request(method, service, path, query, body, status, asked)
            self.requests.append(request)
            if request.mutating and status < 400:
                self._maybe_kill()
        return status, out_headers, payload

    def _answer(
        self,
        method: str,
        service: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
    ) -> tuple[int, dict[str, str], Any]:
        fault = next(
            (
                f
                for f in self._faults
                if f.times > 0 and f.method == method and path.endswith(f.path_suffix)
            ),
            None,
        )
        injected: tuple[int, dict[str, str], Any] | None = None
        if fault is not None:
            fault.times -= 1
            injected = (fault.status, {}, _error_body(service, fault.status, "injected fault"))
            if not fault.after_applying:
                return injected
        authorised = headers.get("x-auth-token") in self.state.tokens
        try:
            version = self._negotiated(service, headers)
            answer = route(
                self.state, self.url, method, service, path, query, body, authorised, version
            )
        except ApiError as error:
            return error.status, {}, _error_body(service, error.status, error.message, error.kind)
        return injected or answer

    def _negotiated(self, service: str, headers: dict[str, str]) -> tuple[int, int]:
        """The compute microversion a request runs at: 2.1 unless asked; Nova's 406 beyond max."""
        if service != "compute":
            return (0, 0)
        maximum = self.state.nova_max_microversion
        asked = compute_microversion(headers) or "2.1"
        if asked == "latest":
            asked = maximum
        if not microversion("2.1") <= microversion(asked) <= microversion(maximum):
            raise ApiError(
                406,
                f"Version {asked} is not supported by the API. Minimum is 2.1 and maximum "
                f"is {maximum}.",
            )
        return microversion(asked)

    def _maybe_kill(self) -> None:
        kill = self._kill
        if kill is None:
            return
        kill.after -= 1
        if kill.after > 0:
            return
        deadline = time.monotonic() + 10
        while kill.pid is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if kill.pid is not None:
            os.kill(kill.pid, signal.SIGKILL)
        self._kill = None


def compute_microversion(headers: dict[str, str]) -> str:
    """The microversion asked for, from ``OpenStack-API-Version: compute 2.96`` or the
    legacy ``X-OpenStack-Nova-API-Version``; "" when none was."""
    for part in headers.get("openstack-api-version", "").split(","):
        service, _, version = part.strip().partition(" ")
        if service == "compute" and version.strip():
            return version.strip()
    return headers.get("x-openstack-nova-api-version", "").strip()


def _error_body(service: str, status: int, message: str, kind: str = "") -> dict[str, Any]:
    """The error envelope each service really uses (Neutron's differs from Nova's)."""
    if service == "network":
        return {"NeutronError": {"type": kind or "HTTPError", "message": message, "detail": ""}}
    if service == "compute":
        key = {400: "badRequest", 403: "forbidden", 404: "itemNotFound", 409: "conflictingRequest"}
        return {key.get(status, "computeFault"): {"code": status, "message": message}}
    return {"error": {"code": status, "message": message, "title": kind or "Error"}}


class _Handler(BaseHTTPRequestHandler):
    cloud: FakeOpenStack  # set on the per-server subclass
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, out_headers, payload = self.cloud.handle(self.command, self.path, headers, body)
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for key, value in out_headers.items():
            self.send_header(key, value)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # the cloud keeps its own record
        return


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client the tests SIGKILL mid-request resets its connection: expected, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def start_fake_openstack(cloud: FakeOpenStack | None = None) -> tuple[FakeOpenStack, Any]:
    """Serve ``cloud`` on a free loopback port from a thread; returns it and the HTTP server."""
    cloud = cloud or FakeOpenStack()
    handler = type("Handler", (_Handler,), {"cloud": cloud})
    server = _Server(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    cloud.url = f"http://127.0.0.1:{server.server_address[1]}"
    cloud.state.credentials = (USERNAME, PASSWORD, PROJECT)
    threading.Thread(target=server.serve_forever, name="fake-openstack", daemon=True).start()
    return cloud, server


@pytest.fixture
def fake_openstack() -> Iterator[FakeOpenStack]:
    """A fresh, empty cloud (an image, two flavors and an external network) per test."""
    cloud, server = start_fake_openstack()
    cloud.state.seed_defaults()
    try:
        yield cloud
    finally:
        server.shutdown()
        server.server_close()
