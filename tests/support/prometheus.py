"""A real Prometheus for the tests: Debian's `prometheus` on loopback, scraping given targets.

Its own config, data dir and free port under pytest's tmp; scrapes every second so a test
sees fresh series within a few seconds. It fails, never skips, when prometheus is missing:
`make system-deps` installs it.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from starcast.up.processes import ManagedProcess, free_port, wait_until

SCRAPE_INTERVAL: str = "1s"


@dataclass
class PrometheusServer:
    url: str
    process: ManagedProcess

    def query(self, promql: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        answer.raise_for_status()
        result: list[dict[str, Any]] = answer.json()["data"]["result"]
        return result

    def stop(self) -> None:
        self.process.stop(20)


def start_prometheus(base_dir: Path, targets: Sequence[str]) -> PrometheusServer:
    """Prometheus scraping `targets` (host:port of /metrics endpoints), ready to query."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run `make system-deps`", pytrace=False)
    base_dir.mkdir(parents=True, exist_ok=True)
    config = base_dir / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": "1s"},
                "scrape_configs": [
                    {"job_name": "starcast", "static_configs": [{"targets": list(targets)}]}
                ],
            }
        )
    )
    port = free_port()
    process = ManagedProcess(
        "prometheus",
        [binary, f"--config.file={config}", f"--storage.tsdb.path={base_dir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        {},
        base_dir / "prometheus.log",
    )  # fmt: skip
    process.start()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/-/ready", timeout=2).status_code == httpx.codes.OK
        except httpx.HTTPError:
            return False

    wait_until(ready, "Prometheus ready", [process], timeout_s=60)
    return PrometheusServer(url, process)
