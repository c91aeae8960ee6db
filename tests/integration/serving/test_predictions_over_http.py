"""Predictions end to end: HTTP -> frontend -> RabbitMQ -> Celery worker -> model -> back."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from starcast.artifact import load_artifact
from starcast.serving.lookup import rows_from_frame
from starcast.serving.schemas import RepositoryFeatures
from starcast.serving.wire import PredictBatch
from tests.integration.serving.stack import ServingStack
from tests.support.models import ModelArtifact, sample_dataset

pytestmark = pytest.mark.integration


def sample_repositories(count: int, offset: int = 0) -> list[dict[str, Any]]:
    records = sample_dataset().records.iloc[offset : offset + count]
    rows = rows_from_frame(records)
    return [
        {
            "full_name": str(name),
            "features": RepositoryFeatures.from_row(row).model_dump(exclude_none=True),
        }
        for name, row in zip(records["full_name"], rows, strict=True)
    ]


def expected_stars(model: ModelArtifact, repositories: list[dict[str, Any]]) -> list[float]:
    """What the model predicts in this process for the same features."""
    rows = [RepositoryFeatures.model_validate(r["features"]).to_row() for r in repositories]
    names = sorted({name for row in rows for name in row})
    batch = PredictBatch(
        rows=len(rows), columns={n: [row.get(n) for row in rows] for n in names}, sent_at=0
    )
    return [float(v) for v in load_artifact(model.uri).predict_stars(batch.to_frame())]


def test_one_and_many_repositories_get_the_models_predictions(
    shared_stack: ServingStack, model_artifact: ModelArtifact
) -> None:
    for repositories in (sample_repositories(1), sample_repositories(7, offset=100)):
        answer = httpx.post(
            f"{shared_stack.base_url}/api/v1/predict",
            json={"repositories": repositories},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        predictions = answer.json()["predictions"]
        assert [p["full_name"] for p in predictions] == [r["full_name"] for r in repositories]
        assert {p["model_version"] for p in predictions} == {model_artifact.version}
        assert [p["predicted_stars"] for p in predictions] == pytest.approx(
            expected_stars(model_artifact, repositories), rel=1e-9
        )


def test_a_repository_with_unknown_features_is_still_predicted(
    shared_stack: ServingStack, model_artifact: ModelArtifact
) -> None:
    answer = httpx.post(
        f"{shared_stack.base_url}/api/v1/predict",
        json={"repositories": [{"features": {}}]},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    [prediction] = answer.json()["predictions"]
    assert prediction["full_name"] is None
    assert prediction["predicted_stars"] == pytest.approx(
        expected_stars(model_artifact, [{"features": {}}])[0], rel=1e-9
    )


def test_concurrent_requests_share_batches(shared_stack: ServingStack) -> None:
    repositories = sample_repositories(40, offset=300)

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=shared_stack.base_url, timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.post("/api/v1/predict", json={"repositories": [repository]})
                    for repository in repositories
                )
            )

    before = batch_counts(shared_stack)
    answers = asyncio.run(send_all())
    after = batch_counts(shared_stack)

    assert [a.status_code for a in answers] == [200] * len(repositories)
    for answer, repository in zip(answers, repositories, strict=True):
        assert answer.json()["predictions"][0]["full_name"] == repository["full_name"]
    batches = after["starcast_batch_requests_count"] - before["starcast_batch_requests_count"]
    coalesced = after["starcast_batch_requests_sum"] - before["starcast_batch_requests_sum"]
    assert coalesced == len(repositories)
    assert batches < len(repositories) / 2, f"{len(repositories)} requests took {batches} batches"


def batch_counts(stack: ServingStack) -> dict[str, float]:
    text = httpx.get(f"{stack.base_url}/metrics", timeout=10).text
    return {
        name: float(value)
        for name, value in re.findall(
            r"^(starcast_batch_requests_(?:count|sum)) (\S+)$", text, re.M
        )
    }


def test_predictions_page_shows_actual_and_predicted_stars_and_the_model_version(
    shared_stack: ServingStack, model_artifact: ModelArtifact
) -> None:
    page = httpx.get(f"{shared_stack.base_url}/predictions", timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert model_artifact.version in page.text
    rows = re.findall(r'<td><a href="https://github.com/([^"]+)">', page.text)
    assert len(rows) == 20
    most_starred = sample_dataset().records.sort_values("stars", ascending=False).iloc[0]
    assert rows[0] == most_starred["full_name"]
    assert f"{int(most_starred['stars']):,}" in page.text


def test_welcome_page_and_api_docs(shared_stack: ServingStack) -> None:
    home = httpx.get(f"{shared_stack.base_url}/", timeout=10)
    assert home.status_code == 200
    assert "/predictions" in home.text
    schema = httpx.get(f"{shared_stack.base_url}/openapi.json", timeout=10).json()
    assert "/api/v1/predict" in schema["paths"]
    assert "RepositoryFeatures" in schema["components"]["schemas"]
    assert httpx.get(f"{shared_stack.base_url}/docs", timeout=10).status_code == 200


def test_a_frontend_not_given_the_artifact_asks_a_worker_what_model_it_serves(
    shared_stack: ServingStack, model_artifact: ModelArtifact
) -> None:
    model = httpx.get(f"{shared_stack.base_url}/api/v1/model", timeout=30).json()
    assert model["source"] == "worker"
    assert model["model_version"] == model_artifact.version
    assert model["features"] == load_artifact(model_artifact.uri).manifest.feature_names
    assert model["cross_validation"] is None
    report = httpx.get(f"{shared_stack.base_url}/model/report.png", timeout=30)
    assert report.status_code == 404
    assert "STARCAST_MODEL_URI" in report.json()["detail"]
    home = httpx.get(f"{shared_stack.base_url}/", timeout=30).text
    assert model_artifact.version in home
    assert 'id="report"' not in home


def test_health_readiness_and_metrics(shared_stack: ServingStack) -> None:
    assert httpx.get(f"{shared_stack.base_url}/healthz", timeout=10).json() == {"status": "ok"}
    ready = httpx.get(f"{shared_stack.base_url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["workers"]["ok"] is True
    assert shared_stack.workers[0].hostname in ready.json()["workers"]["detail"]
    httpx.post(f"{shared_stack.base_url}/api/v1/predict", json={"repositories": []}, timeout=10)
    metrics = httpx.get(f"{shared_stack.base_url}/metrics", timeout=10).text
    for series in (
        'starcast_http_requests_total{method="POST",route="/api/v1/predict",status="200"}',
        'starcast_http_request_duration_seconds_bucket{le="0.1",route="/api/v1/predict"}',
        "starcast_queue_wait_seconds_count",
        "starcast_batch_rows_count",
        'starcast_errors_total{kind="validation"}',
    ):
        assert series in metrics, series
