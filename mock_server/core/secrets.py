"""Blanking secrets wherever a request repeated them: as sent, URL-encoded or JSON-escaped.

The journal, the access log, the contract suite's reports and the proxy all show what clients sent;
none of them may show a token. They share these functions.
"""

from __future__ import annotations

import functools
import json
import re
from urllib.parse import quote, quote_plus

REDACTED = "<redacted>"


def blank(data: bytes, secrets: tuple[str, ...]) -> bytes:
    """`blank_text` for bytes: a body may be any bytes; latin-1 maps each to one character and back."""
    for secret in secrets:
        # Latin-1 maps characters to bytes one to one, so the secret's core is found in the bytes as well:
        # a body without any (the usual case) is not decoded at all.
        if secret_spellings(secret)[0].encode("latin-1") in data:
            break
    else:
        return data
    text = data.decode("latin-1")
    shown = blank_text(text, secrets)
    return data if shown == text else shown.encode("latin-1")


def blank_text(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every spelling of each secret replaced by `<redacted>`: as is, URL-encoded, JSON-escaped."""
    for secret in secrets:
        core, spellings = secret_spellings(secret)
        if core in text:
            for spelling in spellings:
                text = text.replace(spelling, REDACTED)
    return text


@functools.lru_cache(maxsize=1024)
def secret_spellings(secret: str) -> tuple[str, tuple[str, ...]]:
    """The ways a request may spell `secret`, longest first, and a run of it that every spelling keeps.

    Encodings escape punctuation but leave letters and digits alone, so the longest run of those is
    in every spelling: when it is absent, so is the secret, and the common case costs one search.
    """
    runs = re.findall(r"[A-Za-z0-9]+", secret) or [secret]
    core = max(runs, key=len)
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret, safe="/"),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
    }
    return core, tuple(sorted(forms, key=len, reverse=True))
