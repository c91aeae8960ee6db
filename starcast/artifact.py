"""The model artifact: a directory at a storage URI holding the model and its manifest.

Layout (the contract in DESIGN.md):
  model.skops    the fitted scikit-learn pipeline, skops format (no pickle)
  report.png     predicted vs actual on the CV folds, score per family
  manifest.json  written last: its presence is the commit marker of the whole artifact

Loaders verify the model's sha256 against the manifest (and against a digest the caller expects,
such as the one a ModelRelease names) before they deserialise anything.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel, Field, ValidationError

from starcast import storage
from starcast.features import FEATURES_BY_NAME, FeatureKind

if TYPE_CHECKING:  # the operator reads manifests only: no numpy or pandas in its memory
    import numpy as np
    import pandas as pd

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
MODEL_FILE: Final = "model.skops"
MANIFEST_FILE: Final = "manifest.json"
REPORT_FILE: Final = "report.png"
# Every type a model of the training families (starcast.training.families, in the shared
# pipeline) is made of, and nothing else: an artifact holding any other type is refused by name
# before skops rebuilds anything. tests/unit/test_artifact_trust.py fits every family and keeps
# this set equal to what they produce.
TRUSTED_TYPES: Final[frozenset[str]] = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.slice",
        "builtins.str",
        "builtins.tuple",
        "numpy.dtype",
        "numpy.float64",
        "numpy.log1p",  # the pipeline's FunctionTransformer
        "numpy.ndarray",
        "numpy.random._generator.Generator",
        "numpy.uint64",
        "sklearn._loss._loss.CyHalfSquaredError",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.Interval",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.ensemble._forest.ExtraTreesRegressor",
        "sklearn.ensemble._forest.RandomForestRegressor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.linear_model._ridge.Ridge",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",  # k-neighbours with a KD tree
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._regression.KNeighborsRegressor",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.preprocessing._function_transformer.FunctionTransformer",
        "sklearn.tree._classes.DecisionTreeRegressor",
        "sklearn.tree._classes.ExtraTreeRegressor",
        "sklearn.tree._tree.Tree",
    }
)
RECORDED_LIBRARIES: Final[tuple[str, ...]] = (
    "starcast",
    "scikit-learn",
    "numpy",
    "pandas",
    "scipy",
    "skops",
    "ray",
)


class ArtifactError(Exception):
    """The artifact is absent, incomplete, tampered with, or of another schema."""


class ArtifactExistsError(ArtifactError):
    """An artifact is already committed at the URI."""


class FeatureField(BaseModel):
    name: str
    kind: FeatureKind


class Metrics(BaseModel):
    rmsle: float = Field(description="root mean squared error on log1p(stars)")
    r2_log: float = Field(description="R² on log1p(stars)")
    mae_log: float = Field(description="mean absolute error on log1p(stars)")
    mdape: float = Field(description="median absolute percentage error on stars, in percent")


class FamilyResult(BaseModel):
    family: str
    params: dict[str, Any]
    metrics: Metrics


class DatasetInfo(BaseModel):
    uri: str
    sha256: str
    rows: int


class ModelManifest(BaseModel):
    schema_version: int = SCHEMA_VERSION
    model_version: str
    created_at: datetime
    features: list[FeatureField]
    target_transform: Literal["log1p"] = "log1p"
    cv_folds: int
    winner: FamilyResult
    families: list[FamilyResult] = Field(description="the best candidate of each family")
    baseline: Metrics = Field(description="predicting the median of log1p(stars)")
    dataset: DatasetInfo
    library_versions: dict[str, str]
    model_file: str = MODEL_FILE
    model_sha256: str

    @property
    def feature_names(self) -> list[str]:
        return [field.name for field in self.features]


@dataclass(frozen=True)
class LoadedModel:
    """A verified model, ready to predict star counts."""

    estimator: Any
    manifest: ModelManifest

    @property
    def version(self) -> str:
        return self.manifest.model_version

    def predict_stars(self, features: pd.DataFrame) -> np.ndarray:
        return stars_from_target(self.estimator.predict(features[self.manifest.feature_names]))


def stars_from_target(log_stars: np.ndarray) -> np.ndarray:
    """Star counts from what a model predicts (log1p of stars, the manifest's target_transform)."""
    import numpy as np

    stars: np.ndarray = np.clip(np.expm1(log_stars), 0, None)
    return stars


def library_versions() -> dict[str, str]:
    versions = {}
    for name in RECORDED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def new_model_version(model_sha256: str, now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{moment}-{model_sha256[:8]}"


def serialize_model(estimator: Any) -> bytes:
    import skops.io as sio  # with scikit-learn, ~100 MiB: readers of manifests don't need it

    return bytes(sio.dumps(estimator))


def new_manifest(
    model_bytes: bytes,
    *,
    feature_names: Sequence[str],
    cv_folds: int,
    winner: FamilyResult,
    families: list[FamilyResult],
    baseline: Metrics,
    dataset: DatasetInfo,
) -> ModelManifest:
    """The manifest of serialized model bytes: digest, version, feature schema, libraries."""
    digest = hashlib.sha256(model_bytes).hexdigest()
    return ModelManifest(
        model_version=new_model_version(digest),
        created_at=datetime.now(UTC),
        features=[
            FeatureField(name=name, kind=FEATURES_BY_NAME[name].kind) for name in feature_names
        ],
        cv_folds=cv_folds,
        winner=winner,
        families=families,
        baseline=baseline,
        dataset=dataset,
        library_versions=library_versions(),
        model_sha256=digest,
    )


def exists(uri: str, storage_options: Mapping[str, Any] | None = None) -> bool:
    """Whether a committed artifact (one with a manifest) is at `uri`."""
    return storage.exists(storage.join(uri, MANIFEST_FILE), storage_options)


def write_artifact(
    uri: str,
    model_bytes: bytes,
    manifest: ModelManifest,
    extra_files: dict[str, bytes] | None = None,
    *,
    overwrite: bool = False,
) -> ModelManifest:
    """Write model, extras, then the manifest: a reader sees the whole artifact or none."""
    manifest_uri = storage.join(uri, MANIFEST_FILE)
    if exists(uri):
        if not overwrite:
            raise ArtifactExistsError(
                f"an artifact is already committed at {uri}; choose another URI or overwrite"
            )
        storage.remove(manifest_uri)  # uncommit first, so no reader pairs old manifest, new model
    digest = hashlib.sha256(model_bytes).hexdigest()
    if manifest.model_sha256 != digest:
        raise ArtifactError("manifest.model_sha256 does not match the model bytes")
    storage.write_bytes_atomic(storage.join(uri, manifest.model_file), model_bytes)
    for name, data in (extra_files or {}).items():
        storage.write_bytes_atomic(storage.join(uri, name), data)
    storage.write_bytes_atomic(manifest_uri, manifest.model_dump_json(indent=2).encode())
    logger.info("artifact %s committed: model version %s", uri, manifest.model_version)
    return manifest


def read_manifest(uri: str, storage_options: Mapping[str, Any] | None = None) -> ModelManifest:
    try:
        raw = storage.read_bytes(storage.join(uri, MANIFEST_FILE), storage_options)
    except FileNotFoundError as error:
        raise ArtifactError(
            f"no {MANIFEST_FILE} at {uri}: the artifact is absent or was never committed"
        ) from error
    try:
        manifest = ModelManifest.model_validate_json(raw)
    except ValidationError as error:
        raise ArtifactError(f"{MANIFEST_FILE} at {uri} is not a valid manifest: {error}") from error
    if manifest.schema_version != SCHEMA_VERSION:
        raise ArtifactError(
            f"artifact {uri} has schema version {manifest.schema_version}; "
            f"this starcast reads version {SCHEMA_VERSION}"
        )
    return manifest


def load_artifact(uri: str, expected_sha256: str | None = None) -> LoadedModel:
    """Load and verify: manifest, model digest, trusted types, then the feature schema."""
    manifest, model_bytes = _verified(uri, expected_sha256, None)
    estimator = _deserialize(uri, model_bytes)
    _check_features(uri, manifest, estimator)
    return LoadedModel(estimator=estimator, manifest=manifest)


def verify_artifact(
    uri: str,
    expected_sha256: str | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> ModelManifest:
    """The manifest, once the model file's sha256 matched it (nothing is deserialised)."""
    manifest, _ = _verified(uri, expected_sha256, storage_options)
    return manifest


def _verified(
    uri: str, expected_sha256: str | None, storage_options: Mapping[str, Any] | None
) -> tuple[ModelManifest, bytes]:
    manifest = read_manifest(uri, storage_options)
    if expected_sha256 is not None and expected_sha256 != manifest.model_sha256:
        raise ArtifactError(
            f"artifact {uri} holds model sha256 {manifest.model_sha256}, "
            f"but {expected_sha256} was expected"
        )
    try:
        model_bytes = storage.read_bytes(storage.join(uri, manifest.model_file), storage_options)
    except FileNotFoundError as error:
        raise ArtifactError(
            f"artifact {uri} has a manifest but no {manifest.model_file}"
        ) from error
    actual = hashlib.sha256(model_bytes).hexdigest()
    if actual != manifest.model_sha256:
        raise ArtifactError(
            f"{manifest.model_file} at {uri} has sha256 {actual}, but the manifest says "
            f"{manifest.model_sha256}: the model was altered or corrupted"
        )
    return manifest, model_bytes


def model_types(model_bytes: bytes) -> set[str]:
    """Every type (module.name) a skops file would rebuild, read from its schema.json."""
    with zipfile.ZipFile(io.BytesIO(model_bytes)) as archive:
        schema = json.loads(archive.read("schema.json"))
    found: set[str] = set()
    pending: list[Any] = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                found.add(f"{node['__module__']}.{node['__class__']}")
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def _deserialize(uri: str, model_bytes: bytes) -> Any:
    try:
        found = model_types(model_bytes)
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise ArtifactError(f"model at {uri} is not a skops file: {error}") from error
    foreign = sorted(found - TRUSTED_TYPES)
    if foreign:
        raise ArtifactError(
            f"model at {uri} holds types no starcast model family produces, refused: "
            f"{', '.join(foreign)}"
        )
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    untrusted = sio.get_untrusted_types(data=model_bytes)
    try:
        return sio.loads(model_bytes, trusted=[t for t in untrusted if t in TRUSTED_TYPES])
    except UntrustedTypesFoundException as error:  # a type the schema walk did not see
        raise ArtifactError(
            f"model at {uri} holds types starcast does not trust: {error}"
        ) from error


def _check_features(uri: str, manifest: ModelManifest, estimator: Any) -> None:
    for field in manifest.features:
        known = FEATURES_BY_NAME.get(field.name)
        if known is None or known.kind != field.kind:
            raise ArtifactError(
                f"artifact {uri} uses feature {field.name!r} ({field.kind}), which this starcast "
                "does not define that way; it was made by an incompatible version"
            )
    fitted = list(getattr(estimator, "feature_names_in_", manifest.feature_names))
    if fitted != manifest.feature_names:
        raise ArtifactError(
            f"artifact {uri}: the model was fitted on {fitted}, "
            f"but the manifest lists {manifest.feature_names}"
        )
