"""A batch that overruns its time limit ends the worker; one within it leaves the worker alone."""

from __future__ import annotations

import threading
import time

import pytest

from starcast.serving.time_limit import TIME_LIMIT_EXIT_CODE, TimeLimitWatchdog


class RecordedExit:
    """Stands in for os._exit: records the code, and the process lives on."""

    def __init__(self) -> None:
        self.codes: list[int] = []
        self.called = threading.Event()

    def __call__(self, code: int) -> None:
        self.codes.append(code)
        self.called.set()


def test_a_batch_past_its_limit_ends_the_process_and_is_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exit_process = RecordedExit()
    watchdog = TimeLimitWatchdog(0.2, exit_process=exit_process)
    watchdog.start()
    with watchdog.watching("batch-7"):
        assert exit_process.called.wait(5)
    watchdog.stop()

    assert exit_process.codes == [TIME_LIMIT_EXIT_CODE]
    assert "batch batch-7 has run" in caplog.text
    assert "past its time limit of 0.2 s" in caplog.text


def test_batches_within_their_limit_leave_the_process_alone() -> None:
    exit_process = RecordedExit()
    watchdog = TimeLimitWatchdog(0.4, exit_process=exit_process)
    watchdog.start()
    for index in range(5):
        with watchdog.watching(f"batch-{index}"):
            time.sleep(0.1)  # 0.5 s in all: only a per-batch clock keeps the process alive
    time.sleep(0.3)
    watchdog.stop()

    assert exit_process.codes == []
