"""Which executor a run uses: Ray under RAY_ADDRESS (real Ray), else the local pool, which never
imports Ray, in the driver or in its workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from starcast.training.executors import ExecutorChoice, LocalPool, open_executor
from starcast.training.ray_runtime import RayExecutor
from tests.support.local_ray import local_ray

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    with local_ray() as address:
        yield address


def _task_id() -> str | None:
    """Ray's id of the task this runs in; None outside a Ray task."""
    return ray.get_runtime_context().get_task_id()


def _squares(count: int) -> list[int]:
    return [value * value for value in range(count)]


def _total(values: list[int]) -> int:
    return sum(values)


def test_ray_address_selects_ray_and_the_tasks_run_on_it(
    ray_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_ADDRESS", ray_address)
    with open_executor(ExecutorChoice.AUTO) as executor:
        assert isinstance(executor, RayExecutor)
        assert executor.description == f"the Ray cluster at RAY_ADDRESS={ray_address}"
        assert executor.submit(_task_id).result() is not None  # ran as a Ray task
        # What a later task takes from the object store, without coming back through here.
        kept = executor.submit_kept(_squares, 4).result()
        assert isinstance(kept, ray.ObjectRef)
        assert executor.submit(_total, kept).result() == 14
    assert ray.is_initialized()  # a Ray this run did not connect is left connected
    # And an explicit local choice stays local, RAY_ADDRESS or not.
    with open_executor(ExecutorChoice.LOCAL) as executor:
        assert isinstance(executor, LocalPool)


_LOCAL_RUN = """
import json, sys
from starcast.logs import configure_logging
from starcast.training.config import Budget, TrainingConfig
from starcast.training.executors import LocalPool
from starcast.training.run import train_model

configure_logging()
manifest = train_model(
    TrainingConfig(out_uri=sys.argv[1], budget=Budget.QUICK, families=["ridge"], folds=2)
)
pool = LocalPool(1)
worker_modules = pool.submit(eval, "sorted(__import__('sys').modules)").result()
pool.close()
print(json.dumps({"driver": sorted(sys.modules), "worker": worker_modules,
                  "winner": manifest.winner.family}))
"""


def test_a_local_run_imports_no_ray_in_the_driver_or_its_workers(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("RAY_ADDRESS", "STARCAST_TRAINING_EXECUTOR")
    }
    completed = subprocess.run(
        [sys.executable, "-c", _LOCAL_RUN, (tmp_path / "model").as_uri()],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    loaded = json.loads(completed.stdout.strip().splitlines()[-1])
    assert loaded["winner"] == "ridge"  # a real run, to a committed artifact
    assert (tmp_path / "model" / "manifest.json").exists()
    assert "sklearn" in loaded["worker"]  # the worker imported what a fit needs
    for side in ("driver", "worker"):
        assert not [name for name in loaded[side] if name.split(".")[0] == "ray"], side
    assert "no Ray" in completed.stderr  # the run says where its fits ran
