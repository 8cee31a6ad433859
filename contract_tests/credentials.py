"""The suite's credentials: a static API key, or Kling's access and secret keys, signed into JWTs.

Nothing here is ever printed: `placeholders()` lists every value the reports must blank, the
tokens issued so far among them, each with the variable a reproduction names instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import jwt

from mock_server.validation import JWT_ALGORITHM

API_KEY_ENV = "KLING_API_KEY"
# A second caller's key, optional: with it, the suite checks that callers cannot see each other's tasks.
SECOND_API_KEY_ENV = "KLING_API_KEY_2"
ACCESS_KEY_ENV = "KLING_ACCESS_KEY"
SECRET_KEY_ENV = "KLING_SECRET_KEY"
# Kling's own example: valid for 30 minutes from 5 seconds ago (a little slack for the server's clock).
TOKEN_LIFETIME_S = 1800
NOT_BEFORE_SLACK_S = 5
# A token is renewed this long before it expires, so that no request carries one about to lapse.
RENEW_BEFORE_S = 300


class CredentialsMissing(Exception):
    """Neither an API key nor an access/secret key pair is set."""


@dataclass
class Credentials:
    # Out of the dataclass's repr: a repr in a traceback or a report must not show them.
    api_key: str = field(default="", repr=False)
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    second_api_key: str = field(default="", repr=False)
    clock: Callable[[], float] = time.time
    _token: str = field(default="", repr=False)
    _expires_at: float = field(default=0.0, repr=False)
    _issued: list[str] = field(default_factory=list, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Credentials:
        """A key pair wins over a static key: it is what Kling's API is used with."""
        access_key, secret_key = env.get(ACCESS_KEY_ENV, ""), env.get(SECRET_KEY_ENV, "")
        if bool(access_key) != bool(secret_key):
            raise CredentialsMissing(f"set both ${ACCESS_KEY_ENV} and ${SECRET_KEY_ENV}, or neither")
        if not (access_key or env.get(API_KEY_ENV)):
            raise CredentialsMissing(f"set ${API_KEY_ENV}, or ${ACCESS_KEY_ENV} and ${SECRET_KEY_ENV}")
        return cls(
            api_key="" if access_key else env.get(API_KEY_ENV, ""),
            access_key=access_key,
            secret_key=secret_key,
            second_api_key=env.get(SECOND_API_KEY_ENV, ""),
        )

    @property
    def kind(self) -> str:
        """How the suite authenticates, for output: names of variables, never their values."""
        if self.access_key:
            return f"HS256 JWTs signed from ${ACCESS_KEY_ENV} and ${SECRET_KEY_ENV}, renewed before they expire"
        return f"the static key in ${API_KEY_ENV}"

    def token(self) -> str:
        """The bearer token to send now: the API key, or a JWT with more than `RENEW_BEFORE_S` left."""
        if not self.access_key:
            return self.api_key
        now = self.clock()
        if not self._token or now >= self._expires_at - RENEW_BEFORE_S:
            self._expires_at = now + TOKEN_LIFETIME_S
            claims = {"iss": self.access_key, "exp": int(self._expires_at), "nbf": int(now) - NOT_BEFORE_SLACK_S}
            self._token = jwt.encode(claims, self.secret_key, algorithm=JWT_ALGORITHM)
            self._issued.append(self._token)
            if os.environ.get("GITHUB_ACTIONS") == "true":
                # GitHub masks the repository's secrets in its logs, not tokens made from them: ask it to.
                print(f"::add-mask::{self._token}", flush=True)
        return self._token

    def placeholders(self) -> dict[str, str]:
        """Every value no output may show (the keys, the secret, each token issued so far), each with
        the shell variable a reproduction names in its place."""
        pairs = [
            (self.access_key, "$" + ACCESS_KEY_ENV),
            (self.secret_key, "$" + SECRET_KEY_ENV),
            (self.second_api_key, "$" + SECOND_API_KEY_ENV),
            (self.api_key, "$KLING_TOKEN"),
            *((token, "$KLING_TOKEN") for token in self._issued),
        ]
        return {value: placeholder for value, placeholder in pairs if value}
