from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from plandeck.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from plandeck.errors import InvalidInput
from tests.factories.accounts import PASSWORD, PASSWORD_HASH


class TestHashPassword:
    def test_hash_is_argon2id(self) -> None:
        assert PASSWORD_HASH.startswith("$argon2id$")

    def test_hash_does_not_contain_the_password(self) -> None:
        assert PASSWORD not in PASSWORD_HASH

    def test_same_password_hashes_differently_each_time(self) -> None:
        assert hash_password(PASSWORD) != PASSWORD_HASH, "each hash needs its own salt"


class TestVerifyPassword:
    def test_right_password_verifies(self) -> None:
        assert verify_password(PASSWORD_HASH, PASSWORD) is True

    @pytest.mark.parametrize(
        "attempt",
        ["correct horse battery ", "Correct horse battery", "", PASSWORD_HASH],
        ids=["trailing-space", "other-case", "empty", "the-hash-itself"],
    )
    def test_wrong_password_is_false(self, attempt: str) -> None:
        assert verify_password(PASSWORD_HASH, attempt) is False

    @pytest.mark.parametrize(
        "stored",
        [
            "",
            "not a hash",
            PASSWORD,
            "$argon2id$garbage",
            PASSWORD_HASH[:-12],
            PASSWORD_HASH.replace("$argon2id$", "$argon2i$"),
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        ],
        ids=[
            "empty",
            "text",
            "plain-password",
            "argon2-prefix-only",
            "truncated",
            "wrong-variant",
            "bcrypt",
        ],
    )
    def test_malformed_hash_is_false_not_an_error(self, stored: str) -> None:
        assert verify_password(stored, PASSWORD) is False


class TestNeedsRehash:
    def test_current_parameters_need_no_rehash(self) -> None:
        assert needs_rehash(PASSWORD_HASH) is False

    def test_weaker_parameters_need_rehash(self) -> None:
        weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
        assert needs_rehash(weak) is True


class TestPasswordPolicy:
    def test_minimum_length_is_accepted(self) -> None:
        check_password_policy("a" * MIN_PASSWORD_LENGTH)

    def test_maximum_length_is_accepted(self) -> None:
        check_password_policy("a" * MAX_PASSWORD_LENGTH)

    def test_too_short_is_refused(self) -> None:
        with pytest.raises(InvalidInput, match="at least 8 characters") as info:
            check_password_policy("a" * (MIN_PASSWORD_LENGTH - 1))
        assert info.value.extra == {"field": "password"}

    def test_empty_is_refused_as_too_short(self) -> None:
        with pytest.raises(InvalidInput, match="at least 8 characters"):
            check_password_policy("")

    def test_too_long_is_refused(self) -> None:
        with pytest.raises(InvalidInput, match="at most 1024 characters") as info:
            check_password_policy("a" * (MAX_PASSWORD_LENGTH + 1))
        assert info.value.extra == {"field": "password"}

    @pytest.mark.parametrize("blank", [" " * 8, " \t  \n   ", "\u3000" * 10])
    def test_only_spaces_is_refused(self, blank: str) -> None:
        with pytest.raises(InvalidInput, match="must not be only spaces"):
            check_password_policy(blank)

    @pytest.mark.parametrize(
        "password", ["ada@example.com", "ADA@Example.com", "  ada@example.com  "]
    )
    def test_equal_to_email_is_refused(self, password: str) -> None:
        with pytest.raises(InvalidInput, match="must not be the email address"):
            check_password_policy(password, email="Ada@example.com")

    def test_containing_the_email_is_accepted(self) -> None:
        check_password_policy("ada@example.com!", email="ada@example.com")

    def test_email_rule_is_skipped_without_an_email(self) -> None:
        check_password_policy("ada@example.com", email=None)
