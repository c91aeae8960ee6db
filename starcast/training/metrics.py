"""Scores on log1p(stars), the scale the models learn, and one on stars, the scale users read."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

from starcast.artifact import Metrics


def score(log_true: np.ndarray, log_pred: np.ndarray) -> Metrics:
    stars = np.expm1(log_true)
    predicted_stars = np.expm1(log_pred)
    # A repository with 0 stars would make the percentage infinite; 1 star is the floor.
    relative_error = np.abs(predicted_stars - stars) / np.maximum(stars, 1.0)
    return Metrics(
        rmsle=float(root_mean_squared_error(log_true, log_pred)),
        r2_log=float(r2_score(log_true, log_pred)),
        mae_log=float(mean_absolute_error(log_true, log_pred)),
        mdape=float(np.median(relative_error) * 100),
    )
