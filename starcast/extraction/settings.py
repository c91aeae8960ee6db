"""How the extractor reaches GitHub: endpoints, tokens and the pace it keeps (`STARCAST_GITHUB_*`).

Tokens come from the environment (`STARCAST_GITHUB_TOKEN`, or several in `STARCAST_GITHUB_TOKENS`
separated by commas or whitespace), from a file with one token a line
(`STARCAST_GITHUB_TOKEN_FILE`), or from a mounted Kubernetes Secret, one token per key
(`STARCAST_GITHUB_TOKEN_DIR`). They are held as `SecretStr` and never printed, logged or stored.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from starcast.github import GITHUB_API_URL
from starcast.placeholders import is_placeholder


class TokenError(ValueError):
    """No usable GitHub token; the message says where tokens are read from."""


class GitHubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STARCAST_GITHUB_", extra="ignore")

    api_url: AnyHttpUrl = Field(
        default=AnyHttpUrl(GITHUB_API_URL),
        description="REST API root; GitHub Enterprise Server: https://HOST/api/v3",
    )
    graphql_url: AnyHttpUrl | None = Field(
        default=None,
        description="GraphQL endpoint; default: {api_url}/graphql (GHES: https://HOST/api/graphql)",
    )
    token: SecretStr | None = Field(default=None, description="one token")
    tokens: SecretStr | None = Field(
        default=None, description="several tokens separated by commas or whitespace"
    )
    token_file: Path | None = Field(default=None, description="a file with one token a line")
    token_dir: Path | None = Field(
        default=None, description="a mounted Secret: every key (file) in it holds one token"
    )
    max_concurrency: int = Field(
        default=2,
        ge=1,
        le=100,
        description="requests in flight at once (GitHub allows 100 and asks for few)",
    )
    request_timeout_seconds: float = Field(default=60.0, gt=0, description="per request")
    max_attempts: int = Field(
        default=4, ge=1, description="tries of one request on 502/504, timeouts and bad bodies"
    )
    backoff_seconds: float = Field(
        default=2.0, ge=0, description="first wait after a failure; doubles with each attempt"
    )
    secondary_wait_seconds: float = Field(
        default=60.0,
        ge=0,
        description="wait after a secondary limit without Retry-After (GitHub: at least a minute); "
        "doubles while the limit goes on, up to secondary_max_wait_seconds",
    )
    secondary_max_wait_seconds: float = Field(
        default=600.0, ge=0, description="longest wait after one secondary limit"
    )
    secondary_attempts: int = Field(
        default=8,
        ge=1,
        description="tries of one request that keeps meeting a secondary limit, then the run "
        "stops with an error (it resumes where it stopped)",
    )
    reset_margin_seconds: float = Field(
        default=1.0, ge=0, description="extra wait past a rate-limit reset"
    )
    node_attempts: int = Field(
        default=3, ge=1, description="tries of one repository whose fields keep failing"
    )
    user_agent: str = Field(default="starcast-extract", description="GitHub requires one")

    @field_validator("token_file", "token_dir")
    @classmethod
    def _exists(cls, path: Path | None) -> Path | None:
        if path is not None and not path.exists():
            raise ValueError(f"{path} does not exist")
        return path

    @property
    def graphql_endpoint(self) -> str:
        if self.graphql_url is not None:
            return str(self.graphql_url)
        return f"{str(self.api_url).rstrip('/')}/graphql"

    @property
    def rest_root(self) -> str:
        return str(self.api_url).rstrip("/")

    def load_tokens(self) -> list[SecretStr]:
        """Every distinct token from every source, in a stable order; at least one."""
        raw: list[tuple[str, str]] = []
        if self.token is not None:
            raw.append(("STARCAST_GITHUB_TOKEN", self.token.get_secret_value()))
        if self.tokens is not None:
            raw.extend(
                ("STARCAST_GITHUB_TOKENS", t)
                for t in re.split(r"[\s,]+", self.tokens.get_secret_value())
            )
        if self.token_file is not None:
            for line in self.token_file.read_text().splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    raw.append((str(self.token_file), line))
        if self.token_dir is not None:
            # Secret volumes hold `..data` and timestamped folders next to the key symlinks.
            for key in sorted(self.token_dir.iterdir()):
                if not key.name.startswith(".") and key.is_file():
                    raw.append((str(key), key.read_text()))
        found: list[SecretStr] = []
        for source, value in raw:
            value = value.strip()
            if not value:
                continue
            if is_placeholder(value):
                raise TokenError(f"the token from {source} is a placeholder; set a real token")
            if any(value == t.get_secret_value() for t in found):
                continue
            found.append(SecretStr(value))
        if not found:
            raise TokenError(
                "no GitHub token: set STARCAST_GITHUB_TOKEN (or STARCAST_GITHUB_TOKENS), "
                "STARCAST_GITHUB_TOKEN_FILE, or STARCAST_GITHUB_TOKEN_DIR (a mounted Secret)"
            )
        return found
