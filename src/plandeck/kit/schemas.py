"""Pydantic base classes: strict input (unknown fields refused), reads from ORM objects."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InputSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    def changes(self) -> dict[str, Any]:
        """The fields the caller actually sent (``exclude_unset``), minus the expected version."""
        return self.model_dump(exclude_unset=True, exclude={"version"})


NonEmptyStr = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
