"""Waiting on VMs: BUILD -> ACTIVE with a timeout, ERROR reported with Nova's fault; deletions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starcast.bootstrap.cloud import CloudError, call
from starcast.bootstrap.progress import Progress, WaitTimeoutError, poll

if TYPE_CHECKING:
    from openstack.connection import Connection

POLL_S: Final = 2.0


def _failed(server: Any) -> CloudError:
    fault = (server.fault or {}).get("message") or "no fault message"
    return CloudError(
        f"server {server.name} went ERROR: {fault}. Check that the flavor fits the project's "
        "quota and the hosts; the next `up` deletes the failed VM and boots it again"
    )


def wait_active(
    conn: Connection, server: Any, timeout: float, progress: Progress, interval: float = POLL_S
) -> Any:
    def probe() -> Any:
        current = call(f"reading server {server.name}", conn.compute.get_server, server.id)
        if current.status == "ERROR":
            raise _failed(current)
        return current if current.status == "ACTIVE" else None

    with progress.waiting(f"server {server.name} ACTIVE", timeout):
        return poll(
            f"server {server.name}",
            probe,
            timeout,
            "raise timeouts.server_active, or look at `openstack server show`",
            interval,
        )


def delete_and_wait(
    conn: Connection, server: Any, timeout: float, progress: Progress, interval: float = POLL_S
) -> None:
    from openstack import exceptions as sdk

    call(f"deleting server {server.name}", conn.compute.delete_server, server, ignore_missing=True)
    progress.resource("deleted", "server", server.name)

    def gone() -> bool | None:
        try:
            conn.compute.get_server(server.id)
        except sdk.NotFoundException:
            return True
        return None

    try:
        poll(
            f"deletion of server {server.name}",
            gone,
            timeout,
            "raise timeouts.deletion, or look at `openstack server show`",
            interval,
        )
    except WaitTimeoutError as error:
        raise CloudError(str(error)) from None


def replace_if_failed(
    conn: Connection,
    server: Any | None,
    timeout: float,
    progress: Progress,
    interval: float = POLL_S,
) -> Any | None:
    """A VM of ours left in ERROR by an earlier run is deleted, so `up` boots it again."""
    if server is not None and server.status == "ERROR":
        progress.note(f"server {server.name} is in ERROR from an earlier run: replacing it")
        delete_and_wait(conn, server, timeout, progress, interval)
        return None
    return server
