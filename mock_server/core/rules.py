"""Every rule a verdict or a refusal can name, in one registry: its name, its severity and what it means.

The code names rules only through this registry (the constants below, or `for_schema` for what the spec's
schemas say), the docs' table of rules is checked against it by a test, and `python -m mock_server.core.rules`
prints that table. A rule's severity says how a verdict holds it:

- `error`: a request the real API would refuse (or, `response-...`, an upstream's answer that breaks the
  contract);
- `warning`: what a careful client would not do, though it is accepted;
- `answer`: a reason the mock answered as it did that is not the client's fault (a scenario, an outcome the
  client chose by its input, an outage): recorded with the answer, never held against the client.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "answer"]
Side = Literal["client", "upstream"]

RULES: dict[str, Rule] = {}


@dataclass(frozen=True)
class Rule:
    name: str
    severity: Severity
    meaning: str
    # Whose fault it names: the client's request, or (behind `kling-mock proxy`) the upstream's answer.
    side: Side = "client"


def _rule(name: str, severity: Severity, meaning: str, side: Side = "client") -> Rule:
    if name in RULES:
        raise ValueError(f"rule {name} registered twice")
    rule = RULES[name] = Rule(name, severity, meaning, side)
    return rule


# Authentication (docs/contract.md, "Headers").
AUTH_MISSING = _rule("auth-missing", "error", "no `Authorization` header, or an empty one (401/1001)")
AUTH_MALFORMED = _rule("auth-malformed", "error", "`Authorization` is not `Bearer <token>` (401/1002)")
AUTH_REJECTED = _rule("auth-rejected", "error", "a key or JWT the server does not accept (401/1000)")
AUTH_NOT_YET_VALID = _rule("auth-not-yet-valid", "error", "a JWT whose `nbf` is in the future (401/1003)")
AUTH_EXPIRED = _rule("auth-expired", "error", "a JWT whose `exp` has passed (401/1004)")

# The body's envelope.
CONTENT_TYPE = _rule("content-type", "error", "`Content-Type` is not `application/json` (400/1200)")
BODY_NOT_JSON = _rule("body-not-json", "error", "the body is empty or not valid JSON (400/1200)")
BODY_TOO_LARGE = _rule("body-too-large", "error", "the body is larger than the spec's limit (400/1200)")
BODY_TOO_DEEP = _rule("body-too-deep", "error", "the body's JSON nests deeper than the spec's limit (400/1200)")

# Where the request went.
UNKNOWN_PATH = _rule("unknown-path", "error", "no such path (404/1203)")
PATH_SPELLING = _rule(
    "path-spelling",
    "error",
    "a path that differs from one of Kling's only by letter case or a trailing slash (404/1203)",
)
WRONG_ENDPOINT = _rule(
    "wrong-endpoint", "error", "a body another operation takes, sent to this one (the seed's request to identify-face)"
)
METHOD = _rule("method", "error", "a known path with a method it does not have (404/1202)")
UNKNOWN_TASK = _rule("unknown-task", "error", "a task that does not exist, or is another caller's (404/1203)")
SCENARIO_HEADER = _rule(
    "scenario-header", "error", "an `X-Kling-Mock-Scenario` or `Prefer` header the mock cannot play (400/1200)"
)

# Advanced lip-sync's rules across fields (docs/contract.md, "Advanced lip-sync"): what they hold against is the
# state of the moment (a session, an audio), so verdicts take them from the answer.
SESSION = _rule("session", "error", "`session_id` names no open session of the caller's: unknown, expired or another's")
FACE = _rule("face", "error", "`face_id` is not a face of the session")
CLIP_LENGTH = _rule("clip-length", "error", "the audio clip (`sound_end_time - sound_start_time`) is shorter than 2 s")
CLIP_PAST_AUDIO = _rule("clip-past-audio", "error", "the audio clip ends after the audio's end")
AUDIO = _rule("audio", "error", "the audio is no mp3, wav, m4a or aac, or does not last 2 to 60 s")
INSERT_PAST_VIDEO = _rule("insert-past-video", "error", "the inserted clip ends after the video's end")
INSERT_OUTSIDE_FACE = _rule(
    "insert-outside-face", "error", "the inserted clip overlaps the face's window by less than 2 s"
)
EXTERNAL_TASK_ID_TAKEN = _rule(
    "external-task-id-taken", "error", "`external_task_id` is another task's of the caller's"
)

# Warnings.
UNKNOWN_FIELD = _rule("unknown-field", "warning", "a field the contract does not name (tolerated: a typo?)")
DEFAULT_RELIED_ON = _rule(
    "default-relied-on", "warning", "a field the provider page marks required left out, relying on its default"
)
UNKNOWN_PARAMETER = _rule("unknown-parameter", "warning", "a query parameter the spec does not name")
POLLING_TOO_FAST = _rule(
    "polling-too-fast", "warning", "the same task polled again sooner than the spec's minimum poll interval"
)

# Answers that are not the client's fault.
SCENARIO = _rule("scenario", "answer", "a scenario chose this answer")
OUTCOME = _rule("outcome", "answer", "the input chose this outcome (a marker such as `no-face`)")
STORE_UNAVAILABLE = _rule("store-unavailable", "answer", "the task store (Redis) could not be reached (503/5001)")
INTERNAL_ERROR = _rule("internal-error", "answer", "the mock failed unexpectedly (500/5000): a bug of the mock")

# The spec's schemas: the JSON Schema keyword that failed, or the name the spec's `x-kling-rules` gives it.
SCHEMA = _rule("schema", "error", "a rule of the spec's schema not named otherwise")
for _keyword, _meaning in {
    "required": "a field the spec requires is missing",
    "type": "a value of the wrong JSON type",
    "enum": "a value outside the spec's list",
    "const": "a value other than the one the spec allows",
    "minLength": "a string shorter than the spec allows",
    "maxLength": "a string longer than the spec allows",
    "minimum": "a number below the spec's minimum",
    "maximum": "a number above the spec's maximum",
    "exclusiveMinimum": "a number not above the spec's bound",
    "exclusiveMaximum": "a number not below the spec's bound",
    "minItems": "an array shorter than the spec allows",
    "maxItems": "an array longer than the spec allows",
    "pattern": "a string that does not match the spec's pattern",
    "format": "a string that is not of the spec's format (a URI, ...)",
    "anyOf": "a value that matches none of the allowed shapes",
    "oneOf": "a value that matches none, or several, of the allowed shapes",
    "not": "a value of a shape the spec forbids",
    "additionalProperties": "a field the spec does not allow",
}.items():
    _rule(_keyword, "error", _meaning)
VIDEO_SOURCE = _rule("video-source", "error", "the video is not given by exactly the fields the dialect wants")
AUDIO_SOURCE = _rule("audio-source", "error", "the audio is not given by exactly one of `audio_id`, `sound_file`")

# An upstream's answers, judged behind `kling-mock proxy`.
RESPONSE_CONTENT_TYPE = _rule("response-content-type", "error", "the answer is not `application/json`", "upstream")
RESPONSE_ENVELOPE = _rule("response-envelope", "error", "the answer's body is not Kling's JSON envelope", "upstream")
RESPONSE_STATUS = _rule(
    "response-status",
    "error",
    "the HTTP status and the business code disagree, or the operation declares no such answer",
    "upstream",
)
RESPONSE_SCHEMA = _rule(
    "response-schema", "error", "the answer breaks the schema the spec declares for its status", "upstream"
)
RESPONSE_REFUSED_VALID_REQUEST = _rule(
    "response-refused-valid-request", "error", "a refusal for a reason the request did not have", "upstream"
)
RESPONSE_ACCEPTED_INVALID_REQUEST = _rule(
    "response-accepted-invalid-request", "warning", "HTTP 200 to a request the contract refuses", "upstream"
)
RESPONSE_NOT_JUDGED = _rule(
    "response-not-judged", "warning", "a Content-Encoding the proxy cannot undo: the body was not judged", "upstream"
)


def for_schema(name: str) -> str:
    """The rule a schema failure names: the keyword (or its `x-kling-rules` name) when registered, else `schema`."""
    return name if name in RULES else SCHEMA.name


def markdown_table() -> str:
    """The docs' table of rules (docs/journal.md), one row per rule, as a test checks it."""
    rows = ["| rule | severity | side | meaning |", "| --- | --- | --- | --- |"]
    rows += [f"| `{rule.name}` | {rule.severity} | {rule.side} | {rule.meaning} |" for rule in RULES.values()]
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(markdown_table() + "\n")
