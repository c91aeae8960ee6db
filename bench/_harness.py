"""What the benchmarks share: one definition of a percentile, and the machine's load.

Modules of bench/ whose name starts with `_` are parts of benchmarks, not benchmarks: `make bench`
runs only the others.
"""

from __future__ import annotations

import os
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank `q`th percentile (0-100) of `values`; NaN when there are none."""
    if len(values) == 0:
        return float("nan")
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))])


def load_average() -> float:
    """The 1-minute load average: printed beside each figure, since other work shares the CPU."""
    return os.getloadavg()[0]
