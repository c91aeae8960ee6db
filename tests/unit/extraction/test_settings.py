"""Tokens from the environment, a file or a mounted Secret; placeholders and absence refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from starcast.extraction.settings import GitHubSettings, TokenError
from starcast.extraction.tokens import TokenPool


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOKEN", "TOKENS", "TOKEN_FILE", "TOKEN_DIR", "API_URL"):
        monkeypatch.delenv(f"STARCAST_GITHUB_{name}", raising=False)


def secrets(settings: GitHubSettings) -> list[str]:
    return [t.get_secret_value() for t in settings.load_tokens()]


def test_tokens_from_every_source_deduplicated_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "tokens.txt"
    token_file.write_text("# ours\nghp_file1\n\nghp_env1\n")
    secret_dir = tmp_path / "secret"
    (secret_dir / "..2025_01_01").mkdir(parents=True)
    (secret_dir / "a-token").write_text("ghp_dir1\n")
    (secret_dir / ".hidden").write_text("ghp_ignored")
    monkeypatch.setenv("STARCAST_GITHUB_TOKEN", "ghp_env1")
    monkeypatch.setenv("STARCAST_GITHUB_TOKENS", "ghp_env2, ghp_env3")
    monkeypatch.setenv("STARCAST_GITHUB_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("STARCAST_GITHUB_TOKEN_DIR", str(secret_dir))

    settings = GitHubSettings()

    assert secrets(settings) == ["ghp_env1", "ghp_env2", "ghp_env3", "ghp_file1", "ghp_dir1"]
    assert "ghp_env1" not in repr(settings) and "ghp_env1" not in str(settings.model_dump())


@pytest.mark.parametrize("placeholder", ["changeme", "<token>", "${GITHUB_TOKEN}", "ghp_xxxx"])
def test_placeholder_tokens_are_refused(placeholder: str) -> None:
    with pytest.raises(TokenError, match="placeholder"):
        GitHubSettings(token=SecretStr(placeholder)).load_tokens()


def test_no_token_says_where_to_put_one() -> None:
    with pytest.raises(TokenError, match="STARCAST_GITHUB_TOKEN_DIR"):
        GitHubSettings().load_tokens()


def test_a_missing_token_file_is_named() -> None:
    with pytest.raises(ValueError, match="does-not-exist"):
        GitHubSettings(token_file=Path("/does-not-exist"))


def test_endpoints_default_from_the_api_url() -> None:
    settings = GitHubSettings(api_url="https://ghe.example.com/api/v3")
    assert settings.graphql_endpoint == "https://ghe.example.com/api/v3/graphql"
    assert settings.rest_root == "https://ghe.example.com/api/v3"


def test_pool_shows_labels_never_secrets() -> None:
    class Clock:
        def time(self) -> float:
            return 0.0

        async def sleep(self, seconds: float) -> None:
            return None

    pool = TokenPool([SecretStr("ghp_verysecret")], Clock())
    assert "ghp_verysecret" not in repr(pool.tokens) and "ghp_verysecret" not in repr(pool.view())
    assert pool.tokens[0].label == "token 1"
