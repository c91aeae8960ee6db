"""One rule for placeholder secrets: every setting that holds a token refuses the same values."""

import pytest
from pydantic import SecretStr, ValidationError

from starcast.extraction.settings import GitHubSettings, TokenError
from starcast.placeholders import is_placeholder
from starcast.serving.settings import FrontendSettings

PLACEHOLDERS = [
    "changeme",
    "CHANGE-ME",
    "<token>",
    "${GITHUB_TOKEN}",
    "{{ .Values.token }}",
    "ghp_xxxx",
    "github_pat_...",
    "your-token-here",
    "placeholder",
    "xxx",
    "...",
]
REAL = ["ghp_16C7e42F292c6912E7710c838347Ae178B4a", "github_pat_11ABCDEFG0123456789_abcdef"]


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_the_extractor_and_the_frontend_refuse_the_same_placeholders(value: str) -> None:
    assert is_placeholder(value)
    with pytest.raises(TokenError, match="placeholder"):
        GitHubSettings(token=SecretStr(value)).load_tokens()
    with pytest.raises(ValidationError, match="placeholder"):
        FrontendSettings(broker_url="amqp://u:p@h//", github_token=value)


@pytest.mark.parametrize("value", REAL)
def test_real_looking_tokens_pass_both(value: str) -> None:
    assert not is_placeholder(value)
    assert GitHubSettings(token=SecretStr(value)).load_tokens()[0].get_secret_value() == value
    settings = FrontendSettings(broker_url="amqp://u:p@h//", github_token=value)
    assert settings.github_token is not None
