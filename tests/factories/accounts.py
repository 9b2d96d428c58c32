from __future__ import annotations

import itertools

from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.passwords import hash_password
from plandeck.models import User

PASSWORD = "correct horse battery"
# Hashing once keeps argon2's deliberate slowness out of every test that needs a user.
PASSWORD_HASH = hash_password(PASSWORD)
_numbers = itertools.count(1)


async def make_user(session: AsyncSession, *, name: str | None = None, **fields: object) -> User:
    number = next(_numbers)
    user = User(
        email=str(fields.pop("email", f"user{number}@example.com")),
        name=name or f"User {number}",
        password_hash=PASSWORD_HASH,
        **fields,
    )
    session.add(user)
    await session.flush()
    return user
