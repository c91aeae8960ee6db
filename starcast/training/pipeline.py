"""The scikit-learn pipeline every model family shares: impute, transform, encode, regress."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from starcast.features import FEATURES_BY_NAME, FeatureKind

# Categories seen fewer times than this share one "infrequent" column.
MIN_CATEGORY_FREQUENCY = 10


def build_preprocessor(feature_names: Sequence[str]) -> ColumnTransformer:
    """Counts are heavy-tailed, so they enter as log1p; unknown values are imputed, never zero."""
    numeric = [n for n in feature_names if FEATURES_BY_NAME[n].kind != FeatureKind.CATEGORICAL]
    categorical = [n for n in feature_names if FEATURES_BY_NAME[n].kind == FeatureKind.CATEGORICAL]
    numeric_steps = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("log1p", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
            ("scale", StandardScaler()),
        ]
    )
    categorical_steps = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="unknown")),
            (
                "encode",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    min_frequency=MIN_CATEGORY_FREQUENCY,
                    sparse_output=False,
                ),
            ),
        ]
    )
    return ColumnTransformer(
        [("numeric", numeric_steps, numeric), ("categorical", categorical_steps, categorical)],
        verbose_feature_names_out=False,
    )


def build_pipeline(feature_names: Sequence[str], regressor: Any) -> Pipeline:
    """The model an artifact holds: the shared preprocessing, then the regressor."""
    return Pipeline([("preprocess", build_preprocessor(feature_names)), ("regress", regressor)])
