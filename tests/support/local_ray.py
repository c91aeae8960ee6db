"""A real Ray instance started here for a test session, whatever other Ray runs on the machine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def local_ray(cpus: int = 2) -> Iterator[str]:
    """Start a new local Ray and yield its GCS address (what RAY_ADDRESS takes).

    Ray allows one connection per process: when a wider fixture's Ray is already connected
    here (the operator tests keep one for the session), that one is yielded and left running.
    """
    import ray

    if ray.is_initialized():
        yield ray.get_runtime_context().gcs_address
        return
    # "local": a new instance even when another Ray runs here (ray.init() would join that one).
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, configure_logging=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
