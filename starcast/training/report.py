"""The PNG beside the manifest: predicted vs actual stars on the CV folds, score per family."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

from starcast.artifact import Metrics


def render_report(
    log_stars: np.ndarray,
    out_of_fold: np.ndarray,
    family_rmsle: dict[str, float],
    baseline: Metrics,
    title: str,
) -> bytes:
    # A bare Figure renders with Agg and touches no pyplot state: safe in any process.
    figure = Figure(figsize=(12, 5), layout="constrained")
    scatter, bars = figure.subplots(1, 2)
    stars, predicted = np.expm1(log_stars), np.expm1(out_of_fold)
    scatter.scatter(stars, predicted, s=4, alpha=0.35)
    low, high = (
        max(1.0, float(min(stars.min(), predicted.min()))),
        float(max(stars.max(), predicted.max())),
    )
    scatter.plot([low, high], [low, high], color="black", linewidth=1, label="perfect")
    scatter.set(
        xscale="log",
        yscale="log",
        xlabel="actual stars",
        ylabel="predicted stars (out of fold)",
        title="winner, cross-validated",
    )
    scatter.legend(loc="upper left")
    names = sorted(family_rmsle, key=family_rmsle.__getitem__)
    bars.barh(names, [family_rmsle[name] for name in names])
    bars.axvline(baseline.rmsle, color="red", linestyle="--", label="median baseline")
    bars.invert_yaxis()
    bars.set(xlabel="CV RMSLE (lower is better)", title="best of each family")
    bars.legend(loc="lower right")
    figure.suptitle(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
