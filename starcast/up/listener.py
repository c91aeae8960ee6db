"""The frontend's listening socket, bound by `up` itself before anything starts.

Binding first is the port check: a taken port fails in a second with the flag and the variable
that move it, not half a minute later in a frontend log. `up` keeps the socket for the whole run
and hands it to every frontend process it starts, so a frontend that crashes and is restarted
serves on the same socket, and connections made meanwhile wait in its backlog.
"""

from __future__ import annotations

import errno
import socket
from typing import Final

BACKLOG: Final = 2048


class PortTakenError(RuntimeError):
    """The frontend's address can't be bound; says which and how to choose another."""


def bind_listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortTakenError(
                f"port {port} on {host} is already in use (by another program, or another "
                f"`starcast up`): stop it, or serve on another port with --port N or "
                f"STARCAST_PORT=N"
            ) from error
        raise PortTakenError(
            f"cannot listen on {host}:{port}: {error.strerror}; choose the address with "
            f"--host / STARCAST_HOST and the port with --port / STARCAST_PORT"
        ) from error
    sock.set_inheritable(True)
    return sock
