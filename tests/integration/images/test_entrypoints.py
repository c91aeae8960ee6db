"""Each image's venv, installed as its Dockerfile installs it, runs that image's entrypoint.

No image can be built here (no container engine), so this proves what the image would do: the
venv holds only the image's extra (a fresh venv, not the dev one) and its ENTRYPOINT and CMD start
the component from it, against the real RabbitMQ where it needs one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from starcast.up.processes import ManagedProcess, free_port, wait_until
from tests.integration.images.conftest import ImageVenv
from tests.support.dockerfile import container_command, runtime_environment
from tests.support.models import ModelArtifact

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START_TIMEOUT_S = 120.0


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == httpx.codes.OK
    except httpx.HTTPError:
        return False


def test_the_venv_holds_the_extra_and_nothing_of_the_others(image_venv: ImageVenv) -> None:
    _, venv = image_venv("worker")
    python = str(venv / "bin" / "python")
    probe = "import importlib.util as u; print([m for m in %r if u.find_spec(m)])"
    others = ["kopf", "kubernetes", "ray", "openstack", "sqlalchemy", "pytest"]
    found = subprocess.run(
        [python, "-c", probe % others], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "[]"
    mine = subprocess.run(
        [python, "-c", probe % ["celery", "fastapi", "uvicorn", "starcast.serving.worker"]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert mine.strip() == "['celery', 'fastapi', 'uvicorn', 'starcast.serving.worker']"


def test_worker_and_frontend_images_serve_a_prediction(
    image_venv: ImageVenv, broker_url: str, model_artifact: ModelArtifact, tmp_path: Path
) -> None:
    queue = f"starcast.image-test.{tmp_path.name}"
    worker_file, worker_venv = image_venv("worker")
    worker_env = runtime_environment(worker_file, worker_venv, tmp_path / "worker-home")
    ready_file = tmp_path / "worker.ready"
    worker_env.update(
        STARCAST_BROKER_URL=broker_url,
        STARCAST_QUEUE=queue,
        STARCAST_MODEL_URI=model_artifact.uri,
        STARCAST_MODEL_SHA256=model_artifact.sha256,
        STARCAST_WORKER_READY_FILE=str(ready_file),
    )
    frontend_file, frontend_venv = image_venv("frontend")
    port = free_port()
    frontend_env = runtime_environment(frontend_file, frontend_venv, tmp_path / "frontend-home")
    frontend_env.update(
        STARCAST_BROKER_URL=broker_url, STARCAST_QUEUE=queue, STARCAST_PORT=str(port)
    )
    worker = ManagedProcess(
        "image-worker", container_command(worker_file, worker_venv), worker_env, tmp_path / "w.log"
    )
    frontend = ManagedProcess(
        "image-frontend",
        container_command(frontend_file, frontend_venv),
        frontend_env,
        tmp_path / "f.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        worker.start()
        wait_until(ready_file.exists, "worker ready", [worker], timeout_s=START_TIMEOUT_S)
        frontend.start()
        wait_until(
            lambda: _answers(f"{base}/readyz"),
            "frontend /readyz",
            [frontend, worker],
            timeout_s=START_TIMEOUT_S,
        )
        answer = httpx.post(
            f"{base}/api/v1/predict",
            json={"repositories": [{"full_name": "a/b", "features": {"forks": 3}}]},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"][0]["model_version"] == model_artifact.version
    finally:
        frontend.stop(20)
        worker.stop(30)


def test_trainer_image_runs_its_help(image_venv: ImageVenv, tmp_path: Path) -> None:
    dockerfile, venv = image_venv("trainer")
    result = subprocess.run(
        container_command(dockerfile, venv),
        env=runtime_environment(dockerfile, venv, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout and "--out" in result.stdout
    # KubeRay starts Ray with `ray start`: it must be the venv's, whose python sees starcast.
    assert (venv / "bin" / "ray").exists()
