"""Fixtures of the `starcast up` tests: processes stopped after each test, a model with a report."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import pytest

from starcast import artifact
from starcast.up.processes import ManagedProcess
from tests.integration.up.launch import ctrl_c, run_up
from tests.support.models import ModelArtifact, fitted_model, model_artifact

__all__ = ["model_artifact"]


@pytest.fixture
def started() -> Iterator[list[ManagedProcess]]:
    processes: list[ManagedProcess] = []
    yield processes
    for process in processes:
        process.stop(60)


def small_png() -> bytes:
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(4, 2))
    axes.plot([1, 10, 100], [2, 9, 120])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pyplot.close(figure)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def reported_model(tmp_path_factory: pytest.TempPathFactory) -> ModelArtifact:
    """A fast model whose artifact holds a report.png, as `starcast train` writes one."""
    directory: Path = tmp_path_factory.mktemp("reported-model")
    model_bytes, manifest = fitted_model()
    artifact.write_artifact(
        directory.as_uri(), model_bytes, manifest, {artifact.REPORT_FILE: small_png()}
    )
    return ModelArtifact(
        uri=directory.as_uri(),
        sha256=manifest.model_sha256,
        version=manifest.model_version,
        path=directory,
    )


@pytest.fixture(scope="session")
def served(
    tmp_path_factory: pytest.TempPathFactory, reported_model: ModelArtifact
) -> Iterator[str]:
    """`starcast up` serving a model whose artifact has a report; its base URL."""
    up: ManagedProcess | None = None
    try:
        up, port = run_up(tmp_path_factory.mktemp("up"), "--model", reported_model.uri)
        yield f"http://127.0.0.1:{port}"
    finally:
        if up is not None and up.alive:
            ctrl_c(up)
        if up is not None:
            up.stop(60)  # an exited child's log stays open until stop
