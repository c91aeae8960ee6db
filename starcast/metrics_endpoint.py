"""A process's own Prometheus registry, served on /metrics from a daemon thread until stopped.

The operator and the Celery workers each keep their series in a registry of their own (not the
global default, so a test or a second instance in one process starts from zero) and serve it on
a port of their settings; this is the serve/stop they share.
"""

from __future__ import annotations

import logging
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

logger = logging.getLogger(__name__)


class ServedRegistry:
    """A registry, and the HTTP server that exposes it while `serve` was called and not `stop`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._server: WSGIServer | None = None

    def serve(self, host: str, port: int) -> None:
        """Serve /metrics on `host:port` from a daemon thread (port 0: any free port)."""
        if self._server is not None:
            raise RuntimeError("the metrics endpoint is already served; stop it first")
        self._server, _ = start_http_server(port, addr=host, registry=self.registry)
        logger.info("metrics served on http://%s:%d/metrics", host, self.port)

    @property
    def port(self) -> int:
        """The port the endpoint listens on (the one chosen when `serve` was given 0)."""
        if self._server is None:
            raise RuntimeError("the metrics endpoint is not served")
        return int(self._server.server_port)

    def stop(self) -> None:
        """Close the endpoint; a no-op when it is not served."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
