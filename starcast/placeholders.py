"""Secrets pasted from an example: one rule for every setting that holds a token or password.

A value like `changeme`, `<token>` or `ghp_xxxx` is a mistake, not a credential: a deployable
refuses it at start-up, saying which setting to fix, instead of failing later at GitHub or the
broker with an authentication error that names nothing.
"""

from __future__ import annotations

import re
from typing import Final

PLACEHOLDER: Final = re.compile(
    r"^("
    r"changeme|change[-_ ]me|placeholder|secret|password|token|todo|tbd|none|null"
    r"|your[-_ ]?(token|secret|password).*"
    r"|<.*>|\$\{.*\}|\{\{.*\}\}"  # <token>, ${TOKEN}, {{ token }}
    r"|x+|\*+|\.\.\.|(ghp_|github_pat_)(x+|\.\.\.)"
    r")$",
    re.IGNORECASE,
)


def is_placeholder(value: str) -> bool:
    """Whether `value` is empty or a placeholder (case and surrounding blanks ignored)."""
    return not value.strip() or PLACEHOLDER.match(value.strip()) is not None
