"""The worker's prediction path: the fitted pipeline's preprocessing, compiled to plain numpy.

scikit-learn's Pipeline and ColumnTransformer spend about 10 ms a call building and checking
frames, whatever the number of rows, while the trees of the model take about 1 ms for a batch
(measured on the bench machine). A worker predicts small batches at a high rate, so at start it
reads the fitted parameters once (imputation medians, scaler mean and scale, the one-hot column of
every category) and then applies them with numpy. Tree ensembles (forests, gradient boosting) then
predict small batches through Treelite's tree interpreter: one call for all trees, where
scikit-learn pays ~10 us of per-tree overhead (100 trees: 0.24 ms vs 1.0 ms for 16 rows; past a
few hundred rows scikit-learn's own loop is faster, and takes over). `compile_model` checks the
compiled path against the pipeline on probe rows before the worker uses it, and says why
(CompileError) when the pipeline is not one it knows how to compile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
import treelite
import treelite.gtil
import treelite.sklearn
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from starcast.artifact import LoadedModel, stars_from_target
from starcast.serving.wire import FeatureValue, PredictBatch

# The two paths may differ by rounding only (the same operations, maybe in another order).
AGREEMENT_RTOL: Final = 1e-9
NO_COLUMN: Final = -1  # a category with no one-hot column: all zeros, as the encoder does
# A category no training set has: how the encoder treats values it never saw.
UNSEEN_CATEGORY: Final = "\x00starcast-unseen-category"

# Up to this many rows a batch goes through Treelite, beyond it through scikit-learn (crossover
# measured on the bench machine: ~200 rows for 100 boosted trees).
TREELITE_MAX_ROWS: Final = 128

Columns = Mapping[str, Sequence[FeatureValue]]


class CompileError(Exception):
    """The pipeline can't be compiled (unknown shape, or the paths disagree); says why."""


class Predictor(Protocol):
    """What the worker's task predicts with."""

    @property
    def model(self) -> LoadedModel: ...

    @property
    def version(self) -> str: ...

    @property
    def kind(self) -> str: ...

    def predict_stars(self, batch: PredictBatch) -> np.ndarray: ...


@dataclass(frozen=True)
class PipelinePredictor:
    """The artifact's scikit-learn pipeline as it is, on a DataFrame: slower, any pipeline."""

    model: LoadedModel
    kind: str = "pipeline"

    @property
    def version(self) -> str:
        return self.model.version

    def predict_stars(self, batch: PredictBatch) -> np.ndarray:
        return self.model.predict_stars(batch.to_frame())


@dataclass(frozen=True)
class _NumericBlock:
    """median imputation -> log1p -> standard scaling, for several columns at once."""

    columns: tuple[str, ...]
    medians: np.ndarray
    means: np.ndarray
    scales: np.ndarray

    @property
    def width(self) -> int:
        return len(self.columns)

    def fill(self, batch: Columns, rows: int, out: np.ndarray) -> None:
        for index, name in enumerate(self.columns):
            values = batch.get(name)
            if values is not None:
                out[:, index] = np.asarray(values, dtype=float)  # None becomes NaN
            else:
                out[:, index] = np.nan
        np.copyto(out, np.broadcast_to(self.medians, out.shape), where=np.isnan(out))
        np.log1p(out, out=out)
        out -= self.means
        out /= self.scales


@dataclass(frozen=True)
class _CategoricalColumn:
    name: str
    offset: int  # of its one-hot block within the categorical block
    codes: Mapping[str, int]  # category -> one-hot column within the block, or NO_COLUMN
    missing_code: int  # an unknown value (imputed with the pipeline's fill value)
    unseen_code: int  # a category training never saw

    def code(self, value: FeatureValue) -> int:
        if value is None:
            return self.missing_code
        return (
            self.codes.get(value, self.unseen_code) if isinstance(value, str) else self.unseen_code
        )


@dataclass(frozen=True)
class _CategoricalBlock:
    """constant imputation -> one-hot encoding (infrequent and unseen categories included)."""

    columns: tuple[_CategoricalColumn, ...]
    width: int

    def fill(self, batch: Columns, rows: int, out: np.ndarray) -> None:
        out[:] = 0.0
        row_index = np.arange(rows)
        for column in self.columns:
            values = batch.get(column.name)
            if values is None:
                codes = np.full(rows, column.missing_code)
            else:
                codes = np.fromiter(map(column.code, values), dtype=np.intp, count=rows)
            hit = codes != NO_COLUMN
            out[row_index[hit], column.offset + codes[hit]] = 1.0


_Block = _NumericBlock | _CategoricalBlock


class Regressor(Protocol):
    def predict(self, features: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class _TreeEnsemble:
    """A fitted tree ensemble: Treelite for small batches, the estimator itself for large ones."""

    estimator: Regressor
    trees: treelite.Model

    def predict(self, features: np.ndarray) -> np.ndarray:
        if len(features) > TREELITE_MAX_ROWS:
            return self.estimator.predict(features)
        # One target, one output: (rows, 1, 1) -> (rows,). One thread, as the worker has.
        predicted: np.ndarray = treelite.gtil.predict(self.trees, features, nthread=1)
        return predicted.reshape(len(features))


def _compile_regressor(regressor: Regressor) -> Regressor:
    """Tree ensembles through Treelite; any other regressor as it is (already fast on numpy)."""
    try:
        trees = treelite.sklearn.import_model(regressor)
    except treelite.TreeliteError:
        return regressor  # "Not supported model type": linear models, neighbours
    return _TreeEnsemble(regressor, trees)


@dataclass(frozen=True)
class CompiledPredictor:
    """The pipeline's preprocessing in numpy, then the pipeline's own regressor."""

    model: LoadedModel
    blocks: tuple[_Block, ...]
    regressor: Regressor
    kind: str = "compiled"

    @property
    def version(self) -> str:
        return self.model.version

    @property
    def width(self) -> int:
        return sum(block.width for block in self.blocks)

    def transform(self, batch: Columns, rows: int) -> np.ndarray:
        matrix = np.empty((rows, self.width))
        start = 0
        for block in self.blocks:
            block.fill(batch, rows, matrix[:, start : start + block.width])
            start += block.width
        return matrix

    def predict_stars(self, batch: PredictBatch) -> np.ndarray:
        return stars_from_target(self.regressor.predict(self.transform(batch.columns, batch.rows)))


def compile_model(model: LoadedModel) -> CompiledPredictor:
    """The compiled path of `model`, checked against its pipeline (CompileError if it can't be)."""
    estimator = model.estimator
    if not (
        isinstance(estimator, Pipeline)
        and len(estimator.steps) == 2
        and isinstance(estimator.steps[0][1], ColumnTransformer)
    ):
        raise CompileError(f"expected Pipeline([ColumnTransformer, regressor]), got {estimator!r}")
    preprocess: ColumnTransformer = estimator.steps[0][1]
    blocks = tuple(
        _compile_transformer(name, transformer, list(columns))
        for name, transformer, columns in preprocess.transformers_
        if not (name == "remainder" and transformer == "drop")
    )
    compiled = CompiledPredictor(model, blocks, _compile_regressor(estimator.steps[1][1]))
    _check_agreement(compiled, preprocess)
    return compiled


def _compile_transformer(name: str, transformer: Any, columns: list[str]) -> _Block:
    steps = [step for _, step in transformer.steps] if isinstance(transformer, Pipeline) else []
    match steps:
        case [SimpleImputer() as imputer, FunctionTransformer() as log, StandardScaler() as scale]:
            return _compile_numeric(name, columns, imputer, log, scale)
        case [SimpleImputer() as imputer, OneHotEncoder() as encoder]:
            return _compile_categorical(name, columns, imputer, encoder)
    raise CompileError(
        f"transformer {name!r} is not one build_pipeline makes (impute -> log1p -> scale, or "
        f"impute -> one-hot): {transformer!r}"
    )


def _compile_numeric(
    name: str,
    columns: list[str],
    imputer: SimpleImputer,
    log: FunctionTransformer,
    scale: StandardScaler,
) -> _NumericBlock:
    medians = np.asarray(imputer.statistics_, dtype=float)
    problems = [
        problem
        for problem, found in (
            ("imputation is not by median", imputer.strategy != "median"),
            ("the imputer adds indicator columns", imputer.add_indicator),
            ("a column had no value to impute from", bool(np.isnan(medians).any())),
            ("the function is not numpy.log1p", log.func is not np.log1p or log.kw_args),
            ("the scaler does not centre and scale", not (scale.with_mean and scale.with_std)),
        )
        if found
    ]
    if problems:
        raise CompileError(f"numeric transformer {name!r}: {'; '.join(problems)}")
    means = np.asarray(scale.mean_, dtype=float)
    scales = np.asarray(scale.scale_, dtype=float)
    return _NumericBlock(tuple(columns), medians, means, scales)


def _compile_categorical(
    name: str, columns: list[str], imputer: SimpleImputer, encoder: OneHotEncoder
) -> _CategoricalBlock:
    if imputer.strategy != "constant" or imputer.add_indicator or encoder.drop is not None:
        raise CompileError(
            f"categorical transformer {name!r}: expected constant imputation and one-hot "
            "encoding without dropped columns"
        )
    fill_value = str(imputer.fill_value)
    infrequent = getattr(encoder, "infrequent_categories_", [None] * len(columns))
    compiled, offset = [], 0
    for index, column in enumerate(columns):
        categories = [str(category) for category in encoder.categories_[index]]
        rare = infrequent[index]
        # Infrequent categories share one column, which comes last in the block.
        width = len(categories) - (len(rare) - 1 if rare is not None else 0)
        # Encode each category alone (the others held at a known one) and read its column.
        probes = [*categories, UNSEEN_CATEGORY]
        inputs = np.array(
            [[encoder.categories_[other][0] for other in range(len(columns))]] * len(probes),
            dtype=object,
        )
        inputs[:, index] = probes
        encoded = np.asarray(encoder.transform(inputs))[:, offset : offset + width]
        codes = [int(np.argmax(row)) if row.any() else NO_COLUMN for row in encoded]
        by_category = dict(zip(categories, codes[:-1], strict=True))
        unseen = codes[-1]
        compiled.append(
            _CategoricalColumn(
                name=column,
                offset=offset,
                codes=by_category,
                missing_code=by_category.get(fill_value, unseen),
                unseen_code=unseen,
            )
        )
        offset += width
    return _CategoricalBlock(tuple(compiled), offset)


def _probe_batch(compiled: CompiledPredictor) -> PredictBatch:
    """Rows that reach every branch: unknown values, every category, unseen ones, wide numbers."""
    numeric = [
        name
        for block in compiled.blocks
        if isinstance(block, _NumericBlock)
        for name in block.columns
    ]
    categorical = [
        column
        for block in compiled.blocks
        if isinstance(block, _CategoricalBlock)
        for column in block.columns
    ]
    rows: list[dict[str, FeatureValue]] = [{}]
    for shift, magnitude in enumerate((0.0, 1.0, 7.5, 120.0, 3_000.0, 2.5e6)):
        # Every third value unknown, a different third each row.
        rows.append(
            {
                name: None if (index + shift) % 3 == 0 else magnitude * (index + 1)
                for index, name in enumerate(numeric)
            }
        )
    for column in categorical:
        rows.extend({column.name: category} for category in [*column.codes, UNSEEN_CATEGORY])
    names = sorted({name for row in rows for name in row})
    return PredictBatch(
        rows=len(rows),
        columns={name: [row.get(name) for row in rows] for name in names},
        sent_at=0.0,
    )


def _check_agreement(compiled: CompiledPredictor, preprocess: ColumnTransformer) -> None:
    batch = _probe_batch(compiled)
    ours = compiled.transform(batch.columns, batch.rows)
    theirs = np.asarray(preprocess.transform(batch.to_frame()[preprocess.feature_names_in_]))
    if ours.shape != theirs.shape:
        raise CompileError(
            f"the pipeline makes {theirs.shape[1]} columns, the compiled path {ours.shape[1]}"
        )
    if not np.allclose(ours, theirs, rtol=AGREEMENT_RTOL, atol=AGREEMENT_RTOL, equal_nan=False):
        row, column = np.unravel_index(np.argmax(np.abs(ours - theirs)), ours.shape)
        raise CompileError(
            f"the compiled path disagrees with the pipeline in column {column} of probe row "
            f"{row}: {ours[row, column]!r} vs {theirs[row, column]!r}"
        )
    stars, expected = compiled.predict_stars(batch), compiled.model.predict_stars(batch.to_frame())
    if not np.allclose(stars, expected, rtol=AGREEMENT_RTOL, atol=0.0):
        raise CompileError("the compiled path and the pipeline predict different stars")


def predictor_for(model: LoadedModel) -> tuple[Predictor, str | None]:
    """The compiled path when it compiles; else the pipeline itself, and the reason why."""
    try:
        return compile_model(model), None
    except CompileError as error:
        return PipelinePredictor(model), str(error)
