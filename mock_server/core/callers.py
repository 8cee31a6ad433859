"""Callers as the kit knows them: by a digest of their token, never the token itself.

A caller owns what it creates (tasks, sessions); the journal and the admin API show it by a short
fingerprint of that digest. The client side (the pytest plugin) computes the same fingerprint to find its
own entries, which is why this lives at the bottom.
"""

from __future__ import annotations

import hashlib
import sys


def token_digest(token: str) -> str:
    """A caller's identity: its token's SHA-256, hex. Interned: every task of a caller shares one string."""
    return sys.intern(hashlib.sha256(token.encode()).hexdigest())


def caller_fingerprint(token_digest: str) -> str:
    """A caller as the journal shows it: enough of its token's digest to tell callers apart, nothing more."""
    return token_digest[:12]
