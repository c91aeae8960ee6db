"""The artifact contract: atomic commit, digest and schema checks, at file:// and s3:// URIs."""

import json
from pathlib import Path

import pandas as pd
import pytest

from starcast import artifact, storage
from starcast.artifact import ArtifactError, ArtifactExistsError, load_artifact, write_artifact
from starcast.features import compute_features
from tests.support.models import fitted_model
from tests.support.records import record, records_frame


@pytest.fixture(scope="module")
def model() -> tuple[bytes, artifact.ModelManifest]:
    return fitted_model()


@pytest.fixture
def committed(
    tmp_path: Path, model: tuple[bytes, artifact.ModelManifest]
) -> tuple[str, artifact.ModelManifest]:
    """A committed artifact on local disk, and its manifest."""
    model_bytes, manifest = model
    uri = (tmp_path / "m1").as_uri()
    write_artifact(uri, model_bytes, manifest)
    return uri, manifest


def _predict_one(loaded: artifact.LoadedModel) -> float:
    return float(loaded.predict_stars(compute_features(records_frame(record())))[0])


def test_written_artifact_loads_and_predicts(
    tmp_path: Path, model: tuple[bytes, artifact.ModelManifest]
) -> None:
    model_bytes, manifest = model
    uri = (tmp_path / "m1").as_uri()
    write_artifact(uri, model_bytes, manifest, {artifact.REPORT_FILE: b"\x89PNG"})
    loaded = load_artifact(uri, expected_sha256=manifest.model_sha256)
    assert loaded.version == manifest.model_version
    assert _predict_one(loaded) > 0
    on_disk = json.loads((tmp_path / "m1" / "manifest.json").read_text())
    assert on_disk["model_sha256"] == manifest.model_sha256
    assert {"features", "library_versions", "dataset", "baseline", "families"} <= on_disk.keys()
    assert sorted(p.name for p in (tmp_path / "m1").iterdir()) == [
        "manifest.json",
        "model.skops",
        "report.png",
    ]


def test_tampered_model_is_refused(committed: tuple[str, artifact.ModelManifest]) -> None:
    uri, _ = committed
    model_uri = storage.join(uri, artifact.MODEL_FILE)
    storage.write_bytes_atomic(model_uri, storage.read_bytes(model_uri) + b"\0")
    with pytest.raises(ArtifactError, match="was altered or corrupted"):
        load_artifact(uri)


def test_unexpected_digest_is_refused_before_loading(
    committed: tuple[str, artifact.ModelManifest],
) -> None:
    uri, _ = committed
    with pytest.raises(ArtifactError, match=r"but 0+ was expected"):
        load_artifact(uri, expected_sha256="0" * 64)


def test_manifest_must_match_the_model_bytes(
    tmp_path: Path, model: tuple[bytes, artifact.ModelManifest]
) -> None:
    model_bytes, manifest = model
    with pytest.raises(ArtifactError, match="does not match the model bytes"):
        write_artifact((tmp_path / "m1").as_uri(), model_bytes + b"x", manifest)


def test_feature_schema_mismatch_is_refused(
    tmp_path: Path, model: tuple[bytes, artifact.ModelManifest]
) -> None:
    model_bytes, manifest = model
    renamed = manifest.model_copy(deep=True)
    renamed.features[0].name = "lines_of_code"
    uri = (tmp_path / "m1").as_uri()
    write_artifact(uri, model_bytes, renamed)
    with pytest.raises(ArtifactError, match=r"'lines_of_code'.*incompatible version"):
        load_artifact(uri)

    reordered = manifest.model_copy(deep=True)
    reordered.features.reverse()
    uri = (tmp_path / "m2").as_uri()
    write_artifact(uri, model_bytes, reordered)
    with pytest.raises(ArtifactError, match="the model was fitted on"):
        load_artifact(uri)


def test_another_schema_version_is_refused(
    tmp_path: Path, model: tuple[bytes, artifact.ModelManifest]
) -> None:
    model_bytes, manifest = model
    uri = (tmp_path / "m1").as_uri()
    write_artifact(uri, model_bytes, manifest.model_copy(update={"schema_version": 99}))
    with pytest.raises(ArtifactError, match="schema version 99"):
        load_artifact(uri)


def test_interrupted_write_leaves_no_readable_artifact(
    tmp_path: Path, model: tuple[bytes, artifact.ModelManifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    model_bytes, manifest = model
    uri = (tmp_path / "m1").as_uri()
    real_write = storage.write_bytes_atomic

    def crash_at_the_manifest(target: str, data: bytes) -> None:
        if target.endswith(artifact.MANIFEST_FILE):
            raise KeyboardInterrupt  # the process dies between the model and the commit marker
        real_write(target, data)

    monkeypatch.setattr(storage, "write_bytes_atomic", crash_at_the_manifest)
    with pytest.raises(KeyboardInterrupt):
        write_artifact(uri, model_bytes, manifest)
    monkeypatch.undo()

    assert (tmp_path / "m1" / "model.skops").exists()
    assert not artifact.exists(uri)
    with pytest.raises(ArtifactError, match="never committed"):
        load_artifact(uri)
    write_artifact(uri, model_bytes, manifest)  # a retry commits without --overwrite
    assert load_artifact(uri).version == manifest.model_version


def test_interrupted_file_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.skops"

    def die_while_syncing(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", die_while_syncing)
    with pytest.raises(OSError, match="disk full"):
        storage.write_bytes_atomic(target.as_uri(), b"x" * 1024)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_uncommits_before_replacing(
    tmp_path: Path, model: tuple[bytes, artifact.ModelManifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    model_bytes, manifest = model
    uri = (tmp_path / "m1").as_uri()
    write_artifact(uri, model_bytes, manifest)
    with pytest.raises(ArtifactExistsError, match="already committed"):
        write_artifact(uri, model_bytes, manifest)

    real_write = storage.write_bytes_atomic

    def crash_after_the_model(target: str, data: bytes) -> None:
        real_write(target, data)
        raise KeyboardInterrupt

    monkeypatch.setattr(storage, "write_bytes_atomic", crash_after_the_model)
    with pytest.raises(KeyboardInterrupt):
        write_artifact(uri, model_bytes, manifest, overwrite=True)
    # The old manifest is gone before the new model lands: nobody pairs old and new.
    assert not artifact.exists(uri)


def test_artifact_round_trips_through_a_real_s3_server(
    s3_bucket: str, model: tuple[bytes, artifact.ModelManifest]
) -> None:
    model_bytes, manifest = model
    uri = f"s3://{s3_bucket}/models/m1"
    assert not artifact.exists(uri)
    write_artifact(uri, model_bytes, manifest, {artifact.REPORT_FILE: b"\x89PNG"})
    loaded = load_artifact(uri, expected_sha256=manifest.model_sha256)
    assert loaded.version == manifest.model_version
    assert _predict_one(loaded) > 0

    storage.write_bytes_atomic(storage.join(uri, artifact.MODEL_FILE), model_bytes[:-1])
    with pytest.raises(ArtifactError, match="was altered or corrupted"):
        load_artifact(uri)


def test_predictions_are_star_counts_not_logs(
    committed: tuple[str, artifact.ModelManifest],
) -> None:
    uri, _ = committed
    loaded = load_artifact(uri)
    features = compute_features(pd.DataFrame([record(), record(contributors=5000)]))
    stars = loaded.predict_stars(features)
    assert stars.shape == (2,)
    assert (stars > 100).all()  # the sample's repositories all have ~1k-10k stars
