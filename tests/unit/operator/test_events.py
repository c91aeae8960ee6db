"""Events from outside kopf's handlers go through the context a handler left."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor

import pytest

from starcast.operator.events import PosterNotReadyError, PostingContext

QUEUE: contextvars.ContextVar[str] = contextvars.ContextVar("queue")  # as kopf's Event queue


def test_work_outside_a_handler_runs_in_the_context_the_first_handler_left() -> None:
    posting = PostingContext()
    with pytest.raises(PosterNotReadyError):
        posting.run(QUEUE.get)

    def handler(queue: str) -> None:
        QUEUE.set(queue)
        posting.capture()

    contextvars.copy_context().run(handler, "kopf's queue")
    contextvars.copy_context().run(handler, "a later handler's")  # the first one is kept
    with ThreadPoolExecutor(4) as pool:  # workers' threads, several at once
        seen = list(pool.map(lambda _: posting.run(QUEUE.get), range(8)))
    assert seen == ["kopf's queue"] * 8
    assert QUEUE.get(None) is None  # the caller's own context is untouched


def test_kopf_is_bounded_to_the_versions_its_private_parts_were_tested_with() -> None:
    import tomllib
    from importlib.metadata import version
    from pathlib import Path

    from packaging.requirements import Requirement

    from starcast.operator.kopf_compat import KOPF_BELOW, KOPF_FROM

    pyproject = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())
    (kopf,) = (
        Requirement(dep)
        for dep in pyproject["project"]["dependencies"]
        + [d for extra in pyproject["project"]["optional-dependencies"].values() for d in extra]
        if Requirement(dep).name == "kopf"
    )
    assert {(s.operator, s.version) for s in kopf.specifier} == {
        (">=", KOPF_FROM),
        ("<", KOPF_BELOW),
    }
    assert kopf.specifier.contains(version("kopf"))
