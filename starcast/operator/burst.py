"""The burst policy, in one place: what is urgent, how long a burst holds the rest, and which
status write waits for it to end.

A burst of new TrainingRuns is what the operator must keep up with (`bench/operator.py`): each
new run waits for its RayJob create, and each status write of another run is one more event the
API server's watch of runs passes on before the next create. So:

- a run that has no RayJob yet is urgent: its key goes before every other key;
- while urgent keys come less than `QUIET_S` apart (two or more: one new run is no burst),
  the work queue holds every other key, each at most `MAX_HOLD_S`;
- a new run's own first status write waits for the burst too (`defers_status_write`): its
  RayJob is made at once, its status written once the burst is quiet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from starcast.operator.status import TERMINAL_PHASES

QUIET_S: Final = 0.5
MAX_HOLD_S: Final = 30.0


def unfinished(body: Mapping[str, Any]) -> bool:
    return (body.get("status") or {}).get("phase") not in TERMINAL_PHASES


def urgent(body: Mapping[str, Any], *, made: bool) -> bool:
    """A run that has no RayJob yet: its create goes before other runs' status writes. `made`:
    its RayJob is seen already (made, the run's status not written yet)."""
    return unfinished(body) and not made and not (body.get("status") or {}).get("rayJobName")


def defers_status_write(body: Mapping[str, Any] | None, *, made: bool, in_burst: bool) -> bool:
    """Whether this sync of a new run makes its RayJob but leaves its status for later."""
    return body is not None and urgent(body, made=made) and in_burst
