"""What one extraction run collects. Two runs with the same spec are the same run: resumable."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time

from pydantic import BaseModel, ConfigDict, Field, model_validator

from starcast.extraction.slicing import GITHUB_EPOCH, SearchSlice


class RunSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min_stars: int = Field(default=10, ge=0, description="collect repositories with at least this")
    max_stars: int | None = Field(default=None, ge=0, description="and at most this, when set")
    languages: tuple[str, ...] = Field(
        default=(), description="only these primary languages; all when empty"
    )
    created_from: date | None = Field(default=None, description="created on or after this day")
    created_to: date | None = Field(default=None, description="created on or before this day")
    forks: bool = Field(default=True, description="include forks (search leaves them out)")
    contributors: bool = Field(
        default=False, description="also count contributors (one REST request per repository)"
    )

    @model_validator(mode="after")
    def _ranges(self) -> RunSpec:
        if self.max_stars is not None and self.max_stars < self.min_stars:
            raise ValueError(f"max_stars {self.max_stars} is below min_stars {self.min_stars}")
        if self.created_from and self.created_to and self.created_to < self.created_from:
            raise ValueError(f"created_to {self.created_to} is before {self.created_from}")
        return self

    def key(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    def roots(self, now: datetime) -> list[SearchSlice]:
        """The search space, one root per language: what the slicer partitions."""
        start = (
            datetime.combine(self.created_from, time(), UTC) if self.created_from else GITHUB_EPOCH
        )
        end = (
            datetime.combine(self.created_to, time(23, 59, 59), UTC)
            if self.created_to
            else now.replace(microsecond=0)
        )
        return [
            SearchSlice(self.min_stars, self.max_stars, start, end, language, self.forks)
            for language in (self.languages or (None,))
        ]
