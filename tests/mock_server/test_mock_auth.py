"""Fast unit tests of `mock_server.auth.BearerAuth`: the codes of CONTRACT.md section 1, without a server."""

from __future__ import annotations

import pytest

from mock_server.auth import BearerAuth, token_digest
from mock_server.errors import BusinessCode, KlingError


def refusal(auth: BearerAuth, header: str | None) -> KlingError:
    with pytest.raises(KlingError) as caught:
        auth.authenticate(header)
    return caught.value


@pytest.mark.parametrize("header", [None, "", "   ", "\t"], ids=["absent", "empty", "spaces", "tab"])
def test_missing_is_1001(header: str | None) -> None:
    error = refusal(BearerAuth(), header)
    assert error.code == BusinessCode.AUTH_MISSING
    assert error.message.startswith("Authorization:")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Token abc",
        "Basic dXNlcjpwYXNzd29yZA==",
        "abc",
        "Bearer a b",
        "Bearer\tabc",
        "BearerX abc",
    ],
)
def test_malformed_is_1002(header: str) -> None:
    error = refusal(BearerAuth(), header)
    assert error.code == BusinessCode.AUTH_MALFORMED
    assert error.message == "Authorization: must be 'Bearer <token>'"


@pytest.mark.parametrize(
    "header", ["Bearer abc", "bearer abc", "BEARER abc", "  Bearer   abc  ", "Bearer " + "t" * 10_000]
)
def test_any_non_empty_token_is_accepted_by_default(header: str) -> None:
    """The scheme is case-insensitive (RFC 9110), surrounding whitespace is not part of the token."""
    auth = BearerAuth()
    assert not auth.checks_keys
    token = header.strip().split()[-1]
    assert auth.authenticate(header) == token_digest(token)


def test_the_caller_is_known_by_a_digest_not_the_token() -> None:
    auth = BearerAuth()
    first, second = auth.authenticate("Bearer key-one"), auth.authenticate("Bearer key-two")
    assert first != second
    assert "key-one" not in first
    assert auth.authenticate("Bearer key-one") == first


def test_with_keys_only_those_are_accepted() -> None:
    auth = BearerAuth(["key-one", "key-two"])
    assert auth.checks_keys
    assert auth.authenticate("Bearer key-two") == token_digest("key-two")
    error = refusal(auth, "Bearer key-three")
    assert error.code == BusinessCode.AUTH_FAILED
    assert "key-three" not in error.message


def test_with_keys_missing_and_malformed_keep_their_codes() -> None:
    """1001 and 1002 are about the header's shape, checked before the key."""
    auth = BearerAuth(["key-one"])
    assert refusal(auth, None).code == BusinessCode.AUTH_MISSING
    assert refusal(auth, "Token key-one").code == BusinessCode.AUTH_MALFORMED


def test_empty_keys_are_ignored() -> None:
    """An empty configured key must not turn key checking on (nor be a key anyone could send)."""
    assert not BearerAuth([""]).checks_keys
    assert BearerAuth(["", "k"]).checks_keys


@pytest.mark.parametrize("header", ["Token sk-live-secret", "Bearer sk-live-secret extra", "Bearer sk-live-secret"])
def test_messages_never_echo_the_token(header: str) -> None:
    error = refusal(BearerAuth(["another-key"]), header)
    assert "sk-live-secret" not in error.message
