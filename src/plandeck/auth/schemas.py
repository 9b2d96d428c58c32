from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, EmailStr, Field, field_validator

from plandeck.kit.schemas import InputSchema, NonEmptyStr, Schema
from plandeck.models import TokenScope


class UserCreate(InputSchema):
    email: EmailStr
    name: Annotated[NonEmptyStr, Field(max_length=200)]
    password: str
    locale: Annotated[str, Field(pattern=r"^(en|fa)$")] = "en"

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class UserUpdate(InputSchema):
    name: Annotated[NonEmptyStr, Field(max_length=200)] | None = None
    locale: Annotated[str, Field(pattern=r"^(en|fa)$")] | None = None
    is_active: bool | None = None


class User(Schema):
    id: int
    email: str
    name: str
    locale: str
    is_active: bool
    created_at: datetime


class ApiTokenCreate(InputSchema):
    name: Annotated[NonEmptyStr, Field(max_length=200)]
    scopes: list[TokenScope] = Field(default_factory=lambda: [TokenScope.READ])
    # A naive time cannot be compared with now or stored (UTCDateTime refuses it).
    expires_at: AwareDatetime | None = None


class ApiToken(Schema):
    id: int
    name: str
    prefix: str
    scopes: list[TokenScope]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
