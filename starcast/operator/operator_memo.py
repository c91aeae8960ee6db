"""The operator's memo: what its handlers share, typed, made before kopf starts.

kopf hands every handler a shallow copy of this object (one per watched object), so the
fields are made once here and shared by reference; no handler adds a key at run time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starcast.operator.events import PostingContext
from starcast.operator.keys import Key
from starcast.operator.metrics import OperatorMetrics
from starcast.operator.reconcile import Context
from starcast.operator.release.state import ReleaseContext
from starcast.operator.settings import OperatorSettings
from starcast.operator.workqueue import WorkQueue


@dataclass
class OperatorMemo:
    """Settings, metrics, the API contexts of both kinds, the one work queue, its tasks."""

    settings: OperatorSettings
    metrics: OperatorMetrics
    runs: Context
    releases: ReleaseContext
    queue: WorkQueue[Key] = field(default_factory=WorkQueue)
    posting: PostingContext = field(default_factory=PostingContext)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
