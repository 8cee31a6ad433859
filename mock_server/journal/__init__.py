"""The journal: the requests a mock (or a proxy) received, each with its verdict against the spec.

`entries` is what is kept and how secrets are kept out of it, `verdict` the result of judging one,
`judge` judges a request as the mock would have, `answers` judges an upstream's answer (the proxy's),
`memory` keeps entries in this process; `storage.redis` keeps them in Redis for many.
"""

from .answers import ResponseJudge
from .entries import (
    BODY_KEPT_BYTES,
    DEFAULT_JOURNAL_SIZE,
    Entry,
    EntryJudge,
    JournalSnapshot,
    JournalStore,
    Recording,
    UpstreamAnswer,
    credentials,
    keep,
    read_headers,
)
from .judge import Judge
from .memory import Journal
from .verdict import Verdict, redacted_finding

__all__ = [
    "BODY_KEPT_BYTES",
    "DEFAULT_JOURNAL_SIZE",
    "Entry",
    "EntryJudge",
    "Journal",
    "JournalSnapshot",
    "JournalStore",
    "Judge",
    "Recording",
    "ResponseJudge",
    "UpstreamAnswer",
    "Verdict",
    "credentials",
    "keep",
    "read_headers",
    "redacted_finding",
]
