"""Password hashing (argon2id) and the minimum password policy."""

from __future__ import annotations

import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from plandeck.errors import InvalidInput

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

# argon2id with the library's recommended parameters. PLANDECK_PASSWORD_HASHING=fast trades
# that strength for speed in test suites that create many accounts; production refuses it
# (config.py). Hashes record their parameters, so either setting verifies both kinds.
_hasher = (
    PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    if os.environ.get("PLANDECK_PASSWORD_HASHING") == "fast"
    else PasswordHasher()
)


def check_password_policy(password: str, *, email: str | None = None) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters",
            field="password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password must have at most {MAX_PASSWORD_LENGTH} characters",
            field="password",
        )
    if not password.strip():
        raise InvalidInput("the password must not be only spaces", field="password")
    if email and password.strip().lower() == email.strip().lower():
        raise InvalidInput("the password must not be the email address", field="password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
