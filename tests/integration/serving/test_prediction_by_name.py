"""Prediction by owner/name through the lookup seam, with the real queue and worker behind it.

GitHub can't be reached from here; the lookup answers with records shaped as the extractor
stores them, which is all the frontend asks of a GitHub client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import pytest

from starcast.features import RECORD_COLUMNS
from starcast.serving.app import create_app
from starcast.serving.lookup import RepositoryLookup, rows_from_records
from starcast.serving.schemas import RepositoryFeatures
from starcast.serving.settings import FrontendSettings
from tests.integration.serving.stack import ServingStack
from tests.integration.serving.test_predictions_over_http import expected_stars
from tests.support.models import ModelArtifact, sample_dataset

pytestmark = pytest.mark.integration


class RecordsLookup:
    def __init__(self, records: Mapping[str, Mapping[str, Any]]) -> None:
        self._records = records
        self.asked: list[list[str]] = []

    async def records(self, full_names: Sequence[str]) -> Mapping[str, Mapping[str, Any]]:
        self.asked.append(list(full_names))
        return {name: self._records[name] for name in full_names if name in self._records}


def ask(
    stack: ServingStack, lookup: RepositoryLookup | None, body: dict[str, Any]
) -> httpx.Response:
    settings = FrontendSettings(
        broker_url=stack.broker_url, queue=stack.queue, github_token="ghp_" + "x" * 36
    )
    app = create_app(settings, lookup=lookup)

    async def send() -> httpx.Response:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://frontend") as http:
                return await http.post("/api/v1/predict", json=body, timeout=30)

    return asyncio.run(send())


def test_a_repository_named_by_owner_and_name_is_looked_up_and_predicted(
    shared_stack: ServingStack, model_artifact: ModelArtifact
) -> None:
    record = sample_dataset().records.iloc[42]
    name = str(record["full_name"])
    lookup = RecordsLookup({name: {column: record[column] for column in RECORD_COLUMNS}})
    answer = ask(shared_stack, lookup, {"repositories": [{"full_name": name}, {"features": {}}]})
    assert answer.status_code == 200, answer.text
    named, anonymous = answer.json()["predictions"]
    assert lookup.asked == [[name]]
    assert named["full_name"] == name
    assert named["model_version"] == model_artifact.version
    [row] = rows_from_records([{column: record[column] for column in RECORD_COLUMNS}])
    features = RepositoryFeatures.model_validate(row).model_dump(exclude_none=True)
    assert named["predicted_stars"] == pytest.approx(
        expected_stars(model_artifact, [{"features": features}])[0], rel=1e-9
    )
    assert anonymous["full_name"] is None


def test_a_name_github_does_not_know_is_refused_naming_it(shared_stack: ServingStack) -> None:
    answer = ask(
        shared_stack,
        RecordsLookup({}),
        {"repositories": [{"features": {}}, {"full_name": "nobody/nothing"}]},
    )
    assert answer.status_code == 422
    [problem] = answer.json()["problems"]
    assert problem["field"] == "repositories[1].full_name"
    assert "GitHub has no repository 'nobody/nothing'" in problem["problem"]


def test_a_token_without_a_github_client_is_a_clear_501(shared_stack: ServingStack) -> None:
    answer = ask(shared_stack, None, {"repositories": [{"full_name": "pallets/flask"}]})
    assert answer.status_code == 501
    assert "without a GitHub client" in answer.json()["detail"]
