"""Authentication as docs/contract.md settles it: bearer keys, and Kling's HS256 JWTs.

Tokens are never kept or logged: a caller is known by a digest of its token, or, for a JWT, of
the access key it was signed for, which is also what owns the tasks it creates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import jwt

from ..core import rules
from ..core.callers import token_digest
from ..core.errors import BusinessCode, KlingError
from ..core.rules import Rule

_HEADER = "header.Authorization"
# Kling signs with HS256 only; accepting whatever `alg` a token names would let it choose `none`.
JWT_ALGORITHM = "HS256"
# A token that never expires is not one Kling issues: `exp` is required, `nbf` checked when present.
_REQUIRED_CLAIMS = ["iss", "exp"]


def _rejected(message: str, code: int = BusinessCode.AUTH_FAILED, rule: Rule = rules.AUTH_REJECTED) -> KlingError:
    return KlingError(code, f"Authorization: {message}", rule=rule, path=_HEADER)


class BearerAuth:
    """Accepts any non-empty bearer token, or, when configured, only the given keys and JWTs
    signed with a known access key's secret."""

    def __init__(self, keys: Iterable[str] = (), key_pairs: Mapping[str, str] | None = None) -> None:
        self._accepted = frozenset(token_digest(key) for key in keys if key)
        # Access key → secret key.
        self._secrets = dict(key_pairs or {})

    @property
    def checks_keys(self) -> bool:
        return bool(self._accepted or self._secrets)

    def authenticate(self, header: str | None) -> str:
        """The caller's identity (a digest), or `KlingError` with the contract's code."""
        if header is None or not header.strip():
            raise KlingError(
                BusinessCode.AUTH_MISSING,
                "Authorization: header is missing or empty",
                rule=rules.AUTH_MISSING,
                path=_HEADER,
            )
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise KlingError(
                BusinessCode.AUTH_MALFORMED,
                "Authorization: must be 'Bearer <token>'",
                rule=rules.AUTH_MALFORMED,
                path=_HEADER,
            )
        owner = token_digest(token)
        if not self.checks_keys or owner in self._accepted:
            return owner
        if self._secrets:
            return token_digest(self._access_key(token))
        raise _rejected("the token is not accepted")

    def _access_key(self, token: str) -> str:
        """The access key a valid JWT was signed for; its signature is checked before its times."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise _rejected("the token is neither an accepted key nor a JWT") from None
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or issuer not in self._secrets:
            raise _rejected("the JWT's iss is not a known access key")
        try:
            jwt.decode(token, self._secrets[issuer], algorithms=[JWT_ALGORITHM], options={"require": _REQUIRED_CLAIMS})
        except jwt.ExpiredSignatureError:
            raise _rejected("the JWT has expired (exp)", BusinessCode.TOKEN_EXPIRED, rules.AUTH_EXPIRED) from None
        except jwt.ImmatureSignatureError:
            raise _rejected(
                "the JWT is not valid yet (nbf)", BusinessCode.TOKEN_NOT_YET_VALID, rules.AUTH_NOT_YET_VALID
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            raise _rejected(f"the JWT has no {exc.claim} claim") from None
        except jwt.InvalidAlgorithmError:
            raise _rejected(f"the JWT must be signed with {JWT_ALGORITHM}") from None
        except jwt.InvalidSignatureError:
            raise _rejected("the JWT's signature does not verify with its access key's secret") from None
        # PyJWT verifies the signature before any claim: naming the claim below tells a forger nothing.
        except jwt.InvalidAudienceError:
            raise _rejected("the JWT names an aud, and this API accepts no audience claim") from None
        except jwt.InvalidIssuedAtError:
            raise _rejected(f"the JWT's iat {_NOT_A_TIME}") from None
        except (jwt.DecodeError, TypeError, OverflowError):
            # PyJWT says only DecodeError when a time claim is no integer (older ones let a TypeError or an
            # OverflowError escape), and not which: the claims say.
            raise _rejected(_time_claim_problem(claims)) from None
        except jwt.InvalidTokenError:
            # Newer PyJWTs check more (sub, jti), with classes older ones do not have.
            raise _rejected("the JWT has a claim the mock cannot accept") from None
        return issuer


_NOT_A_TIME = "is not an integer (seconds since the epoch)"


def _time_claim_problem(claims: Mapping[str, object]) -> str:
    """Which time claim PyJWT could not read as an integer, checked in the order it checks them."""
    for claim in ("iat", "nbf", "exp"):
        if claim in claims and not _is_integer(claims[claim]):
            return f"the JWT's {claim} {_NOT_A_TIME}"
    return "the JWT's claims cannot be read"


def _is_integer(value: object) -> bool:
    """As PyJWT reads a time claim: anything `int()` takes (an int, a float, a numeric string)."""
    try:
        int(value)  # type: ignore[call-overload]
    except (ValueError, TypeError, OverflowError):
        return False
    return True
