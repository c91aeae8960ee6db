"""Settings errors as a user reads them: one line per bad setting, naming its option and variable.

pydantic's own text (a header, `[type=...]`, a URL, "Value error, ") is for developers; every
command that reads STARCAST_* settings says what to fix with this instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


def settings_error(
    error: ValidationError, option_of: Mapping[str, str], *, show_input: bool = True
) -> str:
    """One `error: --option / STARCAST_NAME: what is wrong (got value)` line per bad setting.

    `option_of` maps a settings field to the command's option that sets it; a field without
    one is named by its variable only. A model-level problem (no field) names no variable.
    `show_input=False` for settings that hold secrets: the value given is never echoed.
    """
    lines = []
    for problem in error.errors(include_url=False):
        message = str(problem["msg"]).removeprefix("Value error, ")
        if not problem["loc"]:  # a model validator's own words name what to set
            lines.append(f"error: {message}")
            continue
        name = str(problem["loc"][0])
        option = option_of.get(name)
        variable = f"STARCAST_{name.upper()}"
        where = f"{option} / {variable}" if option else variable
        got = f" (got {problem.get('input')!r})" if show_input else ""
        lines.append(f"error: {where}: {message}{got}")
    return "\n".join(lines)
